import { defineModule } from '@x/core-conn';
import { attachSipTcp, type SipTcp } from '../sip-tcp.js';
import { protoTcpParamSchema, tcpProtocolSpec, type ProtoTcpParams } from './params.js';

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
