import { unzipSync } from 'node:zlib';
import { ConfigError, ErrorCodes, rateLimitedLogger } from '@x/core-conn';
import type {
  Address,
  ConnectionId,
  DatagramEvent,
  Engine,
  Logger,
  MessageEvent,
  StatsRegistry,
  TraceSink,
} from '@x/core-conn';
import type { TracePacket } from './trace-packet.js';
import { buildHomer5Payload, buildHomer6Payload, type PayloadParts } from './codec/payload.js';
import type { HepPacket } from './codec/types.js';
import { HepError, HepErrorCodes } from './codec/errors.js';
import { missingHepSocket, parseHepId, type HepDestination } from './hep-id.js';
import { HEP_DEST_DEFAULT_PORT, PROTO_HEP_DEFAULTS, type ProtoHepParams } from './module/params.js';
import { packHep, timestampOf, transportOfIpProto, type PackHepOptions, type HepEndpoint } from './pack.js';
import { HepSender, type HepDatagramTransmit, type HepPacketWriter, type HepSenderOptions } from './sender.js';
import { Hep3TraceEncoder, TRACE_UNENCODABLE } from './codec/trace.js';

/** What a HEP callback is given for every received packet. */
export interface HepReceived {
  packet: HepPacket;
  /** hep_udp or hep_tcp: how the HEP packet itself arrived */
  proto: 'hep_udp' | 'hep_tcp';
  /** the HEP sender (the capture agent) */
  remote: Address;
  /** the listener it arrived on */
  local: Address;
  /** hep_tcp only (undefined for hep_udp) */
  connectionId?: ConnectionId | undefined;
  receivedAt: number;
  /** the traced message's transport, from the ip protocol chunk (17 udp, 6 tcp, 22 tls, 132 sctp, 50 ws) */
  transport: ReturnType<typeof transportOfIpProto>;
  /** the payload, inflated when compressed_payload=1 and it came compressed */
  payload: Buffer;
}

const EMPTY = Buffer.alloc(0);

/** Return HEP_SCRIPT_SKIP to keep the packet from the SIP script; < 0 = failure; anything else = ok. */
export const HEP_SCRIPT_SKIP = 0xff;
export type HepCallback = (rcv: HepReceived) => number | void;
export type HepResult = 'skip' | 'ok' | 'failure';

export interface HepApi {
  /** callbacks run newest-registered first (hep.md §8); returns an unregister function */
  registerHepCallback(cb: HepCallback): () => void;
  /** 5 (HOMER5 mode) or 6 */
  hepVersion(): 5 | 6;
  packHep(from: HepEndpoint, to: HepEndpoint, proto: Parameters<typeof packHep>[2], payload: Buffer | string, opts?: PackHepOptions): Buffer;
  /** the trace payload of named parts in the configured HOMER mode */
  buildPayload(parts: PayloadParts): Buffer;
  sender(name: string): HepSender | undefined;
  senders(): HepSender[];
  /** adds a destination at runtime (tracer's dynamic ids) */
  addDestination(def: string | HepDestination): HepSender;
  /** `inflateDropped`: compressed payloads dropped (not gzip/zlib, or past the inflate limit); also in `dropped` */
  counts(): { received: number; dropped: number; skipped: number; ok: number; failed: number; probes: number; inflateDropped: number };
  /**
   * OpenSIPS refuses to start proto_hep without a HEP listener. Call this once the sockets are
   * bound: throws HepError ERR_HEP_NO_LISTENER when the engine has no hep_udp/hep_tcp listener,
   * or when a udp destination has no hep_udp listener to send from (tcp destinations connect
   * from any address, so they need none).
   */
  checkListeners(): void;
  close(): void;
}

/**
 * The most a compressed payload may inflate to (bytes): a HEP payload is one captured message,
 * and a HEP packet is at most 65535 bytes. A payload that would inflate past it (a
 * decompression bomb: 61 KB of gzip can hold 63 MB) is dropped without being inflated further.
 */
export const HEP_MAX_INFLATED_BYTES = 65535;

export interface AttachHepOptions {
  logger?: Logger;
  /** the most a compressed payload may inflate to (default HEP_MAX_INFLATED_BYTES) */
  maxInflatedBytes?: number;
  stats?: StatsRegistry;
  registerSink?: (s: TraceSink<TracePacket>) => void;
  sender?: HepSenderOptions;
}

