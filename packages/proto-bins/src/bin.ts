import type { Address, ConnectionInfo, Engine, Logger, MessageEvent, MiCommand, SendOptions, StatsRegistry, Stat } from '@x/core-conn';
import { MiError } from '@x/core-conn';
import { BinError, BinErrorCodes } from './codec/errors.js';
import { encode, type BinPacket } from './codec/packet.js';
import { parseNodeUrl, type NodeUrl } from './clusterer/node-info.js';

/** What a capability handler is given with each packet. */
export interface BinReceived {
  proto: 'bin' | 'bins';
  /** the sender's address (its ephemeral port when it opened the connection) */
  remote: Address;
  /** the listener the connection belongs to */
  local: Address;
  connectionId: number;
  receivedAt: number;
}

/** `(packet, type, receive info)`, as OpenSIPS's bin_register_cb callbacks. */
export type BinHandler = (packet: BinPacket, type: number, rcv: BinReceived) => void;

export interface BinCounts {
  /** packets framed and dispatched */
  received: number;
  /** packets of a capability nobody registered (ignored, as OpenSIPS) */
  unknownCapability: number;
  /** handlers that threw (logged; the connection stays) */
  handlerErrors: number;
}

/** The BIN interface shared by proto_bin and proto_bins on one engine. */
export interface BinApi {
  /** one handler per capability name; returns an unregister function */
  registerCapability(name: string, handler: BinHandler): () => void;
  /**
   * Sends one packet to `bin:host[:port]` / `bins:host[:port]` (or an address and a proto),
   * reusing a connection to that address as OpenSIPS does (by proto + destination), else
   * opening one. A missing port is the proto's bin_port / bins_port.
   */
  send(packet: Buffer | BinPacket, to: string | NodeUrl, opts?: SendOptions): Promise<ConnectionInfo | undefined>;
  counts(): BinCounts;
  /** bins tracing switch (trace_on, MI bins:trace); the events come with @x/tracing */
  tracing: { on: boolean };
  close(): void;
}

export interface AttachBinOptions {
  logger?: Logger;
  stats?: StatsRegistry;
}

const runtimes = new WeakMap<Engine, { api: BinApi; users: number }>();

/** parsed node urls kept per engine (cleared when full) */
const MAX_CACHED_URLS = 1024;

/**
 * Wires the BIN dispatcher onto an engine with the bin and/or bins protocols registered. Both
 * modules call it; the engine gets one dispatcher (the second call returns the same API).
 */
export function attachBin(engine: Engine, o: AttachBinOptions = {}): BinApi {
  const have = runtimes.get(engine);
  if (have) {
    have.users++;
    return have.api;
  }
  const handlers = new Map<string, BinHandler>();
  const counts: BinCounts = { received: 0, unknownCapability: 0, handlerErrors: 0 };
  const stat = (name: string, doc: string): Stat | undefined => o.stats?.counter('bin', name, doc);
  const sReceived = stat('bin_received', 'BIN packets received (bin and bins)');
  const sUnknown = stat('bin_unknown_capability', 'BIN packets of a capability no module registered (ignored)');
  const onMessage = (ev: MessageEvent): void => {
    const proto = ev.conn.proto;
    if (proto !== 'bin' && proto !== 'bins') return;
    const packet = ev.message as BinPacket;
    counts.received++;
    sReceived?.inc();
    const h = handlers.get(packet.capability);
    if (!h) {
      counts.unknownCapability++;
      sUnknown?.inc();
      return;
    }
    try {
      h(packet, packet.type, { proto, remote: ev.conn.remote, local: ev.conn.local, connectionId: ev.conn.id, receivedAt: ev.receivedAt });
    } catch (err) {
      counts.handlerErrors++;
      o.logger?.error({ err, capability: packet.capability }, 'BIN capability handler threw');
    }
  };
  engine.on('message', onMessage);
  // node urls as strings are parsed once: a clusterer sends every packet to one of a few urls
  const urls = new Map<string, NodeUrl>();
  const nodeUrl = (s: string): NodeUrl => {
    let u = urls.get(s);
    if (u === undefined) {
      u = Object.freeze(parseNodeUrl(s));
      if (urls.size >= MAX_CACHED_URLS) urls.clear();
      urls.set(s, u);
    }
    return u;
  };
  const state = { users: 1 } as { api: BinApi; users: number };
  const api: BinApi = {
    registerCapability(name, handler) {
      if (typeof name !== 'string' || name.length === 0) throw new BinError(BinErrorCodes.INVALID, 'a capability name must be a non-empty string');
      if (handlers.has(name)) throw new BinError(BinErrorCodes.INVALID, `capability "${name}" is already registered`);
      handlers.set(name, handler);
      return () => {
        if (handlers.get(name) === handler) handlers.delete(name);
      };
    },
    async send(packet, to, opts) {
      const url = typeof to === 'string' ? nodeUrl(to) : to;
      const spec = engine.protocol(url.proto);
      if (!spec) throw new BinError(BinErrorCodes.NODE_INFO, `protocol ${url.proto} is not loaded (loadmodule "proto_${url.proto}.so")`);
      const port = url.port ?? spec.defaultPort ?? (url.proto === 'bin' ? 5555 : 5556);
      return engine.send(url.proto, { host: url.host, port }, Buffer.isBuffer(packet) ? packet : encode(packet), opts);
    },
    counts: () => ({ ...counts }),
    tracing: { on: false },
    close() {
      if (--state.users > 0) return;
      engine.off('message', onMessage);
      runtimes.delete(engine);
    },
  };
  state.api = api;
  runtimes.set(engine, state);
  return api;
}

/** MI bins:trace (legacy names bins_trace and tls_trace): show or switch bins tracing. */
export function binsTraceMi(tracing: { on: boolean }): MiCommand {
  return {
    name: 'bins:trace',
    aliases: ['bins_trace', 'tls_trace'],
    recipes: [[], ['trace_mode']],
    doc: 'shows ("BINS tracing": on|off) or switches (trace_mode on|off) the tracing of bins connections',
    handler(params) {
      const mode = params.trace_mode;
      if (mode === undefined) return { 'BINS tracing': tracing.on ? 'on' : 'off' };
      if (typeof mode !== 'string') throw new MiError(-32602, 'Invalid params');
      // OpenSIPS checks only the first 2 ("on") or 3 ("off") characters, case-insensitively
      const s = mode.toLowerCase();
      if (s.startsWith('on')) tracing.on = true;
      else if (s.startsWith('off')) tracing.on = false;
      else throw new MiError(500, 'Bad parameter value', "trace_mode should be 'on' or 'off'");
      return 'OK';
    },
  };
}
