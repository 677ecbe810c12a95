/**
 * tcp_mgm figures. Run with `corepack pnpm --filter @x/tcp-mgm bench`.
 *  1. lookups/s of the rule index with 100, 10k and 100k rules, against a linear walk of the same
 *     sorted rules in the same run (the walk is what OpenSIPS's tcp_mgm does), same queries;
 *  2. time to load and index 100k rows from an SQLite file and from PostgreSQL (a throw-away
 *     server on 127.0.0.1 started by the tests' own helper, stopped by its PID; skipped with a
 *     line when its binaries are not installed), split into reading the table and validating +
 *     indexing it; for SQLite, the one-batch read against libsql's row-by-row read of the same
 *     file (the loader as it was), alternating in the same run.
 * Rule mix (seeded, so every run is the same): 60% IPv4 host rules, 20% /24, 5% /16, 5% /8-/12,
 * 5% IPv6 /64 and /128, 5% any-remote rules with ports; protocols tcp/tls/any; a few local
 * listener rules and priorities. Queries: 50% remote addresses that have a host rule, 50% random.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'libsql';
import { Bench } from 'tinybench';
import { COLUMNS_V2, compileRules, openRuleSource, readTable, tcpMgmCreateSql, versionTableSql, type PathQuery, type RuleSource, type TcpMgmRow } from '../src/index.js';
import { startPostgres } from '../test/interop/dbservers.js';

let seed = 42;
const rnd = (): number => {
  seed = (seed * 1103515245 + 12345) >>> 0;
  return seed / 2 ** 32;
};
const pick = <T>(a: readonly T[]): T => a[Math.floor(rnd() * a.length)]!;
const v4 = (): string => `10.${Math.floor(rnd() * 256)}.${Math.floor(rnd() * 256)}.${Math.floor(rnd() * 256)}`;

interface BenchRow extends TcpMgmRow {
  id: number;
  proto: string;
  remote_addr: string | null;
  remote_port: number;
  local_addr: string | null;
  local_port: number;
  priority: number;
}

function makeRows(n: number): BenchRow[] {
  const rows: BenchRow[] = [];
  for (let id = 1; id <= n; id++) {
    const r = rnd();
    let remote: string | null;
    let rport = 0;
    if (r < 0.6) remote = v4();
    else if (r < 0.8) remote = `${v4().replace(/\.\d+$/, '.0')}/24`;
    else if (r < 0.85) remote = `${v4().replace(/\.\d+\.\d+$/, '.0.0')}/16`;
    else if (r < 0.9) remote = `10.${Math.floor(rnd() * 256)}.0.0/${pick([8, 10, 12])}`;
    else if (r < 0.95) remote = `2001:db8:${Math.floor(rnd() * 65536).toString(16)}::${rnd() < 0.5 ? '/64' : '1'}`;
    else {
      remote = null;
      rport = 5060 + Math.floor(rnd() * 2000);
    }
    rows.push({
      id, proto: pick(['tcp', 'tcp', 'tls', 'any']), remote_addr: remote, remote_port: rport,
      local_addr: rnd() < 0.02 && (remote === null || !remote.includes(':')) ? '127.0.0.1' : null, local_port: rnd() < 0.02 ? 5060 : 0,
      priority: rnd() < 0.05 ? 1 : 0, attrs: null, connect_timeout: 100, con_lifetime: 120, msg_read_timeout: 4, send_threshold: 0,
      no_new_conn: 0, alias_mode: 0, keepalive: 1, keepcount: 9, keepidle: 7200, keepinterval: 75,
    });
  }
  return rows;
}

function makeQueries(rows: BenchRow[], n: number): PathQuery[] {
  const hosts = rows.map((r) => r.remote_addr).filter((a): a is string => typeof a === 'string' && !a.includes('/') && !a.includes(':'));
  const qs: PathQuery[] = [];
  for (let i = 0; i < n; i++) {
    const host = rnd() < 0.5 && hosts.length ? pick(hosts) : rnd() < 0.1 ? `2001:db8:${Math.floor(rnd() * 65536).toString(16)}::1` : v4();
    qs.push({ proto: pick(['tcp', 'tls']), remote: { host, port: 30000 + Math.floor(rnd() * 30000) }, local: { host: host.includes(':') ? '::1' : '127.0.0.1', port: 5060 } });
  }
  return qs;
}

async function lookups(): Promise<void> {
  console.log('\n== lookups: rule index vs linear walk (same sorted rules, same 1000 queries) ==');
  const out: Array<Record<string, string | number>> = [];
  for (const n of [100, 10_000, 100_000]) {
    const { rules } = compileRules(makeRows(n), { version: 2 });
    const qs = makeQueries(makeRows(n), 1000);
    // same answers first: a benchmark of a wrong index is worthless
    for (const q of qs) if (rules.match(q)?.id !== rules.linearMatch(q)?.id) throw new Error(`index and walk disagree on ${JSON.stringify(q)}`);
    const hits = qs.filter((q) => rules.match(q)).length;
    let sink = 0;
    let qi = 0;
    const IDX_BATCH = 1000;
    const LIN_BATCH = n >= 100_000 ? 2 : n >= 10_000 ? 20 : 1000;
    const bench = new Bench({ time: 1000, warmupTime: 200 });
    bench
      .add(`index ${n}`, () => {
        for (let i = 0; i < IDX_BATCH; i++) sink += rules.match(qs[(qi++) % qs.length]!)?.id ?? 0;
      })
      .add(`linear ${n}`, () => {
        for (let i = 0; i < LIN_BATCH; i++) sink += rules.linearMatch(qs[(qi++) % qs.length]!)?.id ?? 0;
      });
    await bench.run();
    const [idx, lin] = bench.tasks.map((t) => {
      const r = t.result as unknown as { latency?: { mean: number }; mean?: number };
      return (r.latency?.mean ?? r.mean ?? NaN) * 1000; // µs per batch
    });
    const idxUs = idx! / IDX_BATCH;
    const linUs = lin! / LIN_BATCH;
    out.push({ rules: n, 'hit %': Math.round((hits / qs.length) * 100), 'index µs/lookup': +idxUs.toFixed(3), 'index lookups/s': Math.round(1e6 / idxUs), 'linear µs/lookup': +linUs.toFixed(2), 'linear lookups/s': Math.round(1e6 / linUs), 'index / linear': `${(linUs / idxUs).toFixed(1)}x` });
    if (sink === -1) console.log(sink);
  }
  console.table(out);
}

function sqliteFile(dir: string, rows: BenchRow[]): string {
  const path = join(dir, 'rules.db');
  const db = new Database(path);
  db.exec(versionTableSql('sqlite') + tcpMgmCreateSql('sqlite'));
  const ins = db.prepare('INSERT INTO tcp_mgm (id, proto, remote_addr, remote_port, local_addr, local_port, priority) VALUES (?, ?, ?, ?, ?, ?, ?)');
  db.exec('BEGIN');
  for (const r of rows) ins.run(r.id, r.proto, r.remote_addr, r.remote_port, r.local_addr, r.local_port, r.priority);
  db.exec('COMMIT');
  db.close();
  return path;
}

const SELECT_V2 = `SELECT ${COLUMNS_V2.map((c) => `"${c}"`).join(', ')} FROM tcp_mgm`;

/** the SQLite source as it was before the one-batch read: libsql's rows, one native call per value */
function plainSqlite(path: string): RuleSource {
  const db = new Database(path);
  return {
    driver: 'sqlite',
    tableVersion: async () => Number((db.prepare("SELECT table_version FROM version WHERE table_name = 'tcp_mgm'").raw().get() as unknown[])[0]),
    select: async () => db.prepare(SELECT_V2).raw().all() as unknown[][],
    exec: async (sql) => {
      db.exec(sql);
    },
    close: async () => {
      db.close();
    },
  };
}

