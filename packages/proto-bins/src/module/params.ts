import type { ParamSchema, ProtocolSpec } from '@x/core-conn';
import { BIN_MAX_PACKET_LEN, type BinPacket } from '../codec/packet.js';
import { BinFramer, type BinFramerOptions } from '../framer/framer.js';

/** proto_bin's modparams as the module receives them after validation. */
export interface ProtoBinParams {
  bin_port: number;
  bin_send_timeout: number;
  bin_max_msg_chunks: number;
  bin_async: boolean;
  bin_async_max_postponed_chunks: number;
  bin_async_local_connect_timeout: number;
  bin_async_local_write_timeout: number;
}

/** proto_bins's modparams as the module receives them after validation. */
export interface ProtoBinsParams {
  bins_port: number;
  bins_send_timeout: number;
  bins_max_msg_chunks: number;
  bins_handshake_timeout: number;
  bins_async: boolean;
  bins_async_max_postponed_chunks: number;
  bins_async_local_connect_timeout: number;
  bins_async_local_write_timeout: number;
  bins_async_handshake_timeout: number;
  trace_destination?: string;
  trace_on: boolean;
}

export const protoBinParamSchema = {
  bin_port: { type: 'int', default: 5555, min: 1, max: 65535, doc: 'default port of a bin socket spec (and of a bin: node url) without one' },
  bin_send_timeout: { type: 'int', default: 100, min: 1, unit: 'ms', doc: 'sync mode (bin_async=0): a write not finished within this closes the connection' },
  bin_max_msg_chunks: { type: 'int', default: 32, min: 0, doc: 'reads one BIN packet may take; the Nth incomplete read closes the connection (0 = unlimited)' },
  bin_async: { type: 'bool', default: true, doc: 'queue writes (async) instead of sync writes bounded by bin_send_timeout' },
  bin_async_max_postponed_chunks: { type: 'int', default: 1024, min: 0, doc: 'async mode: unflushed chunks a connection may hold before it is closed' },
  bin_async_local_connect_timeout: { type: 'int', default: 100, min: 1, unit: 'ms', doc: 'async mode: connect timeout of a new outbound connection' },
  bin_async_local_write_timeout: { type: 'int', default: 10, min: 1, unit: 'ms', doc: 'async mode: a write stalled this long becomes postponed (counted in bin:postponed_writes; the connection stays open)' },
} as const satisfies ParamSchema;

export const protoBinsParamSchema = {
  bins_port: { type: 'int', default: 5556, min: 1, max: 65535, doc: 'default port of a bins socket spec (and of a bins: node url) without one' },
  bins_send_timeout: { type: 'int', default: 100, min: 1, unit: 'ms', doc: 'sync mode (bins_async=0): a write not finished within this closes the connection' },
  bins_max_msg_chunks: { type: 'int', default: 32, min: 0, doc: 'reads one BIN packet may take; the Nth incomplete read closes the connection (0 = unlimited)' },
  bins_handshake_timeout: { type: 'int', default: 100, min: 1, unit: 'ms', doc: 'a TLS handshake (accepted or connected) not done within this closes the connection' },
  bins_async: { type: 'bool', default: true, doc: 'queue writes (async) instead of sync writes bounded by bins_send_timeout' },
  bins_async_max_postponed_chunks: { type: 'int', default: 32, min: 0, doc: 'async mode: unflushed chunks a connection may hold before it is closed' },
  bins_async_local_connect_timeout: { type: 'int', default: 100, min: 1, unit: 'ms', doc: 'async mode: connect timeout of a new outbound connection' },
  bins_async_local_write_timeout: { type: 'int', default: 10, min: 1, unit: 'ms', doc: 'async mode: a write stalled this long becomes postponed (counted in bins:postponed_writes; the connection stays open)' },
  bins_async_handshake_timeout: { type: 'int', default: 10, min: 1, unit: 'ms', doc: 'async mode: the TLS handshake step of a new outbound connection (the seed\'s documented value; bins_handshake_timeout bounds the whole handshake)' },
  trace_destination: { type: 'string', doc: 'HEP id (proto_hep hep_id name) that TLS handshake events are traced to (events come with @x/tracing)' },
  trace_on: { type: 'bool', default: false, doc: 'tracing on at start-up; switched at run time by MI bins:trace (served by @x/tracing, or binsTraceMi)' },
} as const satisfies ParamSchema;

export const PROTO_BIN_DEFAULTS: Readonly<ProtoBinParams> = Object.freeze({
  bin_port: 5555,
  bin_send_timeout: 100,
  bin_max_msg_chunks: 32,
  bin_async: true,
  bin_async_max_postponed_chunks: 1024,
  bin_async_local_connect_timeout: 100,
  bin_async_local_write_timeout: 10,
});

export const PROTO_BINS_DEFAULTS: Readonly<ProtoBinsParams> = Object.freeze({
  bins_port: 5556,
  bins_send_timeout: 100,
  bins_max_msg_chunks: 32,
  bins_handshake_timeout: 100,
  bins_async: true,
  bins_async_max_postponed_chunks: 32,
  bins_async_local_connect_timeout: 100,
  bins_async_local_write_timeout: 10,
  bins_async_handshake_timeout: 10,
  trace_on: false,
});

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
    write: {
      async: p.bin_async,
      sendTimeout: p.bin_send_timeout,
      maxPostponedChunks: p.bin_async ? Math.max(2, p.bin_async_max_postponed_chunks) : p.bin_async_max_postponed_chunks,
      localConnectTimeout: p.bin_async_local_connect_timeout,
      localWriteTimeout: p.bin_async_local_write_timeout,
    },
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
    write: {
      async: p.bins_async,
      sendTimeout: p.bins_send_timeout,
      maxPostponedChunks: p.bins_async ? Math.max(2, p.bins_async_max_postponed_chunks) : p.bins_async_max_postponed_chunks,
      localConnectTimeout: p.bins_async_local_connect_timeout,
      localWriteTimeout: p.bins_async_local_write_timeout,
    },
  };
}
