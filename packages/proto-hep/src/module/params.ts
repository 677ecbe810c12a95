import { paramDefaults, writeOptionsOf, writeParamSchema, type Address, type ListenerInfo, type ParamSchema, type ParamsOf, type ProtocolSpec } from '@x/core-conn';
import { decode } from '../codec/decode.js';
import type { HepPacket } from '../codec/types.js';
import { HepFramer } from '../framer/framer.js';
import { parseHepId } from '../hep-id.js';

/** OpenSIPS's HEP_PORT: what hep_id destinations without a port use. */
export const HEP_DEST_DEFAULT_PORT = 9060;

export const protoHepParamSchema = {
  hep_port: { type: 'int', default: 5656, min: 1, max: 65535, doc: 'default port of a hep_udp/hep_tcp socket spec without one (OpenSIPS README value; its code uses 9060)' },
  ...writeParamSchema('hep'),
  hep_max_msg_chunks: { type: 'int', default: 32, min: 0, doc: 'reads one HEPv3 packet may take on TCP before the connection is closed (0 = unlimited)' },
  hep_capture_id: { type: 'int', default: 1, min: 0, max: 4294967295, doc: 'capture agent id written in sent packets: 32-bit in HEPv3, its low 16 bits in the v2 header (as OpenSIPS)' },
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
  hep_udp_recv_buffer: {
    type: 'int',
    default: 4194304,
    min: 0,
    unit: 'bytes',
    doc: 'receive buffer (SO_RCVBUF) asked for on each hep_udp socket, as OpenSIPS sizes UDP sockets up to its maxbuffer: bursts queue there while the loop is busy. Capped by net.core.rmem_max (a warning says so); 0 = the system default',
  },
} as const satisfies ParamSchema;

/** proto_hep's modparams as the module receives them after validation (derived from the schema). */
export type ProtoHepParams = ParamsOf<typeof protoHepParamSchema>;

export const PROTO_HEP_DEFAULTS: Readonly<ProtoHepParams> = paramDefaults('proto_hep', protoHepParamSchema);

/** A received datagram shorter than this is a probe and ignored (OpenSIPS). */
export const MIN_DATAGRAM = 20;

// OpenSIPS's proto_hep passes hep_async_max_postponed_chunks as is (only proto_tcp forces >= 2)
function write(p: ProtoHepParams): ProtocolSpec['write'] {
  return writeOptionsOf('hep', p);
}

/** hep_udp: one datagram, one packet of any version; null = a probe (< 20 bytes), ignored. */
export function hepUdpSpec(p: ProtoHepParams = PROTO_HEP_DEFAULTS): ProtocolSpec<HepPacket | null> {
  return {
    name: 'hep_udp',
    transport: 'udp',
    defaultPort: p.hep_port,
    decodeDatagram: (data: Buffer, _r: Address, _l: ListenerInfo) => (data.length < MIN_DATAGRAM ? null : decode(data)),
    recvBufferSize: p.hep_udp_recv_buffer,
    maxMsgChunks: 0,
    maxMsgBytes: 65535,
    write: write(p),
    // HEP is the trace itself: a tracer of the tap would only filter it out
    tap: false,
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
    tap: false,
  };
}
