import type { ParamSchema, ProtocolSpec } from '@x/core-conn';
import { MsrpFramer, type MsrpFrame } from '../framer/framer.js';

/** proto_msrp's modparams as the module receives them after validation. */
export interface ProtoMsrpParams {
  send_timeout: number;
  max_msg_chunks: number;
  tls_handshake_timeout: number;
  cert_check_on_conn_reusage: boolean;
  trace_destination?: string;
  trace_on: boolean;
  trace_filter_route?: string;
}

export const protoMsrpParamSchema = {
  send_timeout: { type: 'int', default: 100, min: 1, unit: 'ms', doc: 'a write on an MSRP connection not finished within this closes the connection' },
  max_msg_chunks: { type: 'int', default: 4, min: 0, doc: 'reads one MSRP message may take before the connection is closed (0 = unlimited)' },
  tls_handshake_timeout: { type: 'int', default: 100, min: 1, unit: 'ms', doc: 'msrps: a TLS handshake (accepted or opened) not done within this closes the connection' },
  cert_check_on_conn_reusage: { type: 'bool', default: false, doc: '1: an outbound msrps connection is reused only when its peer certificate matches the destination' },
  trace_destination: { type: 'string', doc: 'the trace destination (a hep_id name) MSRP traffic is sent to' },
  trace_on: { type: 'bool', default: false, doc: 'trace MSRP traffic to trace_destination (switched at run time by MI msrp:trace)' },
  trace_filter_route: { type: 'string', doc: 'route run when a connection is first traced; if it drops, that connection is never traced' },
} as const satisfies ParamSchema;

export const PROTO_MSRP_DEFAULTS: Readonly<ProtoMsrpParams> = Object.freeze({
  send_timeout: 100,
  max_msg_chunks: 4,
  tls_handshake_timeout: 100,
  cert_check_on_conn_reusage: false,
  trace_on: false,
});

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
    write: { async: false, sendTimeout: p.send_timeout, maxPostponedChunks: 1024, localConnectTimeout: 100, localWriteTimeout: 10 },
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
