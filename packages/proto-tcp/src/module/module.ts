import { defineModule, type ModuleContext, type RouteBinding, type TraceDeclaration } from '@x/core-conn';
import { attachSipTcp, attachSipTls, type SipTcp, type SipTls } from '../sip-tcp.js';
import type { SipMessage } from '../message.js';
import { protoTcpParamSchema, tcpProtocolSpec, type ProtoTcpParams } from './params.js';
import { protoTlsParamSchema, tlsProtocolSpec, type ProtoTlsParams } from './tls-params.js';

/** The route-script exports a SIP module (proto_tcp, proto_tls) runs, and the core statistics they count. */
function sipRoutes(traceFilterRoute: string | undefined): RouteBinding[] {
  return [
    {
      name: 'request',
      doc: 'every SIP request received; ctx.reply(code, reason) answers it statelessly',
      stats: { received: 'core:rcv_requests', dropped: 'core:drop_requests', failed: 'core:err_requests' },
    },
    { name: 'reply', doc: 'every SIP reply received', stats: { received: 'core:rcv_replies', dropped: 'core:drop_replies', failed: 'core:err_replies' } },
    // run by the module serving tracing; declared here so that the script is checked at start-up
    ...(traceFilterRoute ? [{ name: traceFilterRoute, param: 'trace_filter_route', doc: 'decides per connection whether to trace it' }] : []),
  ];
}

/** OpenSIPS's trace_destination / trace_on / trace_filter_route of a SIP module. */
function sipTrace(proto: 'tcp' | 'tls', p: { trace_destination?: string | undefined; trace_on: boolean; trace_filter_route?: string | undefined }): TraceDeclaration {
  return { protocols: [proto], destination: p.trace_destination || undefined, on: p.trace_on, filterRoute: p.trace_filter_route || undefined };
}

/** Runs `request` for every request and `reply` for every reply; counts core:bad_msg_hdr. */
function wireSipRoutes(ctx: ModuleContext, api: SipTcp | SipTls): void {
  api.on('request', (msg: SipMessage) => {
    ctx.routes('request', { message: msg, connection: msg.conn, reply: (code, reason, headers) => msg.reply(code, reason, headers) });
  });
  api.on('response', (msg: SipMessage) => {
    ctx.routes('reply', { message: msg, connection: msg.conn });
  });
  // OpenSIPS's core:bad_msg_hdr: a message whose headers do not parse (its connection is closed with an ERR_SIP_* error)
  const badMsgHdr = ctx.stats.counter('core', 'bad_msg_hdr', 'SIP messages whose headers did not parse (their connection was closed)');
  api.on('close', (ev) => {
    const code = (ev.error as { code?: unknown } | undefined)?.code;
    if (typeof code === 'string' && code.startsWith('ERR_SIP_')) badMsgHdr.inc();
  });
}

/**
 * The proto_tcp module descriptor (`loadmodule "proto_tcp.so"`). `protocols` builds the 'tcp'
 * spec from the validated params; `init` returns the SipTcp API bound to the host's engine
 * (alias_mode handling and message events) and runs the route script's `request` export for
 * every request and `reply` for every reply. Its trace params are declared through `trace`;
 * the 'tracing' module (@x/tracing, loaded implicitly) serves them and MI `tcp:trace`.
 */
export const protoTcpModule = defineModule<ProtoTcpParams, SipTcp>({
  name: 'proto_tcp',
  packageName: '@x/proto-tcp',
  params: protoTcpParamSchema,
  protocols: (params) => [tcpProtocolSpec(params) as never],
  routes: (params) => sipRoutes(params.trace_filter_route),
  trace: (params) => sipTrace('tcp', params),
  uses: ['tracing'],
  init(ctx, params) {
    const api = attachSipTcp(ctx.engine, params, ctx.logger);
    wireSipRoutes(ctx, api);
    return { api, mi: [], destroy: () => api.close() };
  },
});

/**
 * The proto_tls module descriptor (`loadmodule "proto_tls.so"`): SIP over TLS with the same
 * framer and API as proto_tcp, on the 'tls' protocol (tls_port 5061; tls_handshake_timeout
 * bounds its handshakes). Certificates come from the engine's TLS domains (the host's tls_mgm
 * modparams): a `tls:` socket needs a server domain that matches it, an outbound send a client
 * domain. Its trace params are declared through `trace`; the 'tracing' module (@x/tracing,
 * loaded implicitly) serves them (TLS handshake events with the certificates, CLOSED, SIP
 * messages by ctx.trace()) and MI `tls:trace`.
 */
export const protoTlsModule = defineModule<ProtoTlsParams, SipTls>({
  name: 'proto_tls',
  packageName: '@x/proto-tcp',
  params: protoTlsParamSchema,
  protocols: (params) => [tlsProtocolSpec(params) as never],
  routes: (params) => sipRoutes(params.trace_filter_route),
  trace: (params) => sipTrace('tls', params),
  uses: ['tracing'],
  init(ctx, params) {
    const api = attachSipTls(ctx.engine, params, ctx.logger);
    wireSipRoutes(ctx, api);
    return { api, mi: [], destroy: () => api.close() };
  },
});
