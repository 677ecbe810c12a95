import { paramDefaults, writeOptionsOf, type ParamSchema, type ParamsOf, type ProtocolSpec, type WriteQuirks } from '@x/core-conn';
import { MsrpFramer, type MsrpFrame } from '../framer/framer.js';

export const protoMsrpParamSchema = {
  send_timeout: { type: 'int', default: 100, min: 1, unit: 'ms', doc: 'a write on an MSRP connection not finished within this closes the connection' },
  max_msg_chunks: { type: 'int', default: 4, min: 0, doc: 'reads one MSRP message may take before the connection is closed (0 = unlimited)' },
  tls_handshake_timeout: { type: 'int', default: 100, min: 1, unit: 'ms', doc: 'msrps: a TLS handshake (accepted or opened) not done within this closes the connection' },
  cert_check_on_conn_reusage: { type: 'bool', default: false, doc: '1: an outbound msrps connection is reused only when its peer certificate matches the destination' },
  trace_destination: { type: 'string', doc: 'the trace destination (a hep_id name) MSRP traffic is sent to' },
  trace_on: { type: 'bool', default: false, doc: 'trace MSRP traffic to trace_destination (switched at run time by MI msrp:trace)' },
  trace_filter_route: { type: 'string', doc: 'route run when a connection is first traced; if it drops, that connection is never traced' },
} as const satisfies ParamSchema;

/** proto_msrp's modparams as the module receives them after validation (derived from the schema). */
export type ProtoMsrpParams = ParamsOf<typeof protoMsrpParamSchema>;

export const PROTO_MSRP_DEFAULTS: Readonly<ProtoMsrpParams> = paramDefaults('proto_msrp', protoMsrpParamSchema);

/** proto_msrp has only `send_timeout`: its writes are synchronous (no async params in OpenSIPS). */
const MSRP_WRITE_QUIRKS: WriteQuirks = { fixed: { async: false, maxPostponedChunks: 1024 } };

/** Head and whole-body bounds: OpenSIPS's 64 KiB buffer each; larger bodies stream. */
export const MSRP_MAX_HEAD = 65535;
export const MSRP_MAX_BODY = 65535;

function spec(name: 'msrp' | 'msrps', p: ProtoMsrpParams): ProtocolSpec<MsrpFrame> {
  const s: ProtocolSpec<MsrpFrame> & { tlsHandshakeTimeout?: number } = {
    name,
    transport: name === 'msrp' ? 'tcp' : 'tls',
    defaultPort: null,
    createFramer: () => new MsrpFramer({ maxHeadBytes: MSRP_MAX_HEAD, maxBodyBytes: MSRP_MAX_BODY }),
    maxMsgChunks: p.max_msg_chunks,
    // head + a whole body + the carry of a streamed one
    maxMsgBytes: MSRP_MAX_HEAD + MSRP_MAX_BODY + 512,
    // OpenSIPS's MSRP writes are synchronous, bounded by send_timeout
    write: writeOptionsOf('', p, MSRP_WRITE_QUIRKS),
  };
  if (name === 'msrps') s.tlsHandshakeTimeout = p.tls_handshake_timeout;
  return s;
}

/** msrp: MSRP over plain TCP. No default port: a socket must name one. */
export function msrpSpec(p: ProtoMsrpParams = PROTO_MSRP_DEFAULTS): ProtocolSpec<MsrpFrame> {
  return spec('msrp', p);
}
/** msrps: MSRP over TLS (tls_mgm-style domains of core-conn). No default port. */
export function msrpsSpec(p: ProtoMsrpParams = PROTO_MSRP_DEFAULTS): ProtocolSpec<MsrpFrame> {
  return spec('msrps', p);
}
