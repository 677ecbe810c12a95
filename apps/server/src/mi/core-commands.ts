import { isIP } from 'node:net';
import { MiError, OPENSIPS_PROTOS, tcpListJson, toTcpListEntry, type Engine, type MiCommand, type Stat, type StatsRegistry } from '@x/core-conn';
import { MiParamError } from './jsonrpc.js';
import { RawJson, type MiRegistry } from './registry.js';

export interface CoreMiDeps {
  engine: Engine;
  stats: StatsRegistry;
  registry: MiRegistry;
  version: string;
  startedAt: number;
  getLogLevel(): number;
  setLogLevel(level: number): void;
  /** xlog_level: the route script logger's level (default: a fixed 3) */
  getXlogLevel?(): number;
  setXlogLevel?(level: number): void;
  /** the process arguments `arg` lists (default: process.argv from the script on) */
  argv?: readonly string[];
  /** what `version revision` adds: { type: 'git', value: 'e6c1a35a34' } (default: { type: 'npm', value: version }) */
  revision?: { type: string; value: string };
  /** stop the server (after the reply is written) */
  kill(): void;
  /** reload what can be reloaded; returns what was */
  reload(): Promise<Record<string, unknown>>;
}

/** C's ctime() without the newline: "Tue Nov 24 10:35:05 2026" (local time). */
export function ctime(ms: number): string {
  const d = new Date(ms);
  const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${days[d.getDay()]!} ${months[d.getMonth()]!} ${String(d.getDate()).padStart(2, ' ')} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())} ${d.getFullYear()}`;
}

/**
 * An array param of strings, as OpenSIPS's get_mi_array_param + get_mi_arr_param_string:
 * not an array -> "Bad type for parameter", empty -> "Empty array in parameter", an item
 * neither string nor number -> "Bad type for array item in parameter" (numbers become text).
 */
function arrayParam(v: unknown, param: string): string[] {
  if (!Array.isArray(v)) throw new MiParamError(`Bad type for parameter '${param}'`);
  if (v.length === 0) throw new MiParamError(`Empty array in parameter '${param}'`);
  return v.map((x) => {
    if (typeof x === 'string') return x;
    if (typeof x === 'number') return String(Math.trunc(x));
    throw new MiParamError(`Bad type for array item in parameter '${param}'`);
  });
}

/** A stat by its name alone, case-insensitive, as OpenSIPS's get_stat (`group:name` is not a name). */
function statByName(all: Stat[], name: string): Stat | undefined {
  const n = name.toLowerCase();
  return all.find((s) => s.name.toLowerCase() === n);
}

/**
 * Statistics selected as OpenSIPS 3.6's get_statistics does: `all`, `group:` (a whole group) or
 * a statistic's name (no group prefix: `core:rcv_requests` matches nothing). Unknown items are
 * skipped.
 */
export function selectStats(stats: StatsRegistry, items: string[], opts: { all?: boolean } = { all: true }): Stat[] {
  const all = stats.all();
  const out = new Map<string, Stat>();
  for (const item of items) {
    if (opts.all !== false && item === 'all') {
      for (const s of all) out.set(`${s.group}:${s.name}`, s);
    } else if (item.length > 1 && item.endsWith(':')) {
      const g = item.slice(0, -1);
      for (const s of all) if (s.group === g) out.set(`${s.group}:${s.name}`, s);
    } else {
      const s = statByName(all, item);
      if (s) out.set(`${s.group}:${s.name}`, s);
    }
  }
  return [...out.values()];
}

/** An int param as get_mi_int_param: a JSON number, or a string holding a (signed) integer. */
function intParam(v: unknown, name: string): number {
  if (typeof v === 'number' && Number.isFinite(v)) return Math.trunc(v);
  if (typeof v === 'string' && /^[+-]?\d+$/.test(v) && Number.isSafeInteger(Number(v))) return Number(v);
  throw new MiParamError(`Bad type for parameter '${name}'`);
}

/** A string param as get_mi_string_param: a string, or a number as its text. */
function stringParam(v: unknown, name: string): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return String(Math.trunc(v));
  throw new MiParamError(`Bad type for parameter '${name}'`);
}

function parseIpPort(text: string): { proto?: string; host: string; port: number } | undefined {
  let rest = text.trim();
  let proto: string | undefined;
  const m = /^([a-z_]+):(.*)$/i.exec(rest);
  if (m && isIP(m[1]!) === 0 && !/^\d+$/.test(m[1]!)) {
    proto = m[1]!.toLowerCase();
    rest = m[2]!;
  }
  const v6 = /^\[([^\]]+)\]:(\d{1,5})$/.exec(rest);
  const v4 = /^([^:[\]]+):(\d{1,5})$/.exec(rest);
  const hp = v6 ?? v4;
  if (!hp || isIP(hp[1]!) === 0) return undefined;
  const port = Number(hp[2]);
  if (port > 65535) return undefined;
  return proto === undefined ? { host: hp[1]!.toLowerCase(), port } : { proto, host: hp[1]!.toLowerCase(), port };
}

/** The 3.6 name of a command: its first legacy alias, else its `module:cmd` name. */
export function name36(cmd: MiCommand): string {
  return cmd.aliases?.[0] ?? cmd.name;
}

/**
 * The core MI commands, under OpenSIPS 3.6's names (the canonical ones `which` lists; the
 * 4.0-style `core:version`, `statistics:get`... stay as names too, so both spellings work),
 * with 3.6's replies and errors (mi/mi_core.c, statistics.c, net/net_tcp.c), plus tcp:close
 * and core:reload.
 */
export function coreCommands(d: CoreMiDeps): MiCommand[] {
  const tcpList = (proto: unknown): RawJson | null => {
    let filter: string | undefined;
    if (proto !== undefined) {
      if (typeof proto !== 'string') throw new MiError(400, 'Bad protocol');
      const p = proto.toLowerCase();
      if (p !== 'any') {
        if (!OPENSIPS_PROTOS.includes(p) && !d.engine.protocol(p)) throw new MiError(400, 'Bad protocol');
        filter = p;
      }
    }
    const streamListeners = d.engine.listeners().filter((l) => l.transport !== 'udp');
    if (streamListeners.length === 0) return null;
    const conns = d.engine.connections(filter);
    return new RawJson(tcpListJson(conns.map(toTcpListEntry)));
  };
  const serverText = `x-server (${d.version} (${process.arch}/${process.platform}))`;
  const getXlog = (): number => d.getXlogLevel?.() ?? 3;
  const coreNames = new Set<string>();
  const help = (cmdName: string): Record<string, string> => {
    const found = d.registry.lookup(cmdName);
    if (!found.ok) throw new MiError(404, 'unknown MI command');
    const c = found.cmd;
    const exporter = coreNames.has(c.name) ? 'core' : c.name.slice(0, c.name.indexOf(':'));
    return { Help: c.doc ?? 'not available for this command', 'Exported by': exporter };
  };

  const cmds: MiCommand[] = [
    {
      name: 'statistics:get', aliases: ['get_statistics'], recipes: [['statistics']], doc: 'prints the statistics (all, group or one) realtime values.',
      handler: (p) => {
        // 3.6 answers {} when nothing matches (its found flag starts unset), not 404
        const sel = selectStats(d.stats, arrayParam(p.statistics, 'statistics'));
        return Object.fromEntries(sel.map((s) => [`${s.group}:${s.name}`, s.value()]));
      },
    },
    {
      name: 'statistics:list', aliases: ['list_statistics'], recipes: [[], ['statistics']], doc: 'lists all the registered statistics and their types',
      handler: (p) => {
        if (p.statistics === undefined) return Object.fromEntries(d.stats.all().map((s) => [`${s.group}:${s.name}`, s.kind]));
        // a group lists as group:name, a single statistic by its bare name (as 3.6)
        const out: Record<string, string> = {};
        const all = d.stats.all();
        for (const item of arrayParam(p.statistics, 'statistics')) {
          if (item.length > 1 && item.endsWith(':')) {
            for (const s of all) if (s.group === item.slice(0, -1)) out[`${s.group}:${s.name}`] = s.kind;
          } else {
            const s = statByName(all, item);
            if (s) out[s.name] = s.kind;
          }
        }
        return out;
      },
    },
    {
      name: 'statistics:reset', aliases: ['reset_statistics'], recipes: [['statistics']], doc: 'resets the value of a statistic variable',
      handler: (p) => {
        // names only (no group, no all); a non-incremental one is left as it is, still "OK"
        const all = d.stats.all();
        let found = false;
        for (const item of arrayParam(p.statistics, 'statistics')) {
          const s = statByName(all, item);
          if (!s) continue;
          found = true;
          if (s.kind === 'incremental') s.reset();
        }
        if (!found) throw new MiError(404, 'Statistics Not Found');
        return 'OK';
      },
    },
    {
      name: 'statistics:reset_all', aliases: ['reset_all_statistics'], recipes: [[]], doc: 'resets the value of all resetable variables',
      handler: () => {
        for (const s of d.stats.all()) if (s.kind === 'incremental') s.reset();
        return 'OK';
      },
    },
    {
      name: 'core:uptime', aliases: ['uptime'], recipes: [[]], doc: 'prints various time information about x-server - when it started to run, for how long it runs',
      handler: () => {
        const now = Date.now();
        return { Now: ctime(now), 'Up since': ctime(d.startedAt), 'Up time': `${Math.floor((now - d.startedAt) / 1000)} [sec]` };
      },
    },
    {
      name: 'core:version', aliases: ['version'], recipes: [[], ['revision']], doc: 'prints the version string of a running x-server',
      // with any revision argument, 3.6 adds its build's revision ("git": "e6c1a35a34")
      handler: (p) => {
        if (p.revision === undefined) return { Server: serverText };
        const r = d.revision ?? { type: 'npm', value: d.version };
        return { Server: serverText, [r.type]: r.value };
      },
    },
    {
      name: 'core:pwd', aliases: ['pwd'], recipes: [[]], doc: 'prints the working directory of x-server',
      handler: () => ({ WD: process.cwd() }),
    },
    {
      name: 'core:arg', aliases: ['arg'], recipes: [[]], doc: 'returns the full list of arguments used at startup',
      handler: () => [...(d.argv ?? process.argv.slice(1))],
    },
    {
      name: 'core:which', aliases: ['which'], recipes: [[], ['command']], doc: 'lists all available MI commands',
      handler: (p) => {
        if (p.command === undefined) return d.registry.list().map(name36);
        const found = d.registry.lookup(stringParam(p.command, 'command'));
        if (!found.ok) throw new MiError(404, 'unknown MI command');
        return found.cmd.recipes;
      },
    },
    {
      name: 'core:ps', aliases: ['ps'], recipes: [[]], doc: 'lists all processes used by x-server (one Node.js process)',
      handler: () => ({ Processes: [{ ID: 0, PID: process.pid, Type: 'main' }] }),
    },
    {
      name: 'core:kill', aliases: ['kill'], recipes: [[]], doc: 'terminates x-server (gracefully)',
      handler: () => {
        setImmediate(() => d.kill());
        return 'OK';
      },
    },
    {
      name: 'core:log_level', aliases: ['log_level'], recipes: [[], ['level'], ['level', 'pid']], doc: 'gets/sets the per process or global log level in x-server',
      handler: (p) => {
        if (p.level === undefined) return { Processes: [{ PID: process.pid, 'Log level': d.getLogLevel(), Type: 'main' }] };
        const level = intParam(p.level, 'level');
        // pid 0 (or none) sets the global level; a pid must be ours (one process)
        const pid = p.pid === undefined ? 0 : intParam(p.pid, 'pid');
        if (pid !== 0 && pid !== process.pid) throw new MiParamError('Bad PID');
        d.setLogLevel(level);
        return pid === 0 ? { 'New global log level': level } : { 'Log level': level };
      },
    },
    {
      name: 'core:xlog_level', aliases: ['xlog_level'], recipes: [[], ['level']], doc: 'gets/sets the xlog level (the route script logger ctx.log) in x-server',
      handler: (p) => {
        if (p.level === undefined) return { 'xLog Level': getXlog() };
        const level = intParam(p.level, 'level');
        d.setXlogLevel?.(level);
        return { 'New xLog level': level };
      },
    },
    {
      name: 'tcp:list_conns', aliases: ['list_tcp_conns'], recipes: [[]], doc: 'list all ongoing TCP based connections',
      handler: () => tcpList(undefined),
    },
    {
      name: 'core:reload_routes', aliases: ['reload_routes'], recipes: [[]], doc: 'triggers the script (routes only) reload',
      handler: async () => {
        try {
          await d.reload();
        } catch {
          throw new MiError(500, 'reload failed');
        }
        return 'OK';
      },
    },
    {
      name: 'core:help', aliases: ['help'], recipes: [[], ['mi_cmd']], doc: 'prints information about MI commands usage',
      handler: (p) => (p.mi_cmd === undefined ? "Usage: help mi_cmd - returns information about 'mi_cmd'" : help(stringParam(p.mi_cmd, 'mi_cmd'))),
    },
    {
      name: 'core:reload', aliases: ['reload'], recipes: [[]], doc: 'reloads log_level and the route script from the cfg file (as SIGHUP)',
      handler: () => d.reload(),
    },
    {
      name: 'tcp:list', recipes: [[], ['proto']], doc: 'TCP-based connections, optionally of one protocol (OpenSIPS 4.0)',
      handler: (p) => tcpList(p.proto),
    },
    {
      name: 'tcp:close', recipes: [['ipport']], doc: 'closes a connection by id or [proto:]ip:port (OpenSIPS 4.0)',
      handler: (p) => {
        const v = typeof p.ipport === 'number' ? String(p.ipport) : p.ipport;
        if (typeof v !== 'string') throw new MiError(400, 'Bad tcp connection');
        if (/^\d+$/.test(v.trim())) return d.engine.close(Number(v), 'Closed by MI') ? 'OK' : null;
        const a = parseIpPort(v);
        if (!a) throw new MiError(400, 'Bad tcp connection');
        const conn = d.engine.connections(a.proto).find((c) => c.remote.host === a.host && (c.remote.port === a.port || c.aliases.includes(a.port)));
        if (!conn) return null;
        return d.engine.close(conn.id, 'Closed by MI') ? 'OK' : null;
      },
    },
  ];
  for (const c of cmds) coreNames.add(c.name);
  return cmds;
}
