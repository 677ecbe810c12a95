import { existsSync } from 'node:fs';
import { isIP } from 'node:net';
import { defineModule, MiError, type Engine, type Logger, type MiCommand, type ProfileQuery, type StatsRegistry } from '@x/core-conn';
import { readTable } from '../db/load.js';
import { tcpMgmCreateSql, versionTableSql } from '../db/schema.js';
import { openRuleSource } from '../db/source.js';
import { parseDbUrl, redactDbUrl, type DbTarget } from '../db/url.js';
import { TcpMgmError, TcpMgmErrorCodes } from '../errors.js';
import { compileRules, kernelKeepalive, unappliedAttributes, type KernelKeepalive } from '../rules/compile.js';
import type { TcpMgmRow, TcpPath } from '../rules/rule.js';
import { RuleSet } from '../rules/ruleset.js';
import { columnRenames, tcpMgmParamSchema, type TcpMgmParams } from './params.js';

/** What other modules and route scripts get from `ctx.modules.get('tcp_mgm')`. */
export interface TcpMgmApi {
  /** the rules in force, in match order */
  readonly rules: RuleSet;
  /** which rule a connection with these addresses would get (undefined: the default profile) */
  match(q: ProfileQuery | { proto: string | null; remote: { host: string; port: number }; local: { host: string; port: number } }): TcpPath | undefined;
  /** re-reads the table and swaps the rules atomically; rejects (old rules kept) on failure */
  reload(): Promise<{ rules: number; skipped: number }>;
  /** called by the host once the listeners are bound: rules naming a local_addr need them */
  checkListeners(): void;
}

/** Row lines logged per load before the rest are only counted. */
const MAX_ROW_LOGS = 20;

/** A rule as MI shows it: the table's columns. */
export function ruleJson(p: TcpPath): Record<string, unknown> {
  const pr = p.profile;
  return {
    id: p.id,
    proto: p.proto ?? 'any',
    remote_addr: p.remote ? p.remote.text : 'any',
    remote_port: p.remotePort,
    local_addr: p.local ? p.local.text : 'any',
    ...(p.local ? { listener: p.local.listener } : {}),
    local_port: p.localPort,
    priority: p.priority,
    attrs: p.attrsText,
    connect_timeout: pr.connectTimeout,
    con_lifetime: pr.conLifetime,
    msg_read_timeout: pr.msgReadTimeout,
    send_threshold: pr.sendThreshold,
    no_new_conn: pr.noNewConn ? 1 : 0,
    alias_mode: pr.aliasMode,
    parallel_read: pr.parallelRead,
    keepalive: pr.keepalive ? 1 : 0,
    keepcount: pr.keepcount,
    keepidle: pr.keepidle,
    keepinterval: pr.keepinterval,
  };
}

function intArg(v: unknown, name: string): number {
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d+$/.test(v.trim()) ? Number(v) : NaN;
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new MiError(400, `Bad parameter "${name}": expected a port 0..65535, got ${JSON.stringify(v)}`);
  return n;
}

function ipArg(v: unknown, name: string): string {
  const s = typeof v === 'string' ? v.trim().replace(/^\[(.*)\]$/, '$1') : '';
  if (!isIP(s)) throw new MiError(400, `Bad parameter "${name}": expected an IPv4 or IPv6 address, got ${JSON.stringify(v)}`);
  return s.toLowerCase();
}

interface State {
  engine: Engine;
  logger: Logger;
  target: DbTarget;
  url: string;
  table: string;
  columns: ReturnType<typeof columnRenames>;
  rules: RuleSet;
  version: 1 | 2 | undefined;
  loadedAt: number | undefined;
  /** rows read at init, waiting for the listeners (checkListeners) */
  pending: { rows: TcpMgmRow[]; version: 1 | 2 } | undefined;
  reloading: Promise<unknown>;
  /** the kernel's TCP_KEEPCNT / TCP_KEEPINTVL defaults, read once at init */
  kernel: KernelKeepalive;
  stats: { rules: ReturnType<StatsRegistry['gauge']>; skipped: ReturnType<StatsRegistry['gauge']>; reloads: ReturnType<StatsRegistry['counter']>; failures: ReturnType<StatsRegistry['counter']> };
}

