import { paramDefaults, writeOptionsOf, writeParamSchema, type ParamSchema, type ParamsOf, type ProtocolSpec, type WriteQuirks } from '@x/core-conn';
import { SipFramer } from '../framer/framer.js';

/** OpenSIPS's proto_tcp forces at least 2 postponed chunks in async mode: one chunk being written plus one queued (net/proto_tcp/proto_tcp.c); no other module does. */
export const TCP_WRITE_QUIRKS = { minAsyncPostponedChunks: 2 } as const satisfies WriteQuirks;

/** The proto_tcp parameters with OpenSIPS's defaults and units. */
export const protoTcpParamSchema = {
  tcp_port: { type: 'int', default: 5060, min: 1, max: 65535, doc: 'default port of a tcp socket spec without one, and of a Via without one' },
  ...writeParamSchema('tcp', { minAsyncPostponedChunks: TCP_WRITE_QUIRKS.minAsyncPostponedChunks }),
  tcp_max_msg_chunks: { type: 'int', default: 4, min: 0, doc: 'reads a message may take; the Nth incomplete read closes the connection (0 = unlimited)' },
  tcp_crlf_pingpong: { type: 'bool', default: true, doc: 'answer a CRLF CRLF ping at a message boundary with a CRLF pong' },
  tcp_crlf_drop: { type: 'bool', default: false, doc: 'a read ending in a lone CRLF at a boundary completes it as a keepalive (needs tcp_crlf_pingpong)' },
  tcp_parallel_handling: { type: 'bool', default: false, doc: 'accepted, no effect: OpenSIPS hands further messages of a connection to other workers; one Node event loop reads them all, in order' },
  trace_destination: { type: 'string', doc: 'reserved for @x/tracing: name of the trace destination (accepted, not used by this package)' },
  trace_on: { type: 'bool', default: false, doc: 'reserved for @x/tracing: tracing on at start-up (accepted, not used by this package)' },
  trace_filter_route: { type: 'string', doc: 'reserved for @x/tracing: route deciding per connection whether to trace (accepted, not used by this package)' },
} as const satisfies ParamSchema;

/** proto_tcp's modparams, typed as the module receives them after validation (derived from the schema). */
export type ProtoTcpParams = ParamsOf<typeof protoTcpParamSchema>;

/** The defaults, as a typed object. */
export const PROTO_TCP_DEFAULTS: Readonly<ProtoTcpParams> = paramDefaults('proto_tcp', protoTcpParamSchema);

/** SIP over TCP: a whole message fits in OpenSIPS's 65535-byte connection buffer. */
export const SIP_MAX_MSG_BYTES = 65535;

/** Builds the 'tcp' protocol spec from the params, so each one reaches the framer or the writer. */
export function tcpProtocolSpec(params: ProtoTcpParams): ProtocolSpec<Buffer> {
  const crlfPingpong = params.tcp_crlf_pingpong;
  const crlfDrop = params.tcp_crlf_drop;
  return {
    name: 'tcp',
    transport: 'tcp',
    defaultPort: params.tcp_port,
    createFramer: () => new SipFramer({ crlfPingpong, crlfDrop, maxMsgBytes: SIP_MAX_MSG_BYTES }),
    maxMsgChunks: params.tcp_max_msg_chunks,
    maxMsgBytes: SIP_MAX_MSG_BYTES,
    write: writeOptionsOf('tcp', params, TCP_WRITE_QUIRKS),
  };
}
