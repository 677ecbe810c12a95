import { paramDefaults, writeOptionsOf, writeParamSchema, type ParamSchema, type ParamsOf, type ProtocolSpec } from '@x/core-conn';
import { SipFramer } from '../framer/framer.js';
import { SIP_MAX_MSG_BYTES } from './params.js';

/** The proto_tls parameters with OpenSIPS 3.6's defaults and units. */
export const protoTlsParamSchema = {
  tls_port: { type: 'int', default: 5061, min: 1, max: 65535, doc: 'default port of a tls socket spec without one, and of a Via without one' },
  tls_crlf_pingpong: { type: 'bool', default: true, doc: 'answer a CRLF CRLF ping at a message boundary with a CRLF pong' },
  tls_crlf_drop: { type: 'bool', default: false, doc: 'a read ending in a lone CRLF at a boundary completes it as a keepalive (needs tls_crlf_pingpong)' },
  tls_max_msg_chunks: { type: 'int', default: 4, min: 0, doc: 'reads a message may take; the Nth incomplete read closes the connection (0 = unlimited)' },
  // OpenSIPS's proto_tls has no tls_async_local_write_timeout: proto_tcp's default applies
  ...writeParamSchema('tls', { only: ['async', 'send_timeout', 'async_max_postponed_chunks', 'async_local_connect_timeout'] }),
  tls_handshake_timeout: { type: 'int', default: 100, min: 1, unit: 'ms', doc: 'a TLS handshake (accepted or opened) not done within this closes the connection' },
  tls_async_handshake_timeout: { type: 'int', default: 10, min: 1, unit: 'ms', doc: "accepted, no effect: OpenSIPS's wait for an async handshake to progress before handing it to a worker; node:tls runs every handshake on the event loop, bounded by tls_handshake_timeout" },
  cert_check_on_conn_reusage: { type: 'bool', default: false, doc: "accepted, no effect yet: reuse of a connection is not checked against the destination's client domain" },
  trace_destination: { type: 'string', doc: 'reserved for @x/tracing (accepted, not used by this package)' },
  trace_on: { type: 'bool', default: false, doc: 'reserved for @x/tracing (accepted, not used by this package)' },
  trace_filter_route: { type: 'string', doc: 'reserved for @x/tracing (accepted, not used by this package)' },
} as const satisfies ParamSchema;

/** proto_tls's modparams (OpenSIPS 3.6 modules/proto_tls), typed as the module receives them (derived from the schema). */
export type ProtoTlsParams = ParamsOf<typeof protoTlsParamSchema>;

/** The defaults, as a typed object. */
export const PROTO_TLS_DEFAULTS: Readonly<ProtoTlsParams> = paramDefaults('proto_tls', protoTlsParamSchema);

/**
 * Builds the 'tls' protocol spec: the SIP framer of proto_tcp over core-conn's TLS transport
 * (the server's tls_mgm domains pick certificates per connection).
 */
export function tlsProtocolSpec(params: ProtoTlsParams): ProtocolSpec<Buffer> {
  const crlfPingpong = params.tls_crlf_pingpong;
  const crlfDrop = params.tls_crlf_drop;
  return {
    name: 'tls',
    transport: 'tls',
    defaultPort: params.tls_port,
    createFramer: () => new SipFramer({ crlfPingpong, crlfDrop, maxMsgBytes: SIP_MAX_MSG_BYTES }),
    maxMsgChunks: params.tls_max_msg_chunks,
    maxMsgBytes: SIP_MAX_MSG_BYTES,
    // tls_handshake_timeout bounds this protocol's handshakes (the engine's default serves the others)
    tlsHandshakeTimeout: params.tls_handshake_timeout,
    // OpenSIPS's proto_tls passes tls_async_max_postponed_chunks as is (only proto_tcp forces >= 2)
    write: writeOptionsOf('tls', params),
  };
}
