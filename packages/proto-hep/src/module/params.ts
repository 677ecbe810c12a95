import type { Address, ListenerInfo, ParamSchema, ProtocolSpec } from '@x/core-conn';
import { decode } from '../codec/decode.js';
import type { HepPacket } from '../codec/types.js';
import { HepFramer } from '../framer/framer.js';
import { parseHepId } from '../hep-id.js';

/** proto_hep's modparams as the module receives them after validation. */
export interface ProtoHepParams {
  hep_port: number;
  hep_send_timeout: number;
  hep_max_msg_chunks: number;
  hep_async: boolean;
  hep_async_max_postponed_chunks: number;
  hep_capture_id: number;
  hep_async_local_connect_timeout: number;
  hep_async_local_write_timeout: number;
  hep_id?: string[];
  homer5_on: boolean;
  homer5_delim: string;
  hep_max_retries: number;
  hep_retry_cooldown: number;
  compressed_payload: boolean;
}

/** OpenSIPS's HEP_PORT: what hep_id destinations without a port use. */
export const HEP_DEST_DEFAULT_PORT = 9060;

export const protoHepParamSchema = {
  hep_port: { type: 'int', default: 5656, min: 1, max: 65535, doc: 'default port of a hep_udp/hep_tcp socket spec without one (OpenSIPS README value; its code uses 9060)' },
  hep_send_timeout: { type: 'int', default: 100, min: 1, unit: 'ms', doc: 'sync mode (hep_async=0): a write not finished within this closes the connection' },
  hep_max_msg_chunks: { type: 'int', default: 32, min: 0, doc: 'reads one HEPv3 packet may take on TCP before the connection is closed (0 = unlimited)' },
  hep_async: { type: 'bool', default: true, doc: 'queue TCP writes (async) instead of sync writes bounded by hep_send_timeout' },
  hep_async_max_postponed_chunks: { type: 'int', default: 32, min: 0, doc: 'async mode: unflushed chunks a TCP connection may hold before it is closed' },
  hep_capture_id: { type: 'int', default: 1, min: 0, max: 4294967295, doc: 'capture agent id written in sent packets: 32-bit in HEPv3, its low 16 bits in the v2 header (as OpenSIPS)' },
  hep_async_local_connect_timeout: { type: 'int', default: 100, min: 1, unit: 'ms', doc: 'async mode: connect timeout of a new outbound TCP connection' },
  hep_async_local_write_timeout: { type: 'int', default: 10, min: 1, unit: 'ms', doc: 'async mode: a write stalled this long becomes postponed (counted in <proto>:postponed_writes; the connection stays open)' },
  hep_id: {
    type: 'string',
    multi: true,
    doc: 'a destination: "[name] host[:port]; transport=udp|tcp; version=1|2|3" (port 9060, tcp, v3 by default)',
    validate: (v: string) => {
      try {
        parseHepId(v);
        return undefined;
      } catch (err) {
        return (err as Error).message;
      }
    },
  },
  homer5_on: { type: 'bool', default: true, doc: '1: HOMER5 payloads (values joined by homer5_delim); 0: HOMER6 (cJSON objects, chunk 101 correlations)' },
  homer5_delim: { type: 'string', default: ':', doc: 'separator of payload parts in HOMER5 mode', validate: (v: string) => (v.length ? undefined : 'must not be empty') },
  hep_max_retries: { type: 'int', default: 5, min: 1, doc: 'consecutive send failures to a destination before its cooldown' },
  hep_retry_cooldown: { type: 'int', default: 3600, min: 0, unit: 's', doc: 'sends to a failing destination are suppressed this long after hep_max_retries failures' },
  compressed_payload: { type: 'bool', default: false, doc: '1: inflate received compressed payloads (chunk 0x0010) before callbacks' },
} as const satisfies ParamSchema;

export const PROTO_HEP_DEFAULTS: Readonly<ProtoHepParams> = Object.freeze({
  hep_port: 5656,
  hep_send_timeout: 100,
  hep_max_msg_chunks: 32,
  hep_async: true,
  hep_async_max_postponed_chunks: 32,
  hep_capture_id: 1,
  hep_async_local_connect_timeout: 100,
  hep_async_local_write_timeout: 10,
  homer5_on: true,
  homer5_delim: ':',
  hep_max_retries: 5,
  hep_retry_cooldown: 3600,
  compressed_payload: false,
});

/** A received datagram shorter than this is a probe and ignored (OpenSIPS). */
export const MIN_DATAGRAM = 20;

function write(p: ProtoHepParams): ProtocolSpec['write'] {
  return {
    async: p.hep_async,
    sendTimeout: p.hep_send_timeout,
    maxPostponedChunks: p.hep_async_max_postponed_chunks,
    localConnectTimeout: p.hep_async_local_connect_timeout,
    localWriteTimeout: p.hep_async_local_write_timeout,
  };
}

/** hep_udp: one datagram, one packet of any version; null = a probe (< 20 bytes), ignored. */
export function hepUdpSpec(p: ProtoHepParams = PROTO_HEP_DEFAULTS): ProtocolSpec<HepPacket | null> {
  return {
    name: 'hep_udp',
    transport: 'udp',
    defaultPort: p.hep_port,
    decodeDatagram: (data: Buffer, _r: Address, _l: ListenerInfo) => (data.length < MIN_DATAGRAM ? null : decode(data)),
    maxMsgChunks: 0,
    maxMsgBytes: 65535,
    write: write(p),
  };
}

/** hep_tcp: HEPv3 only, framed by its length word. */
export function hepTcpSpec(p: ProtoHepParams = PROTO_HEP_DEFAULTS): ProtocolSpec<HepPacket> {
  return {
    name: 'hep_tcp',
    transport: 'tcp',
    defaultPort: p.hep_port,
    createFramer: () => new HepFramer(),
    maxMsgChunks: p.hep_max_msg_chunks,
    maxMsgBytes: 65535,
    write: write(p),
  };
}
