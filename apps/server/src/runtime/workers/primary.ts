import cluster, { type Worker } from 'node:cluster';
import { connectionIdShard, createStatsRegistry, MiError, tcpListJson, type CloseCount, type MiCommand, type Stat, type StatsRegistry } from '@x/core-conn';
import { loadConfig } from '../../config/load.js';
import type { Httpd } from '../../http/server.js';
import { RawJson, MiRegistry } from '../../mi/registry.js';
import { VERSION } from '../../version.js';
import { startCfgHttpd } from '../httpd.js';
import { createServerLogger, type ServerLogger } from '../logger.js';
import { createMetrics, type Metrics } from '../metrics.js';
import { shardBits, type MiCommandInfo, type PrimaryToWorker, type StatSnapshot, type WireError, type WorkerQuery, type WorkerToPrimary } from './protocol.js';
import { fromWire } from './worker.js';

export interface PrimaryOptions {
  configFile: string;
  pretty?: boolean;
  /** worker processes, >= 2 */
  workers: number;
  /** called once everything stopped because of MI kill */
  onKill?: () => void;
}

export interface XPrimary {
  readonly logger: ServerLogger;
  /** worker index -> PID of the running worker (undefined while one is being replaced) */
  pids(): Array<number | undefined>;
  reload(): void;
  stop(opts?: { deadlineMs?: number }): Promise<void>;
}

interface Slot {
  index: number;
  worker: Worker | undefined;
  pid: number | undefined;
  ready: boolean;
  startedAt: number;
}

interface WorkerStats {
  index: number;
  pid: number;
  stats: StatSnapshot[];
  closes: CloseCount[];
}

const QUERY_TIMEOUT_MS = 10_000;
/** a worker that lived less than this is restarted after RESTART_DELAY_MS (no fork loop) */
const SHORT_LIFE_MS = 2000;
const RESTART_DELAY_MS = 1000;

/** A worker exited before it was ready (it wrote why on stderr). */
export class WorkerStartError extends Error {
  override name = 'WorkerStartError';
}

/** The env a worker learns its place from. */
export const WORKER_ENV = { index: 'X_SERVER_WORKER', count: 'X_SERVER_WORKERS' } as const;

/** Stats of all workers as one: counters summed, gauges summed (load: the mean, uptime and <proto>:kernel_drops of the shared sockets: the max), load per worker as load-proc-N. */
export function aggregateStats(per: WorkerStats[], extra: StatSnapshot[] = []): StatSnapshot[] {
  const out = new Map<string, StatSnapshot & { n: number }>();
  const perProc: StatSnapshot[] = [];
  for (const w of per) {
    for (const s of w.stats) {
      if (s.group === 'load' && s.name.endsWith('-proc-0')) {
        perProc.push({ ...s, name: s.name.replace(/-proc-0$/, `-proc-${w.index + 1}`), doc: `${s.doc} (worker ${w.index}, PID ${w.pid})` });
        continue;
      }
      const k = `${s.group}:${s.name}`;
      const cur = out.get(k);
      if (!cur) {
        out.set(k, { ...s, n: 1 });
        continue;
      }
      cur.n++;
      // kernel_drops: the workers read the same shared sockets, each reports their drops whole
      if (k === 'core:timestamp' || k === 'server:uptime' || s.name === 'kernel_drops') cur.value = Math.max(cur.value, s.value);
      else cur.value += s.value;
    }
  }
  const list: StatSnapshot[] = [];
  for (const s of out.values()) {
    const { n, ...st } = s;
    if (st.group === 'load') {
      if (st.name === 'processes_number') st.value = per.length + 1;
      else st.value = Math.round(st.value / n);
    }
    list.push(st);
  }
  return [...list, ...perProc, ...extra];
}