/** one load as the module does it: open, read the table, validate + index, close */
async function timedLoad(open: () => Promise<RuleSource> | RuleSource): Promise<{ read: number; compile: number; rules: number }> {
  const t0 = performance.now();
  const src = await open();
  const { rows, version } = await readTable(src);
  await src.close();
  const t1 = performance.now();
  const { rules } = compileRules(rows, { version });
  return { read: t1 - t0, compile: performance.now() - t1, rules: rules.size };
}

async function loadTimes(): Promise<void> {
  console.log('\n== load + validate + index 100k rows (SQLite: the one-batch read against libsql\'s row-by-row read of the same file, alternating, same run) ==');
  const rows = makeRows(100_000);
  const dir = mkdtempSync(join(tmpdir(), 'tcpmgm-bench-'));
  const out: Array<Record<string, string | number>> = [];
  try {
    const path = sqliteFile(dir, rows);
    for (let i = 0; i < 3; i++) {
      const l = await timedLoad(() => openRuleSource({ driver: 'sqlite', path }));
      const p = await timedLoad(() => plainSqlite(path));
      if (p.rules !== l.rules) throw new Error(`row-by-row read ${p.rules} rules, the load ${l.rules}`);
      out.push({ db: 'SQLite (libsql)', run: i + 1, rules: l.rules, 'read ms': Math.round(l.read), 'validate+index ms': Math.round(l.compile), 'total ms': Math.round(l.read + l.compile), 'row-by-row read ms': Math.round(p.read), 'read speed-up': `${(p.read / l.read).toFixed(1)}x` });
    }
    let pg: Awaited<ReturnType<typeof startPostgres>> | undefined;
    try {
      pg = await startPostgres();
    } catch (err) {
      console.log(`PostgreSQL load skipped: ${(err as Error).message.split('\n')[0]}`);
    }
    if (pg) {
      try {
        const src = await openRuleSource(pg.target);
        await src.exec(versionTableSql('postgres') + tcpMgmCreateSql('postgres'));
        for (let i = 0; i < rows.length; i += 5000) {
          const chunk = rows.slice(i, i + 5000);
          const vals = chunk.map((r) => `(${r.id}, '${r.proto}', ${r.remote_addr === null ? 'NULL' : `'${r.remote_addr}'`}, ${r.remote_port}, ${r.local_addr === null ? 'NULL' : `'${r.local_addr}'`}, ${r.local_port}, ${r.priority})`);
          await src.exec(`INSERT INTO tcp_mgm (id, proto, remote_addr, remote_port, local_addr, local_port, priority) VALUES ${vals.join(',')}`);
        }
        await src.close();
        for (let i = 0; i < 3; i++) {
          const l = await timedLoad(() => openRuleSource(pg.target));
          out.push({ db: 'PostgreSQL 127.0.0.1 (pg)', run: i + 1, rules: l.rules, 'read ms': Math.round(l.read), 'validate+index ms': Math.round(l.compile), 'total ms': Math.round(l.read + l.compile) });
        }
      } finally {
        await pg.stop();
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  console.table(out);
}

console.log(`node ${process.version}, load average ${loadavg().map((x) => x.toFixed(2)).join(' ')} (before)`);
await lookups();
await loadTimes();
console.log(`load average ${loadavg().map((x) => x.toFixed(2)).join(' ')} (after)`);
