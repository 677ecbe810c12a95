import { defineModule, MiError, type ConnectionInfo, type MiCommand, type ModuleContext } from '@x/core-conn';
import { attachMsrp, type MsrpApi } from '../msrp.js';
import { msrpSpec, msrpsSpec, protoMsrpParamSchema, type ProtoMsrpParams } from './params.js';

/** The `msrp:trace` / `msrp_trace` MI command over a switch, exactly as OpenSIPS's. */
export function msrpTraceMi(state: { on: boolean }): MiCommand {
  return {
    name: 'msrp:trace',
    aliases: ['msrp_trace'],
    recipes: [[], ['trace_mode']],
    doc: 'shows or switches MSRP tracing: trace_mode "on" or "off"',
    handler(params) {
      const mode = params.trace_mode;
      if (mode === undefined) return { 'MSRP tracing': state.on ? 'on' : 'off' };
      const s = typeof mode === 'string' ? mode : JSON.stringify(mode);
      if (s.length === 2 && s.toLowerCase() === 'on') state.on = true;
      // OpenSIPS compares the first two chars of a 3-char value with "off"
      else if (s.length === 3 && s.slice(0, 2).toLowerCase() === 'of') state.on = false;
      else throw new MiError(-32602, 'Invalid params', "trace_mode should be 'on' or 'off'");
      return 'OK';
    },
  };
}

/**
 * Tracing as OpenSIPS's proto_msrp does it in practice: only the outbound "connected" event
 * gets out (labelled TCP), through the trace_destination sink, after trace_filter_route.
 */
function attachTracing(ctx: ModuleContext, params: ProtoMsrpParams, state: { on: boolean }): () => void {
  const dropped = new Set<number>();
  const onConnect = (conn: ConnectionInfo): void => {
    if (!state.on || !params.trace_destination || (conn.proto !== 'msrp' && conn.proto !== 'msrps')) return;
    const sink = ctx.traceSinks.get(params.trace_destination);
    if (!sink) return;
    const emit = (): void =>
      sink.send({
        protoType: 0x59,
        ipProto: 6,
        src: conn.remote,
        dst: conn.local,
        correlationId: conn.cid.toString(),
        payload: 'TCP:CONNECTED:SUCCESS:Successfully connected...',
      });
    if (!params.trace_filter_route) return emit();
    void Promise.resolve(ctx.routes(params.trace_filter_route, { conn, proto: conn.proto, src: conn.remote, dst: conn.local }))
      .then((r) => {
        if (r === false || r === 'drop') dropped.add(conn.id);
        else emit();
      })
      .catch(() => emit());
  };
  const onClose = (ev: { conn: ConnectionInfo }): void => void dropped.delete(ev.conn.id);
  ctx.engine.on('connect', onConnect);
  ctx.engine.on('close', onClose);
  return () => {
    ctx.engine.off('connect', onConnect);
    ctx.engine.off('close', onClose);
  };
}

/**
 * The proto_msrp module descriptor (`loadmodule "proto_msrp.so"`): protocols msrp and msrps
 * (no default port), the MSRP API for other modules (msrp_relay) as its `api`, MI
 * `msrp:trace`.
 */
export const protoMsrpModule = defineModule<ProtoMsrpParams, MsrpApi>({
  name: 'proto_msrp',
  packageName: '@x/proto-msrp',
  params: protoMsrpParamSchema,
  protocols: (params) => [msrpSpec(params) as never, msrpsSpec(params) as never],
  init(ctx, params) {
    const api = attachMsrp(ctx.engine, { logger: ctx.logger, certCheckOnReuse: params.cert_check_on_conn_reusage });
    const state = { on: params.trace_on };
    const undo = attachTracing(ctx, params, state);
    return {
      api,
      mi: [msrpTraceMi(state)],
      destroy: () => {
        undo();
        api.close();
      },
    };
  },
});
