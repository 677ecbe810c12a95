import type { ParamSchema, ProtocolSpec } from '@x/core-conn';
import { SipFramer } from '../framer/framer.js';

/** proto_tcp's modparams, typed as the module receives them after validation. */
export interface ProtoTcpParams {
  tcp_port: number;
  tcp_send_timeout: number;
  tcp_max_msg_chunks: number;
  tcp_crlf_pingpong: boolean;
  tcp_crlf_drop: boolean;
  tcp_async: boolean;
  tcp_async_max_postponed_chunks: number;
  tcp_async_local_connect_timeout: number;
  tcp_async_local_write_timeout: number;
  tcp_parallel_handling: boolean;
  trace_destination?: string;
  trace_on: boolean;
  trace_filter_route?: string;
}

/** The proto_tcp parameters with OpenSIPS's defaults and units. */
export const protoTcpParamSchema = {
  tcp_port: { type: 'int', default: 5060, min: 1, max: 65535, doc: 'default port of a tcp socket spec without one, and of a Via without one' },
  tcp_send_timeout: { type: 'int', default: 100, min: 1, unit: 'ms', doc: 'sync mode (tcp_async=0): a write not finished within this closes the connection' },
  tcp_max_msg_chunks: { type: 'int', default: 4, min: 0, doc: 'reads a message may take; the Nth incomplete read closes the connection (0 = unlimited)' },
  tcp_crlf_pingpong: { type: 'bool', default: true, doc: 'answer a CRLF CRLF ping at a message boundary with a CRLF pong' },
  tcp_crlf_drop: { type: 'bool', default: false, doc: 'a read ending in a lone CRLF at a boundary completes it as a keepalive (needs tcp_crlf_pingpong)' },
  tcp_async: { type: 'bool', default: true, doc: 'queue writes (async) instead of sync writes bounded by tcp_send_timeout' },
  tcp_async_max_postponed_chunks: { type: 'int', default: 32, min: 0, doc: 'async mode: unflushed chunks a connection may hold before it is closed (forced >= 2 when async)' },
  tcp_async_local_connect_timeout: { type: 'int', default: 100, min: 1, unit: 'ms', doc: 'async mode: connect timeout of a new outbound connection (bounded by the profile connect timeout)' },
  tcp_async_local_write_timeout: { type: 'int', default: 10, min: 1, unit: 'ms', doc: 'async mode: a write stalled this long becomes postponed (counted in <proto>:postponed_writes; the connection stays open)' },
  tcp_parallel_handling: { type: 'bool', default: false, doc: 'accepted, no effect: OpenSIPS hands further messages of a connection to other workers; one Node event loop reads them all, in order' },
  trace_destination: { type: 'string', doc: 'reserved for @x/tracing: name of the trace destination (accepted, not used by this package)' },
  trace_on: { type: 'bool', default: false, doc: 'reserved for @x/tracing: tracing on at start-up (accepted, not used by this package)' },
  trace_filter_route: { type: 'string', doc: 'reserved for @x/tracing: route deciding per connection whether to trace (accepted, not used by this package)' },
} as const satisfies ParamSchema;

/** The defaults, as a typed object. */
export const PROTO_TCP_DEFAULTS: Readonly<ProtoTcpParams> = Object.freeze({
  tcp_port: 5060,
  tcp_send_timeout: 100,
  tcp_max_msg_chunks: 4,
  tcp_crlf_pingpong: true,
  tcp_crlf_drop: false,
  tcp_async: true,
  tcp_async_max_postponed_chunks: 32,
  tcp_async_local_connect_timeout: 100,
  tcp_async_local_write_timeout: 10,
  tcp_parallel_handling: false,
  trace_on: false,
});

/** SIP over TCP: a whole message fits in OpenSIPS's 65535-byte connection buffer. */
export const SIP_MAX_MSG_BYTES = 65535;

/** Builds the 'tcp' protocol spec from the params, so each one reaches the framer or the writer. */
export function tcpProtocolSpec(params: ProtoTcpParams): ProtocolSpec<Buffer> {
  const async = params.tcp_async;
  const crlfPingpong = params.tcp_crlf_pingpong;
  const crlfDrop = params.tcp_crlf_drop;
  return {
    name: 'tcp',
    transport: 'tcp',
    defaultPort: params.tcp_port,
    createFramer: () => new SipFramer({ crlfPingpong, crlfDrop, maxMsgBytes: SIP_MAX_MSG_BYTES }),
    maxMsgChunks: params.tcp_max_msg_chunks,
    maxMsgBytes: SIP_MAX_MSG_BYTES,
    write: {
      async,
      sendTimeout: params.tcp_send_timeout,
      // OpenSIPS forces at least 2 when async: one chunk being written plus one queued
      maxPostponedChunks: async ? Math.max(2, params.tcp_async_max_postponed_chunks) : params.tcp_async_max_postponed_chunks,
      localConnectTimeout: params.tcp_async_local_connect_timeout,
      localWriteTimeout: params.tcp_async_local_write_timeout,
    },
  };
}
