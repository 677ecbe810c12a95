import { connectionIdShard, ConnectionError, MiError, type ConnectionId, type ConnectionInfo, type ConnectionRelay, type Engine } from '@x/core-conn';
import { RawJson } from '../../mi/registry.js';
import { startServer, type XServer } from '../server.js';
import { shardBits, snapshot, toBuffer, wireOpts, type PrimaryToWorker, type WireError, type WorkerQuery, type WorkerToPrimary } from './protocol.js';

/** how long a worker gathers owner-index notices before posting them to the primary, ms */
const NOTICE_MS = 10;

export interface WorkerOptions {
  configFile: string;
  pretty?: boolean;
  /** this worker's index, 0..count-1 (the shard in its connection ids) */
  index: number;
  count: number;
}

function wireError(err: unknown): WireError {
  const e = err as { code?: unknown; message?: string; data?: string };
  if (err instanceof MiError) return { code: 'ERR_MI', miCode: (err as MiError).code, message: (err as MiError).message, data: (err as MiError).data };
  return { code: typeof e.code === 'string' ? e.code : 'ERR_WORKER', message: e.message ?? String(err) };
}

/** The error a worker gets back for a relayed call that failed in its owner (or never got there). */
export function fromWire(e: WireError): Error {
  if (e.miCode !== undefined) return new MiError(e.miCode, e.message, e.data);
  return new ConnectionError(e.code as ConstructorParameters<typeof ConnectionError>[0], e.message);
}

/**
 * One worker of a multi-worker x-server: the whole server (modules, route script, sockets
 * shared with the other workers through the primary) except httpd, which the primary serves.
 * What this worker's engine has no connection for goes to the primary (ConnectionRelay), which
 * hands it to the owning worker; what the primary hands here runs on this engine.
 */
