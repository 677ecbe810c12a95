import { defineModule } from '@x/core-conn';
import { attachHep, type HepApi } from '../hep.js';
import { hepTcpSpec, hepUdpSpec, protoHepParamSchema, type ProtoHepParams } from './params.js';

/**
 * The proto_hep module descriptor (`loadmodule "proto_hep.so"`): protocols hep_udp and hep_tcp,
 * the HEP callback API for consumers (sipcapture-like modules), and one TraceSink per hep_id.
 */
export const protoHepModule = defineModule<ProtoHepParams, HepApi>({
  name: 'proto_hep',
  packageName: '@x/proto-hep',
  params: protoHepParamSchema,
  protocols: (params) => [hepUdpSpec(params) as never, hepTcpSpec(params) as never],
  init(ctx, params) {
    const api = attachHep(ctx.engine, params, {
      logger: ctx.logger,
      stats: ctx.stats,
      registerSink: (s) => ctx.traceSinks.register(s),
    });
    return { api, mi: [], destroy: () => api.close() };
  },
});
