import { paramDefaults, writeOptionsOf, writeParamSchema, type ParamSchema, type ParamsOf, type ProtocolSpec } from '@x/core-conn';
import { BIN_MAX_PACKET_LEN, type BinPacket } from '../codec/packet.js';
import { BinFramer, type BinFramerOptions } from '../framer/framer.js';

export const protoBinParamSchema = {
  bin_port: { type: 'int', default: 5555, min: 1, max: 65535, doc: 'default port of a bin socket spec (and of a bin: node url) without one' },
  ...writeParamSchema('bin', { defaults: { maxPostponedChunks: 1024 } }),
  bin_max_msg_chunks: { type: 'int', default: 32, min: 0, doc: 'reads one BIN packet may take; the Nth incomplete read closes the connection (0 = unlimited)' },
} as const satisfies ParamSchema;

export const protoBinsParamSchema = {
  bins_port: { type: 'int', default: 5556, min: 1, max: 65535, doc: 'default port of a bins socket spec (and of a bins: node url) without one' },
  ...writeParamSchema('bins'),
  bins_max_msg_chunks: { type: 'int', default: 32, min: 0, doc: 'reads one BIN packet may take; the Nth incomplete read closes the connection (0 = unlimited)' },
  bins_handshake_timeout: { type: 'int', default: 100, min: 1, unit: 'ms', doc: 'a TLS handshake (accepted or connected) not done within this closes the connection' },
  bins_async_handshake_timeout: { type: 'int', default: 10, min: 1, unit: 'ms', doc: "accepted, no effect: how long an OpenSIPS worker tries a new outbound connection's TLS handshake before handing it on to finish asynchronously (proto_bins.c); node:tls never blocks on a handshake, which bins_handshake_timeout bounds" },
  trace_destination: { type: 'string', doc: 'HEP id (proto_hep hep_id name) that TLS handshake events are traced to (events come with @x/tracing)' },
  trace_on: { type: 'bool', default: false, doc: 'tracing on at start-up; switched at run time by MI bins:trace (served by @x/tracing, or binsTraceMi)' },
} as const satisfies ParamSchema;

/** proto_bin's modparams as the module receives them after validation (derived from the schema). */
export type ProtoBinParams = ParamsOf<typeof protoBinParamSchema>;
/** proto_bins's modparams as the module receives them after validation (derived from the schema). */
export type ProtoBinsParams = ParamsOf<typeof protoBinsParamSchema>;

export const PROTO_BIN_DEFAULTS: Readonly<ProtoBinParams> = paramDefaults('proto_bin', protoBinParamSchema);
export const PROTO_BINS_DEFAULTS: Readonly<ProtoBinsParams> = paramDefaults('proto_bins', protoBinsParamSchema);

/** A BIN spec: framed by the BIN framer, a message fits BIN_MAX_BUF_LEN. */
export type BinProtocolSpec = ProtocolSpec<BinPacket> & { tlsHandshakeTimeout?: number };

/** protocol "bin" (BIN over TCP) from proto_bin's params */
export function binSpec(p: ProtoBinParams = PROTO_BIN_DEFAULTS, framer: BinFramerOptions = {}): BinProtocolSpec {
  return {
    name: 'bin',
    transport: 'tcp',
    defaultPort: p.bin_port,
    createFramer: () => new BinFramer(framer),
    maxMsgChunks: p.bin_max_msg_chunks,
    maxMsgBytes: BIN_MAX_PACKET_LEN,
    // OpenSIPS's proto_bin passes bin_async_max_postponed_chunks as is (only proto_tcp forces >= 2)
    write: writeOptionsOf('bin', p),
  };
}

/** protocol "bins" (BIN over TLS) from proto_bins's params */
export function binsSpec(p: ProtoBinsParams = PROTO_BINS_DEFAULTS, framer: BinFramerOptions = {}): BinProtocolSpec {
  return {
    name: 'bins',
    transport: 'tls',
    defaultPort: p.bins_port,
    createFramer: () => new BinFramer(framer),
    maxMsgChunks: p.bins_max_msg_chunks,
    maxMsgBytes: BIN_MAX_PACKET_LEN,
    tlsHandshakeTimeout: p.bins_handshake_timeout,
    // OpenSIPS's proto_bins passes bins_async_max_postponed_chunks as is (only proto_tcp forces >= 2)
    write: writeOptionsOf('bins', p),
  };
}