/** Reads the whole table (rows as objects by canonical column name); nothing is validated yet. */
async function readRows(s: State, create: boolean): Promise<{ rows: TcpMgmRow[]; version: 1 | 2 }> {
  const fresh = create && s.target.driver === 'sqlite' && !existsSync(s.target.path);
  const source = await openRuleSource(s.target, { url: s.url, create: fresh });
  try {
    if (fresh) {
      await source.exec(versionTableSql('sqlite') + tcpMgmCreateSql('sqlite', { table: s.table }));
      s.logger.info({ path: (s.target as { path: string }).path }, `created SQLite database ${(s.target as { path: string }).path} with an empty ${s.table} table (version 2)`);
    }
    return await readTable(source, { table: s.table, columns: s.columns });
  } finally {
    await source.close();
  }
}

/** Validates rows against the bound listeners and swaps the rule set in; logs skipped rows and what Node cannot apply. */
function apply(s: State, rows: TcpMgmRow[], version: 1 | 2): { rules: number; skipped: number } {
  const { rules, skipped } = compileRules(rows, { version, listeners: s.engine.listeners() });
  for (const k of skipped.slice(0, MAX_ROW_LOGS)) s.logger.error({ id: k.id, reason: k.reason }, `${s.table} row ${k.id ?? '(no id)'} skipped: ${k.reason}`);
  if (skipped.length > MAX_ROW_LOGS) s.logger.error({ more: skipped.length - MAX_ROW_LOGS }, `${skipped.length - MAX_ROW_LOGS} more ${s.table} rows skipped`);
  for (const line of unappliedAttributes(rules, s.kernel)) s.logger.warn(line);
  s.rules = rules;
  s.version = version;
  s.loadedAt = Date.now();
  s.pending = undefined;
  s.logger.info({ rules: rules.size, skipped: skipped.length, version }, `${rules.size} TCP paths loaded from ${s.table} (version ${version}), ${skipped.length} rows skipped`);
  return { rules: rules.size, skipped: skipped.length };
}

function query(s: State, p: Record<string, unknown>): { proto: string | null; remote: { host: string; port: number }; local: { host: string; port: number } } {
  const protoRaw = typeof p.proto === 'string' ? p.proto.trim().toLowerCase() : '';
  if (protoRaw === '') throw new MiError(400, 'Bad parameter "proto": expected a protocol name or "any"');
  const proto = protoRaw === 'any' ? null : protoRaw;
  const remote = { host: ipArg(p.remote_ip, 'remote_ip'), port: intArg(p.remote_port, 'remote_port') };
  let local: { host: string; port: number };
  if (p.local_ip !== undefined) local = { host: ipArg(p.local_ip, 'local_ip'), port: intArg(p.local_port, 'local_port') };
  else {
    // no local address: the first listener of the protocol, as a send from it would use
    const l = s.engine.listeners().find((x) => (proto === null || x.proto === proto) && isIP(x.address.host) === isIP(remote.host));
    local = l ? l.address : { host: isIP(remote.host) === 6 ? '::' : '0.0.0.0', port: 0 };
  }
  return { proto, remote, local };
}

function miCommands(s: State, reload: () => Promise<{ rules: number; skipped: number }>): MiCommand[] {
  return [
    {
      name: 'tcp_mgm:reload',
      aliases: ['tcp_reload'],
      recipes: [[]],
      doc: 're-read the tcp_mgm table and swap the rules atomically (existing connections keep their profile)',
      handler: async () => {
        try {
          await reload();
        } catch (err) {
          throw new MiError(500, 'Failed to reload', (err as Error).message);
        }
        return 'OK';
      },
    },
    {
      name: 'tcp_mgm:list',
      recipes: [[]],
      doc: 'the loaded TCP paths in match order',
      handler: () => ({ Version: s.version ?? null, Loaded: s.loadedAt ? new Date(s.loadedAt).toISOString() : null, Rules: s.rules.paths.map(ruleJson) }),
    },
    {
      name: 'tcp_mgm:match',
      recipes: [['proto', 'remote_ip', 'remote_port'], ['proto', 'remote_ip', 'remote_port', 'local_ip', 'local_port']],
      doc: 'which rule and profile a connection would get (proto may be "any")',
      handler: (p) => {
        const q = query(s, p);
        const r = s.rules.match(q);
        const profile = r ? r.profile : s.engine.defaultProfile;
        return {
          Matched: r !== undefined,
          Query: { proto: q.proto ?? 'any', remote: `${q.remote.host}:${q.remote.port}`, local: `${q.local.host}:${q.local.port}` },
          Rule: r ? ruleJson(r) : null,
          Profile: { ...profile, attrs: { ...profile.attrs } },
        };
      },
    },
  ];
}

