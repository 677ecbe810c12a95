import { ConfigError, defineModule, ErrorCodes } from '@x/core-conn';
import { attachHep, HEP_SCRIPT_SKIP, type HepApi } from '../hep.js';
import { missingHepSocket, parseHepId, type HepDestination } from '../hep-id.js';
import { HEP_DEST_DEFAULT_PORT, hepTcpSpec, hepUdpSpec, protoHepParamSchema, type ProtoHepParams } from './params.js';

/** The hep_id settings that parse, with their index (a bad one was refused by the param's own validation). */
function hepIds(params: ProtoHepParams): Array<{ dest: HepDestination; index: number }> {
  const out: Array<{ dest: HepDestination; index: number }> = [];
  params.hep_id.forEach((def, index) => {
    try {
      out.push({ dest: parseHepId(def, HEP_DEST_DEFAULT_PORT), index });
    } catch {
      // reported by the hep_id param's validation
    }
  });
  return out;
}

/**
 * OpenSIPS's start-up rule (hep.md §1, §5): at least one hep_udp or hep_tcp socket, and a
 * hep_udp socket to send from for every udp hep_id. Throws a ConfigError naming the hep_id
 * setting at fault (or none: the loadmodule).
 */
function assertHepSockets(protos: readonly string[], ids: ReadonlyArray<{ dest: HepDestination; index: number }>, hint: boolean): void {
  const missing = missingHepSocket(protos, ids.map((i) => i.dest));
  if (missing?.destination) {
    const at = ids.find((i) => i.dest === missing.destination);
    throw new ConfigError(ErrorCodes.INVALID_OPTION, `hep_id [${missing.destination.name}] sends over udp: it needs a hep_udp socket to send from${hint ? ' (add socket = hep_udp:...)' : ''}`, {
      param: 'hep_id',
      ...(at ? { index: at.index } : {}),
    });
  }
  if (missing) {
    throw new ConfigError(ErrorCodes.INVALID_OPTION, `needs at least one hep_udp or hep_tcp socket${hint ? ' (e.g. socket = hep_udp:127.0.0.1:9060)' : ''}, as OpenSIPS refuses to start without one`);
  }
}

/**
 * The proto_hep module descriptor (`loadmodule "proto_hep.so"`): protocols hep_udp and hep_tcp,
 * the HEP callback API for consumers (sipcapture-like modules), one trace destination per
 * hep_id, and the route script's `hep` export run for every packet received.
 *
 * `checkConfig` applies OpenSIPS's start-up rules (hep.md §1, §5): at least one hep_udp or
 * hep_tcp socket, and a hep_udp socket to send from for every udp hep_id; `listening` checks
 * the same against the bound listeners.
 */
export const protoHepModule = defineModule<ProtoHepParams, HepApi>({
  name: 'proto_hep',
  packageName: '@x/proto-hep',
  params: protoHepParamSchema,
  checkConfig(params, config) {
    assertHepSockets(config.sockets.map((s) => s.proto), hepIds(params), true);
  },
  protocols: (params) => [hepUdpSpec(params) as never, hepTcpSpec(params) as never],
  routes: () => [{ name: 'hep', doc: 'every HEP packet received; ctx.drop() keeps it from the SIP script (HEP_SCRIPT_SKIP); without the export the packet counts as dropped' }],
  traceDestinations: (params) => hepIds(params).map((i) => i.dest.name),
  init(ctx, params) {
    const api = attachHep(ctx.engine, params, {
      logger: ctx.logger,
      stats: ctx.stats,
      registerSink: (s) => ctx.traceSinks.register(s),
    });
    const unregister = api.registerHepCallback((rcv) => {
      // No `hep` route: the packet was not consumed, so proto_hep counts it as dropped
      // (OpenSIPS: a packet no callback handles is dropped).
      if (!ctx.hasRoute('hep')) return -1;
      const r = ctx.routes('hep', { message: rcv, remote: rcv.remote, local: rcv.local, proto: rcv.proto });
      return r === false ? HEP_SCRIPT_SKIP : undefined;
    });
    return {
      api,
      mi: [],
      listening: (listeners) => assertHepSockets(listeners.map((l) => l.proto), hepIds(params), false),
      destroy: () => {
        unregister();
        api.close();
      },
    };
  },
});