/** A read-only StatsRegistry over snapshots (what createMetrics and selectStats read). */
export function snapshotRegistry(get: () => StatSnapshot[]): StatsRegistry {
  const noop = (): void => {};
  // a reader (the /metrics view) may keep a Stat from one scrape to the next: its value is
  // looked up in the latest snapshot, never the one it was made from
  let seen: StatSnapshot[] | undefined;
  let byKey = new Map<string, number>();
  const current = (key: string): number => {
    const list = get();
    if (list !== seen) {
      seen = list;
      byKey = new Map(list.map((x) => [`${x.group}:${x.name}`, x.value]));
    }
    return byKey.get(key) ?? 0;
  };
  const wrap = (s: StatSnapshot): Stat => {
    const key = `${s.group}:${s.name}`;
    return { group: s.group, name: s.name, kind: s.kind, doc: s.doc, value: () => current(key), inc: noop, dec: noop, set: noop, reset: noop };
  };
  return { all: () => get().map(wrap) } as unknown as StatsRegistry;
}

/** `{"Connections":[...]}` texts of several workers as one (the entries repeat "Alias port": no JSON.parse). */
function mergeConnections(jsons: string[]): string {
  const inner = jsons.map((j) => j.slice('{"Connections":['.length, -2)).filter((s) => s.length > 0);
  return `{"Connections":[${inner.join(',')}]}`;
}

/**
 * The primary of a multi-worker x-server: it forks the workers (node:cluster, SCHED_NONE: every
 * worker accepts on the listening sockets the primary shares; UDP sockets are shared the same
 * way), replaces one that dies, keeps the owner index (proto + remote address/alias -> the
 * worker holding the connection) from the workers' batched notices, relays what a worker hands
 * over for a connection another worker owns, and serves httpd: MI and /metrics over all
 * workers, /health. It runs no SIP.
 */