export async function runWorker(o: WorkerOptions): Promise<XServer> {
  const bits = shardBits(o.count);
  const mine = (id: ConnectionId): boolean => connectionIdShard(id, bits) === o.index;
  const post = (m: WorkerToPrimary): void => {
    if (process.connected) process.send!(m);
  };
  // ---- requests to the primary (relayed sends) ----
  let nextRid = 0;
  const pending = new Map<number, { resolve: (v: { local?: boolean | undefined; value?: unknown }) => void; reject: (e: Error) => void }>();
  const request = (m: Omit<Extract<WorkerToPrimary, { t: 'send' }>, 'rid'>): Promise<{ local?: boolean | undefined; value?: unknown }> =>
    new Promise((resolve, reject) => {
      if (!process.connected) {
        reject(new ConnectionError('ERR_CONN_NOT_FOUND' as never, 'the primary process is gone'));
        return;
      }
      const rid = ++nextRid;
      pending.set(rid, { resolve, reject });
      post({ ...m, rid });
    });
  // ---- owner index notices, batched (NOTICE_MS) ----
  // A connection opened and closed within one batch is never announced (connection per request
  // costs no IPC); the notices are flushed before every query, so the primary never answers a
  // worker with what that worker already closed.
  const fresh = new Map<number, Array<[number, string, string, number]>>();
  const announced = new Set<number>();
  let dels: number[] = [];
  let timer: NodeJS.Timeout | undefined;
  const flush = (): void => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    if (fresh.size === 0 && dels.length === 0) return;
    const add: Array<[number, string, string, number]> = [];
    for (const [id, entries] of fresh) {
      announced.add(id);
      for (const e of entries) add.push(e);
    }
    fresh.clear();
    post({ t: 'idx', add, del: dels });
    dels = [];
  };
  const notice = (): void => {
    timer ??= setTimeout(flush, NOTICE_MS);
  };
  const indexed = (c: ConnectionInfo, port: number): void => {
    const e: [number, string, string, number] = [c.id, c.proto, c.remote.host, port];
    const list = fresh.get(c.id);
    if (list) list.push(e);
    else fresh.set(c.id, [e]);
    notice();
  };
  const unindexed = (id: ConnectionId): void => {
    fresh.delete(id);
    if (!announced.delete(id)) return;
    dels.push(id);
    notice();
  };
  /** > 0 while a send the primary handed here runs: it must not go back to the primary */
  let relayed = 0;
  const relay: ConnectionRelay = {
    send(proto, dest, data, opts, local) {
      const id = opts?.connectionId;
      if (id !== undefined ? mine(id) : relayed > 0) return undefined;
      // the index notices first: the primary must know what this worker closed before it answers
      flush();
      return request({ t: 'send', proto, dest, data, opts: wireOpts(opts) }).then((r) => (r.local ? local() : (r.value as ConnectionInfo | undefined)));
    },
    write(id, data) {
      if (mine(id)) return false;
      post({ t: 'write', id, data });
      return true;
    },
    close(id, reason) {
      if (mine(id)) return false;
      post({ t: 'close', id, reason });
      return true;
    },
  };
  let engine: Engine | undefined;
  const onEngine = (e: Engine): void => {
    engine = e;
    e.on('accept', (c) => indexed(c, c.remote.port));
    e.on('connect', (c) => indexed(c, c.remote.port));
    e.on('close', (ev) => unindexed(ev.conn.id));
    // aliases index the connection under more ports (tcp_accept_aliases, force_tcp_alias)
    const addAlias = e.addAlias.bind(e);
    (e as { addAlias: Engine['addAlias'] }).addAlias = (id, port) => {
      const had = e.connection(id)?.aliases.includes(port) ?? true;
      const ok = addAlias(id, port);
      const c = ok && !had ? e.connection(id) : undefined;
      if (c) indexed(c, port);
      return ok;
    };
  };

  // a signal to the whole process group (Ctrl-C) reaches every worker: the primary stops them
  process.on('SIGINT', () => {});
  process.on('SIGHUP', () => {});
  let server: XServer | undefined = undefined; // set once started (the handlers above run before)
  let stopping = false;
  const stop = (deadlineMs: number): void => {
    if (stopping) return;
    stopping = true;
    const s = server;
    if (!s) process.exit(0);
    void s.stop({ deadlineMs }).finally(() => process.exit(0));
  };
  process.on('SIGTERM', () => stop(5000));
  // the primary gone (killed): nothing supervises this worker any more
  process.on('disconnect', () => stop(1000));

  const answer = async (q: WorkerQuery): Promise<unknown> => {
    const s = server!;
    switch (q.op) {
      case 'mi': {
        const found = s.mi.lookup(q.name);
        if (!found.ok) throw new MiError(found.code, found.message, found.data);
        const r: unknown = await found.cmd.handler(q.params);
        if (r instanceof RawJson) return { raw: r.json };
        return r === undefined ? { undef: true } : { value: r };
      }
      case 'stats':
        return {
          pid: process.pid,
          stats: s.stats.all().map((st) => ({ group: st.group, name: st.name, kind: st.kind, doc: st.doc, value: st.value() })),
          closes: s.engine.closeCounts(),
        };
    }
  };

  process.on('message', (m: PrimaryToWorker) => {
    switch (m.t) {
      case 'send': {
        const e = engine;
        if (!e) return;
        let p: Promise<ConnectionInfo | undefined>;
        relayed++;
        try {
          p = e.send(m.proto, m.dest, toBuffer(m.data), m.opts);
        } catch (err) {
          p = Promise.reject(err as Error);
        } finally {
          relayed--;
        }
        p.then(
          (c) => post({ t: 'res', rid: m.rid, ok: true, value: c ? snapshot(c, o.index) : undefined }),
          (err: unknown) => post({ t: 'res', rid: m.rid, ok: false, error: wireError(err) }),
        );
        return;
      }
      case 'write':
        try {
          engine?.write(m.id, toBuffer(m.data));
        } catch (err) {
          server?.logger.root.debug({ id: m.id, err: (err as Error).message }, 'relayed write dropped');
        }
        return;
      case 'close':
        engine?.close(m.id, m.reason);
        return;
      case 'res': {
        const w = pending.get(m.rid);
        if (!w) return;
        pending.delete(m.rid);
        if (m.ok) w.resolve({ local: m.local, value: m.value });
        else w.reject(fromWire(m.error ?? { code: 'ERR_WORKER', message: 'failed' }));
        return;
      }
      case 'query':
        answer(m.q).then(
          (value) => post({ t: 'res', rid: m.rid, ok: true, value }),
          (err: unknown) => post({ t: 'res', rid: m.rid, ok: false, error: wireError(err) }),
        );
        return;
      case 'stop':
        stop(m.deadlineMs);
        return;
      case 'reload':
        server?.reload().catch((err: unknown) => server?.logger.root.error({ err: (err as Error).message }, 'reload failed; keeping the running configuration'));
        return;
    }
  });

  server = await startServer({
    configFile: o.configFile,
    ...(o.pretty ? { pretty: true } : {}),
    onKill: () => process.exit(0),
    worker: { index: o.index, engine: { connectionIdShard: { index: o.index, bits }, relay }, onEngine },
  });
  flush();
  post({
    t: 'ready',
    index: o.index,
    commands: server.mi.list().map((c) => ({ name: c.name, ...(c.aliases ? { aliases: c.aliases } : {}), recipes: c.recipes, ...(c.doc !== undefined ? { doc: c.doc } : {}), ...(c.namedOnly !== undefined ? { namedOnly: c.namedOnly } : {}) })),
  });
  return server;
}
