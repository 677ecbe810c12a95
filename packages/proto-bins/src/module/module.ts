import { defineModule } from '@x/core-conn';
import { attachBin, type BinApi } from '../bin.js';
import { binSpec, binsSpec, protoBinParamSchema, protoBinsParamSchema, type ProtoBinParams, type ProtoBinsParams } from './params.js';

/**
 * proto_bin (`loadmodule "proto_bin.so"`): protocol "bin", BIN packets over TCP. Its API is
 * the engine's BIN interface (`BinApi`), shared with proto_bins. No MI commands, no tracing.
 */
export const protoBinModule = defineModule<ProtoBinParams, BinApi>({
  name: 'proto_bin',
  packageName: '@x/proto-bins',
  params: protoBinParamSchema,
  protocols: (params) => [binSpec(params) as never],
  init(ctx) {
    const api = attachBin(ctx.engine, { logger: ctx.logger, stats: ctx.stats });
    return { api, mi: [], destroy: () => api.close() };
  },
});

/**
 * proto_bins (`loadmodule "proto_bins.so"`): protocol "bins", BIN packets over TLS through the
 * engine's TLS domains (tls_mgm).
 */
export const protoBinsModule = defineModule<ProtoBinsParams, BinApi>({
  name: 'proto_bins',
  packageName: '@x/proto-bins',
  params: protoBinsParamSchema,
  protocols: (params) => [binsSpec(params) as never],
  // trace_destination / trace_on, served by the 'tracing' module (@x/tracing, loaded implicitly): bins and bin connections
  trace: (params) => ({ protocols: ['bins', 'bin'], destination: params.trace_destination || undefined, on: params.trace_on }),
  uses: ['tracing'],
  // OpenSIPS's proto_bins documentation writes its parameters as modparam("proto_tls", "bins_…")
  paramSpellings: [{ module: 'proto_tls', prefix: 'bins_', source: "OpenSIPS's proto_bins documentation" }],
  init(ctx, params) {
    const api = attachBin(ctx.engine, { logger: ctx.logger, stats: ctx.stats });
    if (params.trace_on) api.tracing.on = true;
    // MI bins:trace is served by @x/tracing's switch for proto_bins (one command, no duplicate
    // name); binsTraceMi(api.tracing) is the same command for hosts without @x/tracing
    return { api, mi: [], destroy: () => api.close() };
  },
});