/**
 * The tcp_mgm module descriptor (`loadmodule "tcp_mgm.so"`): loads the table at start, installs
 * the engine's profile resolver (accept and send), serves `tcp_mgm:reload` (`tcp_reload`),
 * `tcp_mgm:list` and `tcp_mgm:match`.
 */
export const tcpMgmModule = defineModule<TcpMgmParams, TcpMgmApi>({
  name: 'tcp_mgm',
  packageName: '@x/tcp-mgm',
  params: tcpMgmParamSchema,
  async init(ctx, params) {
    if (params.db_url === undefined) throw new TcpMgmError(TcpMgmErrorCodes.BAD_PARAM, 'tcp_mgm: parameter "db_url" is mandatory (e.g. modparam("tcp_mgm", "db_url", "sqlite:///var/lib/x/tcp_mgm.db"))');
    if (params.direction_col !== undefined) ctx.logger.warn('tcp_mgm: parameter "direction_col" is obsolete and has no effect (OpenSIPS still lists it; its other *_col params are shifted by one because of it, ours are not)');
    const target = parseDbUrl(params.db_url, ctx.configDir);
    const s: State = {
      engine: ctx.engine,
      logger: ctx.logger,
      target,
      url: params.db_url,
      table: params.db_table,
      columns: columnRenames(params),
      rules: new RuleSet([]),
      version: undefined,
      loadedAt: undefined,
      pending: undefined,
      reloading: Promise.resolve(),
      kernel: kernelKeepalive(),
      stats: {
        rules: ctx.stats.gauge('tcp_mgm', 'rules', 'TCP paths in force', () => s.rules.size),
        skipped: ctx.stats.gauge('tcp_mgm', 'skipped_rows', 'rows of the last load that were invalid'),
        reloads: ctx.stats.counter('tcp_mgm', 'reloads', 'successful reloads'),
        failures: ctx.stats.counter('tcp_mgm', 'reload_failures', 'reloads that failed (the old rules stayed)'),
      },
    };
    let first: { rows: TcpMgmRow[]; version: 1 | 2 };
    try {
      first = await readRows(s, true);
    } catch (err) {
      throw new TcpMgmError((err as TcpMgmError).code ?? TcpMgmErrorCodes.DB, `cannot load the rules from ${redactDbUrl(params.db_url)}: ${(err as Error).message}`, { cause: err });
    }
    // rules naming a local_addr need the listeners: validate now if they are bound, else at checkListeners()
    if (ctx.engine.listeners().length > 0) s.stats.skipped.set(apply(s, first.rows, first.version).skipped);
    else s.pending = first;

    const ensure = (): void => {
      if (s.pending) s.stats.skipped.set(apply(s, s.pending.rows, s.pending.version).skipped);
    };
    const reload = (): Promise<{ rules: number; skipped: number }> => {
      const run = s.reloading.then(async () => {
        try {
          const r = await readRows(s, false);
          const out = apply(s, r.rows, r.version);
          s.stats.skipped.set(out.skipped);
          s.stats.reloads.inc();
          return out;
        } catch (err) {
          s.stats.failures.inc();
          s.logger.error({ err }, `tcp_mgm reload failed, the ${s.rules.size} rules in force stay: ${(err as Error).message}`);
          throw err;
        }
      });
      s.reloading = run.catch(() => undefined);
      return run;
    };
    ctx.engine.setProfileResolver((q) => {
      if (s.pending) ensure();
      const r = s.rules.match(q);
      return r ? { profile: r.profile, matched: true } : { profile: ctx.engine.defaultProfile, matched: false };
    });
    const api: TcpMgmApi = {
      get rules() {
        return s.rules;
      },
      match: (q) => {
        if (s.pending) ensure();
        return s.rules.match(q);
      },
      reload,
      checkListeners: ensure,
    };
    return {
      api,
      mi: miCommands(s, reload),
      // the rules naming a local_addr are checked against the bound listeners
      listening: () => ensure(),
      destroy: async () => {
        ctx.engine.setProfileResolver(null);
        await s.reloading;
      },
    };
  },
});
