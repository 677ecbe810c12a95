import { paramDefaults, writeOptionsOf, type ParamSchema, type ParamsOf, type ProtocolSpec, type WriteQuirks } from '@x/core-conn';
import type { MsrpMessage } from '../codec/types.js';
import { MsrpFramer } from '../framer/framer.js';

export const protoMsrpParamSchema = {
  send_timeout: { type: 'int', default: 100, min: 1, unit: 'ms', doc: 'a write on an MSRP connection not finished within this closes the connection' },
  max_msg_chunks: { type: 'int', default: 4, min: 0, doc: 'reads one MSRP message may take before the connection is closed (0 = unlimited)' },
  tls_handshake_timeout: { type: 'int', default: 100, min: 1, unit: 'ms', doc: 'msrps: a TLS handshake (accepted or opened) not done within this closes the connection' },
  cert_check_on_conn_reusage: { type: 'bool', default: false, doc: '1: an msrps connection this side opened is reused only when its peer certificate matches the destination (else a new one is made)' },
  trace_destination: { type: 'string', doc: 'the trace destination (a hep_id name) MSRP traffic is sent to' },
  trace_on: { type: 'bool', default: false, doc: 'trace MSRP traffic to trace_destination (switched at run time by MI msrp:trace)' },
  trace_filter_route: { type: 'string', doc: 'route run when a connection is first traced; if it drops, that connection is never traced' },
} as const satisfies ParamSchema;

/** proto_msrp's modparams as the module receives them after validation (derived from the schema). */
export type ProtoMsrpParams = ParamsOf<typeof protoMsrpParamSchema>;

export const PROTO_MSRP_DEFAULTS: Readonly<ProtoMsrpParams> = paramDefaults('proto_msrp', protoMsrpParamSchema);

/** Head and whole-body bounds: OpenSIPS's 64 KiB buffer each; larger bodies stream. */
export const MSRP_MAX_HEAD = 65535;
export const MSRP_MAX_BODY = 65535;
/**
 * The hard stop of an MSRP connection's write queue (core-conn's maxQueuedBytes): a write
 * finding this many bytes unsent closes the connection ("Write queue full"). The MSRP layer's
 * flow control keeps relayed traffic far below it (MSRP_FLOW_HIGH); it catches a sender that
 * ignores it.
 */
export const MSRP_MAX_QUEUED_BYTES = 64 << 20;

/** proto_msrp has only `send_timeout`: its writes are synchronous (no async params in OpenSIPS). */
const MSRP_WRITE_QUIRKS: WriteQuirks = { fixed: { async: false, maxPostponedChunks: 1024, maxQueuedBytes: MSRP_MAX_QUEUED_BYTES } };

function spec(name: 'msrp' | 'msrps', p: ProtoMsrpParams): ProtocolSpec<MsrpMessage> {
  const s: ProtocolSpec<MsrpMessage> & { tlsHandshakeTimeout?: number } = {
    name,
    transport: name === 'msrp' ? 'tcp' : 'tls',
    defaultPort: null,
    createFramer: () => new MsrpFramer({ maxHeadBytes: MSRP_MAX_HEAD, maxBodyBytes: MSRP_MAX_BODY }),
    maxMsgChunks: p.max_msg_chunks,
    // what the framer buffers: a head + a whole body + the carry of a streamed one (a
    // streamed body is never buffered, whatever its size)
    maxMsgBytes: MSRP_MAX_HEAD + MSRP_MAX_BODY + 512,
    // OpenSIPS's MSRP writes are synchronous, bounded by send_timeout
    write: writeOptionsOf('', p, MSRP_WRITE_QUIRKS),
  };
  if (name === 'msrps') s.tlsHandshakeTimeout = p.tls_handshake_timeout;
  return s;
}

/** msrp: MSRP over plain TCP. No default port: a socket must name one. */
export function msrpSpec(p: ProtoMsrpParams = PROTO_MSRP_DEFAULTS): ProtocolSpec<MsrpMessage> {
  return spec('msrp', p);
}
/** msrps: MSRP over TLS (tls_mgm-style domains of core-conn). No default port. */
export function msrpsSpec(p: ProtoMsrpParams = PROTO_MSRP_DEFAULTS): ProtocolSpec<MsrpMessage> {
  return spec('msrps', p);
}
