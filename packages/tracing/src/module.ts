/**
 * The 'tracing' module descriptor: OpenSIPS's transport tracing for every loaded module that
 * declares it is traceable (`Module.trace`: proto_tcp, proto_tls, proto_bins, proto_msrp), to the trace
 * destinations other modules register (proto_hep's hep_ids). Those modules `use` it, so a host
 * loads it implicitly, as OpenSIPS needs no loadmodule for tracing.
 */
import { ConfigError, defineModule, ErrorCodes, type LoadedModuleView } from '@x/core-conn';
import { attachTracing } from './tap.js';
import { createTracing, isTracedModule, type ModuleTraceConfig, type Tracing } from './tracer.js';

/** The traceable modules' settings, as `createTracing` takes them. */
function traceConfigs(modules: readonly LoadedModuleView[]): ModuleTraceConfig[] {
  const out: ModuleTraceConfig[] = [];
  for (const m of modules) {
    if (!m.trace || !isTracedModule(m.name)) continue;
    const one: ModuleTraceConfig = { module: m.name, on: m.trace.on, protocols: m.trace.protocols };
    if (m.trace.destination) one.destination = m.trace.destination;
    if (m.trace.filterRoute) one.filterRoute = m.trace.filterRoute;
    out.push(one);
  }
  return out;
}

export const tracingModule = defineModule<Record<string, never>, Tracing | undefined>({
  name: 'tracing',
  packageName: '@x/tracing',
  params: {},
  /**
   * Every trace_destination must name a registered destination (a hep_id): OpenSIPS silently
   * traces nothing otherwise; we refuse it (tracing.md §1), at the module's trace_destination.
   */
  checkConfig(_params, config) {
    const names = config.modules.flatMap((m) => m.traceDestinations);
    const hep = config.modules.some((m) => m.name === 'proto_hep');
    for (const m of config.modules) {
      const name = m.trace?.destination;
      if (!name) continue;
      const at = { module: m.name, param: 'trace_destination' };
      if (!isTracedModule(m.name)) throw new ConfigError(ErrorCodes.INVALID_OPTION, `trace_destination "${name}": @x/tracing does not trace ${m.name}`, at);
      if (!hep) throw new ConfigError(ErrorCodes.INVALID_OPTION, `trace_destination "${name}" needs proto_hep: loadmodule "proto_hep.so" and modparam("proto_hep", "hep_id", "[${name}] host:port")`, at);
      if (!names.includes(name)) {
        throw new ConfigError(ErrorCodes.INVALID_OPTION, `trace_destination "${name}" names no hep_id (${names.length ? `defined: ${names.join(', ')}` : 'proto_hep defines none'}); OpenSIPS would silently trace nothing`, at);
      }
    }
  },
  /** subscribes to core-conn's tap before any socket opens; the MI trace commands of the traced modules; ctx.trace() */
  init(ctx) {
    const modules = traceConfigs(ctx.loaded);
    if (!modules.length) return { mi: [] };
    // the destinations the loaded modules declare (proto_hep's hep_ids): known now, registered by
    // their module's init, which may come after this one (an explicit loadmodule "tracing.so"
    // placed first); the tracer looks a destination up at its first use
    const declared = ctx.loaded.flatMap((m) => m.traceDestinations);
    const sinks = { get: <P,>(n: string) => ctx.traceSinks.get<P>(n), names: () => [...new Set([...ctx.traceSinks.names(), ...declared])] };
    const tracing = createTracing({ modules, sinks, routes: ctx.routes, stats: ctx.stats, logger: ctx.logger });
    const detach = attachTracing(tracing); // core-conn's tap: connection events and messages
    for (const m of modules) {
      if (m.destination) ctx.logger.info({ module: m.module, destination: m.destination, on: m.on, filterRoute: m.filterRoute }, `${m.module}: transport events traced to hep_id [${m.destination}] (${m.on ? 'on' : 'off'}; MI ${m.module.slice(6)}:trace switches it)`);
    }
    return {
      api: tracing,
      /** every module is initialised: each destination must now be registered */
      listening() {
        for (const m of modules) {
          if (m.destination !== undefined && !ctx.traceSinks.get(m.destination)) {
            throw new ConfigError(ErrorCodes.INVALID_OPTION, `trace_destination "${m.destination}": no module registered it (defined: ${ctx.traceSinks.names().join(', ') || 'none'})`, { module: m.module, param: 'trace_destination' });
          }
        }
      },
      mi: tracing.miCommands(),
      // the route script's ctx.trace(): this message (and the later ones of its Call-ID / transaction) as HEP
      traceMessage: (message, opts) => tracing.trace(message, opts),
      destroy() {
        detach();
        tracing.close();
      },
    };
  },
});
