import { encode } from './codec/encode.js';
import { HepError, HepErrorCodes } from './codec/errors.js';
import { isIPv6 } from 'node:net';
import { AF_INET, AF_INET6, ProtoType, type HepPacket, type HepTimestamp } from './codec/types.js';

export interface HepEndpoint {
  host: string;
  port: number;
}

/** Transport names as OpenSIPS maps them to the (partly fake) IP protocol ids of chunk 0x0002. */
export const IP_PROTO_OF = { udp: 17, tcp: 6, tls: 22, ws: 50, wss: 50, bins: 22, sctp: 132 } as const;
/** The reverse mapping used on receive (hep.md §4). */
export function transportOfIpProto(ipProto: number | undefined): 'udp' | 'tcp' | 'tls' | 'sctp' | 'ws' | undefined {
  switch (ipProto) {
    case 17: return 'udp';
    case 6: return 'tcp';
    case 22: return 'tls';
    case 132: return 'sctp';
    case 50: return 'ws';
    default: return undefined;
  }
}

export interface PackHepOptions {
  /** 1, 2 or 3 (default 3) */
  version?: 1 | 2 | 3;
  /** default 1 (hep_capture_id), 0..2^32-1; v2 packets carry its low 16 bits */
  captureId?: number;
  /** default: now */
  timestamp?: HepTimestamp;
  correlationId?: string;
  /** default 1 (SIP) */
  protoType?: number;
  /** payload goes in chunk 0x0010 (the caller compressed it) */
  compressed?: boolean;
  extraCorrelation?: string;
  nodeName?: string;
}

export function nowTimestamp(): HepTimestamp {
  return timestampOf(performance.timeOrigin + performance.now());
}

/** A HEP timestamp from ms since the epoch (a fraction keeps the µs). */
export function timestampOf(ms: number): HepTimestamp {
  const sec = Math.floor(ms / 1000);
  return { sec, usec: Math.min(999_999, Math.floor((ms - sec * 1000) * 1000)) };
}

/**
 * Builds one HEP packet (the `pack_hep` the OpenSIPS README describes). `proto` is a
 * transport name (udp, tcp, tls, ws, wss, bins, sctp) or an IP protocol number.
 */
export function packHep(
  from: HepEndpoint,
  to: HepEndpoint,
  proto: keyof typeof IP_PROTO_OF | number,
  payload: Buffer | string,
  opts: PackHepOptions = {},
): Buffer {
  for (const [what, e] of [['from', from], ['to', to]] as const) {
    if (typeof e !== 'object' || e === null || typeof e.host !== 'string') throw new HepError(HepErrorCodes.INVALID, `${what} must be { host, port } with a host string`);
  }
  if (typeof payload !== 'string' && !Buffer.isBuffer(payload)) throw new HepError(HepErrorCodes.INVALID, 'payload must be a Buffer or a string');
  const ipProto = typeof proto === 'number' ? proto : typeof proto === 'string' && Object.hasOwn(IP_PROTO_OF, proto) ? IP_PROTO_OF[proto] : undefined;
  if (ipProto === undefined) throw new HepError(HepErrorCodes.INVALID, `unknown transport ${typeof proto === 'string' ? JSON.stringify(proto) : typeof proto}`);
  const version = opts.version ?? 3;
  const pkt: HepPacket = {
    version,
    family: isIPv6(from.host) ? AF_INET6 : AF_INET,
    ipProto,
    srcIp: from.host,
    dstIp: to.host,
    srcPort: from.port,
    dstPort: to.port,
    payload: typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload,
  };
  if (version !== 1) {
    pkt.timestamp = opts.timestamp ?? nowTimestamp();
    // the v2 header has 16 bits for it: OpenSIPS stores hep_capture_id there truncated
    const id = opts.captureId ?? 1;
    pkt.captureId = version === 2 && Number.isInteger(id) && id >= 0 && id <= 0xffffffff ? id & 0xffff : id;
  }
  if (version === 3) {
    pkt.protoType = opts.protoType ?? ProtoType.SIP;
    if (opts.compressed) pkt.compressed = true;
    if (opts.correlationId !== undefined) pkt.correlationId = opts.correlationId;
    if (opts.extraCorrelation !== undefined) pkt.extraCorrelation = opts.extraCorrelation;
    if (opts.nodeName !== undefined) pkt.nodeName = opts.nodeName;
  }
  return encode(pkt);
}
