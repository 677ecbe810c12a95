import { defineModule } from '@x/core-conn';
import { attachMsrp, type MsrpApi } from '../msrp.js';
import { msrpSpec, msrpsSpec, protoMsrpParamSchema, type ProtoMsrpParams } from './params.js';

/**
 * The proto_msrp module descriptor (`loadmodule "proto_msrp.so"`): protocols msrp and msrps
 * (no default port), the MSRP API for other modules (msrp_relay) as its `api`. Its trace params
 * (trace_destination, trace_on, trace_filter_route) are declared through `trace`; the MI
 * `msrp:trace` and the tracing are served by the 'tracing' module of @x/tracing, which it `uses`
 * (loaded implicitly, as OpenSIPS needs no loadmodule).
 */
export const protoMsrpModule = defineModule<ProtoMsrpParams, MsrpApi>({
  name: 'proto_msrp',
  packageName: '@x/proto-msrp',
  params: protoMsrpParamSchema,
  protocols: (params) => [msrpSpec(params) as never, msrpsSpec(params) as never],
  routes: (params) => (params.trace_filter_route ? [{ name: params.trace_filter_route, param: 'trace_filter_route', doc: 'decides per connection whether to trace it' }] : []),
  // trace_destination / trace_on / trace_filter_route, served by the 'tracing' module (@x/tracing, loaded implicitly)
  trace: (params) => ({ protocols: ['msrp', 'msrps'], destination: params.trace_destination || undefined, on: params.trace_on, filterRoute: params.trace_filter_route || undefined }),
  uses: ['tracing'],
  init(ctx, params) {
    const api = attachMsrp(ctx.engine, { logger: ctx.logger, certCheckOnReuse: params.cert_check_on_conn_reusage });
    return {
      api,
      destroy: () => api.close(),
    };
  },
});
