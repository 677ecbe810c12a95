import { defineModule } from '@x/core-conn';
import { attachSipTcp, attachSipTls, type SipTcp, type SipTls } from '../sip-tcp.js';
import { protoTcpParamSchema, tcpProtocolSpec, type ProtoTcpParams } from './params.js';
import { protoTlsParamSchema, tlsProtocolSpec, type ProtoTlsParams } from './tls-params.js';

/**
 * The proto_tcp module descriptor (`loadmodule "proto_tcp.so"`). `protocols` builds the 'tcp'
 * spec from the validated params; `init` returns the SipTcp API bound to the server's engine
 * (alias_mode handling and message events). No MI commands: tcp:trace belongs to @x/tracing.
 */
export const protoTcpModule = defineModule<ProtoTcpParams, SipTcp>({
  name: 'proto_tcp',
  packageName: '@x/proto-tcp',
  params: protoTcpParamSchema,
  protocols: (params) => [tcpProtocolSpec(params) as never],
  init(ctx, params) {
    const api = attachSipTcp(ctx.engine, params, ctx.logger);
    return { api, mi: [], destroy: () => api.close() };
  },
});

/**
 * The proto_tls module descriptor (`loadmodule "proto_tls.so"`): SIP over TLS with the same
 * framer and API as proto_tcp, on the 'tls' protocol (tls_port 5061). Certificates come from
 * the engine's TLS domains (the server's tls_mgm modparams): a `tls:` socket needs a server
 * domain that matches it, an outbound send a client domain.
 */
export const protoTlsModule = defineModule<ProtoTlsParams, SipTls>({
  name: 'proto_tls',
  packageName: '@x/proto-tcp',
  params: protoTlsParamSchema,
  protocols: (params) => [tlsProtocolSpec(params) as never],
  init(ctx, params) {
    const api = attachSipTls(ctx.engine, params, ctx.logger);
    return { api, mi: [], destroy: () => api.close() };
  },
});