export async function runPrimary(o: PrimaryOptions): Promise<XPrimary> {
  const cfg = await loadConfig({ configFile: o.configFile });
  const log = createServerLogger({ logLevel: cfg.globals.log_level, ...(o.pretty ? { pretty: true } : {}) });
  const root = log.root;
  const n = o.workers;
  const bits = shardBits(n);
  const own = createStatsRegistry();
  cluster.schedulingPolicy = cluster.SCHED_NONE;
  cluster.setupPrimary({ serialization: 'advanced' });

  const slots: Slot[] = Array.from({ length: n }, (_, index) => ({ index, worker: undefined, pid: undefined, ready: false, startedAt: 0 }));
  let stopping: Promise<void> | undefined;
  let commands: MiCommandInfo[] | undefined;

  // ---- owner index: proto|host|port -> { worker, id } ----
  const byAddr = new Map<string, { w: number; id: number }>();
  const keysById = new Map<number, string[]>();
  const dropId = (id: number): void => {
    const keys = keysById.get(id);
    if (!keys) return;
    keysById.delete(id);
    for (const k of keys) if (byAddr.get(k)?.id === id) byAddr.delete(k);
  };
  const dropWorker = (w: number): void => {
    for (const id of [...keysById.keys()]) if (connectionIdShard(id, bits) === w) dropId(id);
  };

  // ---- requests the primary waits on (queries, forwarded sends) ----
  let nextRid = 0;
  const waiting = new Map<number, { to: number; done: (ok: boolean, value: unknown, error: WireError | undefined) => void }>();
  const live = (i: number): Worker | undefined => {
    const s = slots[i];
    return s?.ready && s.worker?.isConnected() ? s.worker : undefined;
  };
  const post = (w: Worker, m: PrimaryToWorker): boolean => {
    try {
      w.send(m);
      return true;
    } catch {
      return false;
    }
  };
  const ask = (i: number, q: WorkerQuery): Promise<unknown> =>
    new Promise((resolve, reject) => {
      const w = live(i);
      if (!w) {
        reject(new MiError(500, `worker ${i} is not running`));
        return;
      }
      const rid = ++nextRid;
      const t = setTimeout(() => {
        waiting.delete(rid);
        reject(new MiError(500, `worker ${i} did not answer in ${QUERY_TIMEOUT_MS} ms`));
      }, QUERY_TIMEOUT_MS);
      waiting.set(rid, {
        to: i,
        done: (ok, value, error) => {
          clearTimeout(t);
          if (ok) resolve(value);
          else reject(fromWire(error ?? { code: 'ERR_WORKER', message: 'failed' }));
        },
      });
      post(w, { t: 'query', rid, q });
    });
  const liveIndexes = (): number[] => slots.filter((s) => live(s.index)).map((s) => s.index);

  const onMessage = (i: number, w: Worker, m: WorkerToPrimary): void => {
    switch (m.t) {
      case 'idx':
        for (const [id, proto, host, port] of m.add) {
          const k = `${proto}|${host}|${port}`;
          byAddr.set(k, { w: i, id });
          const keys = keysById.get(id);
          if (keys) keys.push(k);
          else keysById.set(id, [k]);
        }
        for (const id of m.del) dropId(id);
        return;
      case 'send': {
        const answer = (r: Extract<PrimaryToWorker, { t: 'res' }>): void => void post(w, r);
        let to: number;
        if (m.opts.connectionId !== undefined) {
          to = connectionIdShard(m.opts.connectionId, bits);
          if (to === i || !live(to)) return answer({ t: 'res', rid: m.rid, ok: false, error: { code: 'ERR_CONN_NOT_FOUND', message: `connection ${m.opts.connectionId} not found` } });
        } else {
          const e = byAddr.get(`${m.proto}|${m.dest.host}|${m.dest.port}`);
          // nobody else holds one: the asking worker connects itself
          if (!e || e.w === i || !live(e.w)) return answer({ t: 'res', rid: m.rid, ok: true, local: true });
          to = e.w;
        }
        const rid = ++nextRid;
        waiting.set(rid, { to, done: (ok, value, error) => answer({ t: 'res', rid: m.rid, ok, value, ...(error ? { error } : {}) }) });
        post(live(to)!, { ...m, rid });
        return;
      }
      case 'write':
      case 'close': {
        const to = live(connectionIdShard(m.id, bits));
        if (to && to !== w) post(to, m);
        return;
      }
      case 'res': {
        const x = waiting.get(m.rid);
        if (!x) return;
        waiting.delete(m.rid);
        x.done(m.ok, m.value, m.error);
        return;
      }
      case 'ready': {
        const s = slots[i]!;
        s.ready = true;
        commands ??= m.commands;
        readyWaiters.get(i)?.();
        return;
      }
    }
  };

  const readyWaiters = new Map<number, () => void>();
  const fork = (i: number): Promise<void> => {
    const s = slots[i]!;
    const w = cluster.fork({ [WORKER_ENV.index]: String(i), [WORKER_ENV.count]: String(n) });
    s.worker = w;
    s.pid = w.process.pid;
    s.ready = false;
    s.startedAt = Date.now();
    w.on('message', (m: WorkerToPrimary) => onMessage(i, w, m));
    return new Promise<void>((resolve, reject) => {
      readyWaiters.set(i, () => {
        readyWaiters.delete(i);
        resolve();
      });
      w.once('exit', (code, signal) => {
        readyWaiters.delete(i);
        const wasReady = s.ready;
        if (s.worker === w) {
          s.worker = undefined;
          s.pid = undefined;
          s.ready = false;
        }
        dropWorker(i);
        // what was waiting on this worker fails now
        for (const [rid, x] of waiting) {
          if (x.to !== i) continue;
          waiting.delete(rid);
          x.done(false, undefined, { code: 'ERR_CONN_NOT_FOUND', message: `worker ${i} exited` });
        }
        if (!wasReady) reject(new WorkerStartError(`worker ${i} (PID ${w.process.pid}) exited before it started (code ${code}${signal ? `, ${signal}` : ''})`));
        if (stopping || !started) return;
        const lived = Date.now() - s.startedAt;
        root.warn({ worker: i, pid: w.process.pid, code, signal }, `worker ${i} (PID ${w.process.pid}) exited (${signal ?? `code ${code}`}); its connections are gone; starting a new one`);
        const again = (): void => {
          if (stopping) return;
          fork(i).then(
            () => root.info({ worker: i, pid: slots[i]!.pid }, `worker ${i} replaced (PID ${slots[i]!.pid})`),
            (err: unknown) => root.error({ worker: i, err: (err as Error).message }, `worker ${i} failed to start`),
          );
        };
        if (lived < SHORT_LIFE_MS) setTimeout(again, RESTART_DELAY_MS).unref();
        else again();
      });
    });
  };

  // ---- MI over the workers ----
  const first = async (name: string, params: Record<string, unknown>): Promise<unknown> => {
    const idx = liveIndexes();
    if (idx.length === 0) throw new MiError(500, 'no worker is running');
    const all = await Promise.allSettled(idx.map((i) => ask(i, { op: 'mi', name, params })));
    const r = all[0]!;
    if (r.status === 'rejected') throw r.reason;
    const v = r.value as { raw?: string; undef?: boolean; value?: unknown };
    if (v.raw !== undefined) return new RawJson(v.raw);
    return v.undef ? undefined : v.value;
  };
  const workerStats = async (): Promise<WorkerStats[]> => {
    const idx = liveIndexes();
    const got = await Promise.allSettled(idx.map((i) => ask(i, { op: 'stats' })));
    const out: WorkerStats[] = [];
    got.forEach((g, k) => {
      if (g.status === 'fulfilled') out.push({ index: idx[k]!, ...(g.value as Omit<WorkerStats, 'index'>) });
    });
    return out;
  };
  const ownStats = (): StatSnapshot[] => own.all().map((s) => ({ group: s.group, name: s.name, kind: s.kind, doc: s.doc, value: s.value() }));
  let lastStats: StatSnapshot[] = [];
  let lastCloses: CloseCount[] = [];
  const refresh = async (): Promise<void> => {
    const per = await workerStats();
    lastStats = aggregateStats(per, ownStats());
    const closes = new Map<string, CloseCount>();
    for (const w of per) {
      for (const c of w.closes) {
        const k = `${c.proto}|${c.reason}`;
        const cur = closes.get(k);
        if (cur) cur.count += c.count;
        else closes.set(k, { ...c });
      }
    }
    lastCloses = [...closes.values()];
  };

  const tcpList = async (name: string, params: Record<string, unknown>): Promise<unknown> => {
    const idx = liveIndexes();
    const all = await Promise.allSettled(idx.map((i) => ask(i, { op: 'mi', name, params })));
    const texts: string[] = [];
    for (const r of all) {
      if (r.status === 'rejected') throw r.reason;
      const v = r.value as { raw?: string; value?: unknown };
      if (v.raw === undefined || v.raw === 'null') return v.raw === 'null' ? new RawJson('null') : v.value;
      texts.push(v.raw);
    }
    return new RawJson(texts.length === 0 ? tcpListJson([]) : mergeConnections(texts));
  };

  const overrides: Record<string, MiCommand['handler']> = {
    'core:ps': () => ({
      Processes: [
        { ID: 0, PID: process.pid, Type: 'attendant' },
        ...slots.map((s) => ({ ID: s.index + 1, PID: s.pid ?? 0, Type: 'TCP receiver' })),
      ],
    }),
    'core:kill': () => {
      setImmediate(() => void stop().then(() => o.onKill?.()));
      return 'OK';
    },
    'statistics:get': async (p) => {
      // the first worker checks the parameters and picks the statistics; the values are everyone's
      const picked = (await first('statistics:get', p)) as Record<string, number>;
      await refresh();
      const byKey = new Map(lastStats.map((s) => [`${s.group}:${s.name}`, s.value]));
      const out: Record<string, number> = {};
      for (const k of Object.keys(picked)) out[k] = byKey.get(k) ?? picked[k]!;
      // the per-worker load a statistic selection by group or all picks up
      const items = Array.isArray(p.statistics) ? p.statistics.map(String) : [];
      if (items.some((x) => x === 'all' || x === 'load:')) for (const s of lastStats) if (s.group === 'load') out[`${s.group}:${s.name}`] = s.value;
      return out;
    },
    'tcp:list': (p) => tcpList('tcp:list', p),
    'tcp:list_conns': (p) => tcpList('tcp:list_conns', p),
    'tcp:close': async (p) => {
      const v = typeof p.ipport === 'number' ? String(p.ipport) : p.ipport;
      if (typeof v === 'string' && /^\d+$/.test(v.trim())) {
        // an id tells its owner
        const owner = connectionIdShard(Number(v) >>> 0, bits);
        if (Number(v) > 0xffffffff || !live(owner)) return null;
        const r = (await ask(owner, { op: 'mi', name: 'tcp:close', params: p })) as { value?: unknown };
        return r.value ?? null;
      }
      const idx = liveIndexes();
      const all = await Promise.allSettled(idx.map((i) => ask(i, { op: 'mi', name: 'tcp:close', params: p })));
      for (const r of all) if (r.status === 'rejected') throw r.reason;
      return all.some((r) => r.status === 'fulfilled' && (r.value as { value?: unknown }).value === 'OK') ? 'OK' : null;
    },
    'core:log_level': async (p) => {
      if (p.level === undefined) {
        const idx = liveIndexes();
        const all = await Promise.all(idx.map((i) => ask(i, { op: 'mi', name: 'core:log_level', params: p })));
        const procs = all.flatMap((r) => ((r as { value?: { Processes?: unknown[] } }).value?.Processes ?? []));
        return { Processes: [{ PID: process.pid, 'Log level': log.level(), Type: 'attendant' }, ...procs] };
      }
      const pid = p.pid === undefined ? 0 : Number(p.pid);
      if (pid === process.pid) {
        log.setLevel(Number(p.level));
        return { 'Log level': Number(p.level) };
      }
      if (pid !== 0) {
        const s = slots.find((x) => x.pid === pid && live(x.index));
        if (!s) throw new MiError(-32602, 'Invalid params', 'Bad PID');
        return ((await ask(s.index, { op: 'mi', name: 'core:log_level', params: { level: p.level } })) as { value?: unknown }).value;
      }
      const r = await first('core:log_level', p);
      log.setLevel(Number(p.level));
      return r;
    },
  };

  const stop = (so: { deadlineMs?: number } = {}): Promise<void> =>
    (stopping ??= (async () => {
      const deadlineMs = so.deadlineMs ?? 5000;
      root.info('shutting down: stopping the workers');
      const closingHttp = http?.close();
      const exits = slots.map((s) => {
        const w = s.worker;
        if (!w || w.process.exitCode !== null || w.process.signalCode !== null) return Promise.resolve();
        return new Promise<void>((resolve) => {
          w.once('exit', () => resolve());
          if (!post(w, { t: 'stop', deadlineMs })) w.process.kill('SIGTERM');
          const t = setTimeout(() => {
            if (w.process.pid !== undefined && w.process.exitCode === null) w.process.kill('SIGKILL');
          }, deadlineMs + 2000);
          t.unref();
        });
      });
      await Promise.all(exits);
      await closingHttp;
      root.info('stopped');
      await log.flush();
    })());

  let started = false;
  let http: Httpd | undefined;
  const mi = new MiRegistry();
  // httpd first (a busy port fails before any worker starts); its MI commands come from the workers
  if (cfg.httpd) {
    const metricsInner = createMetrics(snapshotRegistry(() => lastStats), { closes: () => lastCloses });
    const metrics: Metrics = { contentType: metricsInner.contentType, render: async () => (await refresh(), metricsInner.render()) };
    try {
      http = await startCfgHttpd(cfg, cfg.httpd, { registry: mi, metrics, healthy: () => started && !stopping, stats: own, log });
    } catch (err) {
      await stop({ deadlineMs: 0 });
      throw err;
    }
  }

  try {
    // worker 0 alone first: what modules create on first start (an SQLite file, a table) is
    // created once, and a configuration a worker refuses is reported once
    await fork(0);
    await Promise.all(slots.slice(1).map((s) => fork(s.index)));
  } catch (err) {
    await stop({ deadlineMs: 0 });
    throw err;
  }
  started = true;
  for (const c of commands ?? []) {
    if (c.name === 'httpd:list_root_path') continue;
    const handler = overrides[c.name] ?? ((p: Record<string, unknown>) => first(c.name, p));
    mi.add({ ...c, handler } as MiCommand);
  }
  // the URLs once MI has its commands (they come from the workers)
  if (http) {
    if (cfg.mi) root.info({ url: http.url(`/${cfg.mi.root}`) }, `MI (JSON-RPC 2.0) listening on ${http.url(`/${cfg.mi.root}`)}`);
    root.info({ url: http.url('/metrics') }, `metrics on ${http.url('/metrics')}, health on ${http.url('/health')}`);
  }
  root.info({ version: VERSION, file: cfg.file, modules: cfg.modules.map((m) => m.loaded.name), workers: n, pids: slots.map((s) => s.pid) }, 'x-server started');

  return {
    logger: log,
    pids: () => slots.map((s) => s.pid),
    reload: () => {
      for (const i of liveIndexes()) post(live(i)!, { t: 'reload' });
    },
    stop,
  };
}
