import { defineModule } from '@x/core-conn';
import { attachMsrp, type MsrpApi } from '../msrp.js';
import { msrpSpec, msrpsSpec, protoMsrpParamSchema, type ProtoMsrpParams } from './params.js';

/**
 * The proto_msrp module descriptor (`loadmodule "proto_msrp.so"`): protocols msrp and msrps
 * (no default port), the MSRP API for other modules (msrp_relay) as its `api`. Its trace params
 * (trace_destination, trace_on, trace_filter_route) and the MI `msrp:trace` are served by
 * @x/tracing, which x-server wires for every traced proto module (as OpenSIPS, no loadmodule).
 */
export const protoMsrpModule = defineModule<ProtoMsrpParams, MsrpApi>({
  name: 'proto_msrp',
  packageName: '@x/proto-msrp',
  params: protoMsrpParamSchema,
  protocols: (params) => [msrpSpec(params) as never, msrpsSpec(params) as never],
  init(ctx, params) {
    const api = attachMsrp(ctx.engine, { logger: ctx.logger, certCheckOnReuse: params.cert_check_on_conn_reusage });
    return {
      api,
      destroy: () => api.close(),
    };
  },
});
