import type { Engine, Logger, MiCommand, RouteCaller, StatsRegistry, TraceSinkRegistry } from '@x/core-conn';
import { attachTracing, createTracing, isTracedModule, type ModuleTraceConfig, type Tracing } from '@x/tracing';
import type { ResolvedConfig } from '../config/resolve.js';

/**
 * OpenSIPS's transport tracing, as in OpenSIPS without a loadmodule: every loaded proto module
 * that @x/tracing knows (proto_tcp, proto_bins, proto_msrp) gets its MI trace command and switch
 * (trace_on); one with a trace_destination has its connection events sent there.
 * Destinations were checked against the hep_ids when the config was resolved.
 */
export function startTracing(
  cfg: ResolvedConfig,
  d: { engine: Engine; traceSinks: TraceSinkRegistry; routes: RouteCaller; stats: StatsRegistry; logger: Logger },
): { tracing: Tracing; mi: MiCommand[]; stop(): void } | undefined {
  const modules: ModuleTraceConfig[] = [];
  for (const m of cfg.modules) {
    if (m.loaded.kind !== 'package' || !isTracedModule(m.loaded.name)) continue;
    const p = m.params as { trace_destination?: string; trace_on?: boolean | number; trace_filter_route?: string };
    const one: ModuleTraceConfig = { module: m.loaded.name, on: Boolean(p.trace_on) };
    if (p.trace_destination) one.destination = p.trace_destination;
    if (p.trace_filter_route) one.filterRoute = p.trace_filter_route;
    modules.push(one);
  }
  if (!modules.length) return undefined;
  const tracing = createTracing({ modules, sinks: d.traceSinks, routes: d.routes, stats: d.stats, logger: d.logger });
  const detach = attachTracing(tracing); // core-conn's tap: connection events and messages
  for (const m of modules) {
    if (m.destination) d.logger.info({ module: m.module, destination: m.destination, on: m.on, filterRoute: m.filterRoute }, `${m.module}: transport events traced to hep_id [${m.destination}] (${m.on ? 'on' : 'off'}; MI ${m.module.slice(6)}:trace switches it)`);
  }
  return {
    tracing,
    mi: tracing.miCommands(),
    stop() {
      detach();
      tracing.close();
    },
  };
}