/** Wires proto_hep onto an engine with the hep_udp/hep_tcp protocols registered. */
export function attachHep(engine: Engine, params: Partial<ProtoHepParams> = {}, o: AttachHepOptions = {}): HepApi {
  const p: ProtoHepParams = { ...PROTO_HEP_DEFAULTS, ...params };
  // refuse bad or duplicate destinations before touching the engine
  const names = new Set<string>();
  for (const def of p.hep_id ?? []) {
    const { name } = parseHepId(def);
    if (names.has(name)) throw new HepError(HepErrorCodes.BAD_HEP_ID, `hep_id [${name}] is defined twice`);
    names.add(name);
  }
  const maxInflated = o.maxInflatedBytes ?? HEP_MAX_INFLATED_BYTES;
  if (!Number.isInteger(maxInflated) || maxInflated < 1) throw new ConfigError(ErrorCodes.INVALID_OPTION, `maxInflatedBytes must be an integer >= 1, got ${String(maxInflated)}`);
  // what a peer can make us log is rate-limited per source
  const log = o.logger ? rateLimitedLogger(o.logger) : undefined;
  const callbacks: HepCallback[] = [];
  const counts = { received: 0, dropped: 0, skipped: 0, ok: 0, failed: 0, probes: 0, inflateDropped: 0 };
  const stat = (name: string, doc: string) => o.stats?.counter('proto_hep', name, doc);
  const sReceived = stat('hep_received', 'HEP packets received');
  const sDropped = stat('hep_dropped', 'HEP packets dropped (no callback, callback failure, bad payload)');
  const sInflateDropped = stat('hep_inflate_dropped', 'compressed HEP payloads dropped: not gzip/zlib, or inflating past the size limit');
  const senders = new Map<string, HepSender>();
  const sSent = stat('hep_sent', 'HEP packets sent by hep_id destinations');
  const sSendDropped = stat('hep_send_dropped', 'HEP packets hep_id destinations dropped (queue full, cooldown, closed)');
  o.stats?.gauge('proto_hep', 'hep_send_queued', 'HEP packets waiting in hep_id destination queues', () => {
    let n = 0;
    for (const s of senders.values()) n += s.stats().queued;
    return n;
  });

  // `desc` arrives whole, built by one object literal per transport: a spread of a partial
  // record here cost ~5 us per packet (a megamorphic object clone), more than the decode
  const dispatch = (desc: HepReceived): HepResult => {
    counts.received++;
    sReceived?.inc();
    const packet = desc.packet;
    const rcv = desc;
    let payload = packet.payload;
    if (packet.compressed && p.compressed_payload) {
      try {
        // maxOutputLength stops zlib as soon as the output passes the limit: a bomb costs
        // at most maxInflated bytes, never its full size
        payload = unzipSync(payload, { maxOutputLength: maxInflated });
      } catch (err) {
        const tooBig = (err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE';
        log?.warn(
          { remote: rcv.remote, proto: rcv.proto, compressedBytes: payload.length, ...(tooBig ? { maxInflatedBytes: maxInflated } : { err }) },
          tooBig ? `compressed HEP payload inflates past ${maxInflated} bytes; dropped` : 'cannot inflate a compressed HEP payload; dropped',
        );
        counts.dropped++;
        counts.inflateDropped++;
        sDropped?.inc();
        sInflateDropped?.inc();
        return 'failure';
      }
    }
    desc.payload = payload;
    let skip = false;
    let ok = false;
    for (let i = callbacks.length - 1; i >= 0; i--) {
      let r: number | void;
      try {
        r = callbacks[i]!(desc);
      } catch (err) {
        log?.error({ err, remote: rcv.remote }, 'HEP callback threw');
        r = -1;
      }
      if (r === HEP_SCRIPT_SKIP) skip = true;
      else if (r === undefined || r >= 0) ok = true;
      else o.logger?.debug({ r }, 'HEP callback failed');
    }
    if (skip) {
      counts.skipped++;
      return 'skip';
    }
    if (ok) {
      counts.ok++;
      return 'ok';
    }
    // as OpenSIPS: no callback, or all failed -> the packet is dropped
    counts.failed++;
    counts.dropped++;
    sDropped?.inc();
    return 'failure';
  };

  const onDatagram = (ev: DatagramEvent): void => {
    if (ev.proto !== 'hep_udp') return;
    const pkt = ev.message as HepPacket | null;
    if (pkt === null) {
      counts.probes++;
      return;
    }
    dispatch({
      packet: pkt,
      proto: 'hep_udp',
      remote: ev.remote,
      local: ev.listener.address,
      connectionId: undefined,
      receivedAt: ev.receivedAt,
      transport: transportOfIpProto(pkt.ipProto),
      payload: pkt.payload,
    });
  };
  const onMessage = (ev: MessageEvent): void => {
    if (ev.conn.proto !== 'hep_tcp') return;
    const pkt = ev.message as HepPacket;
    dispatch({
      packet: pkt,
      proto: 'hep_tcp',
      remote: ev.conn.remote,
      local: ev.conn.local,
      connectionId: ev.conn.id,
      receivedAt: ev.receivedAt,
      transport: transportOfIpProto(pkt.ipProto),
      payload: pkt.payload,
    });
  };
  engine.on('datagram', onDatagram);
  engine.on('message', onMessage);

  const transmit = (d: HepDestination, data: Buffer) =>
    engine.send(d.transport === 'udp' ? 'hep_udp' : 'hep_tcp', { host: d.host, port: d.port }, data);

  const homer5 = p.homer5_on;
  const buildPayload = (parts: PayloadParts): Buffer => (homer5 ? buildHomer5Payload(parts, p.homer5_delim) : buildHomer6Payload(parts));

  const addDestination = (def: string | HepDestination): HepSender => {
    const dest = typeof def === 'string' ? parseHepId(def, HEP_DEST_DEFAULT_PORT, (m) => o.logger?.warn({}, m)) : def;
    if (senders.has(dest.name)) throw new HepError(HepErrorCodes.BAD_HEP_ID, `hep_id [${dest.name}] is defined twice`);
    const user = o.sender;
    // udp: each datagram from the hep_udp listener, with no promise (engine.sendDatagram)
    const to = { host: dest.host, port: dest.port };
    const datagram: HepDatagramTransmit = (_d, data, done) => engine.sendDatagram('hep_udp', to, data, done);
    const s = new HepSender(dest, transmit, {
      maxRetries: p.hep_max_retries,
      retryCooldown: p.hep_retry_cooldown,
      datagram,
      ...user,
      onSent: (n) => {
        sSent?.inc(n);
        user?.onSent?.(n);
      },
      onDropped: (n) => {
        sSendDropped?.inc(n);
        user?.onDropped?.(n);
      },
    });
    senders.set(dest.name, s);
    const captureId = p.hep_capture_id;
    const enc = new Hep3TraceEncoder(captureId);
    // a trace packet straight into the sender's buffer: no HepPacket, no Buffer per packet
    const write: HepPacketWriter<TracePacket> = (tp, b, at) => {
      try {
        const payload = tp.parts ? buildPayload(tp.parts) : (tp.payload ?? EMPTY);
        if (dest.version === 3 && Buffer.isBuffer(payload)) {
          const end = enc.write(b, at, tp, payload, tp.timestamp ? 0 : (tp.at ?? performance.timeOrigin + performance.now()));
          if (end !== TRACE_UNENCODABLE) return end;
        }
        // HEPv1/v2, a string payload, and whatever the fast path does not take: packHep (which
        // converts it, or refuses it: counted as an invalid drop)
        const data = packHep(tp.src, tp.dst, tp.ipProto, payload, {
          version: dest.version,
          captureId,
          protoType: tp.protoType,
          ...(tp.timestamp ? { timestamp: tp.timestamp } : tp.at !== undefined ? { timestamp: timestampOf(tp.at) } : {}),
          ...(tp.correlationId !== undefined ? { correlationId: tp.correlationId } : {}),
        });
        if (b.length - at < data.length) return -data.length;
        data.copy(b, at);
        return at + data.length;
      } catch (err) {
        o.logger?.debug({ err }, `hep_id [${dest.name}]: trace packet not encodable; dropped`);
        return 0;
      }
    };
    o.registerSink?.({
      name: dest.name,
      // never throws into the traced connection, and builds nothing that would be dropped
      send: (tp: TracePacket): boolean => s.sendWith(tp, write),
    });
    return s;
  };
  for (const def of p.hep_id ?? []) addDestination(def);

  return {
    registerHepCallback(cb) {
      callbacks.push(cb);
      return () => {
        const i = callbacks.indexOf(cb);
        if (i >= 0) callbacks.splice(i, 1);
      };
    },
    hepVersion: () => (homer5 ? 5 : 6),
    packHep: (from, to, proto, payload, opts) => packHep(from, to, proto, payload, { captureId: p.hep_capture_id, ...opts }),
    buildPayload,
    sender: (n) => senders.get(n),
    senders: () => [...senders.values()],
    addDestination,
    counts: () => ({ ...counts }),
    checkListeners() {
      const missing = missingHepSocket(
        engine.listeners().map((l) => l.proto),
        [...senders.values()].map((s) => s.dest),
      );
      if (!missing) return;
      throw new HepError(
        HepErrorCodes.NO_LISTENER,
        missing.destination
          ? `hep_id [${missing.destination.name}] sends over udp: it needs a hep_udp socket to send from`
          : 'proto_hep needs at least one hep_udp or hep_tcp socket (OpenSIPS refuses to start without one)',
      );
    },
    close() {
      engine.off('datagram', onDatagram);
      engine.off('message', onMessage);
      for (const s of senders.values()) s.close();
      log?.limiter.close();
    },
  };
}
