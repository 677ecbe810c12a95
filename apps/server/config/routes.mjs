// Route script of the default configuration. Named exports are routes:
// `request` / `reply` for SIP, `hep` for HEP packets. See the README for the context.

/** @param {import('@x/server').SipRequestContext} ctx */
export async function request(ctx) {
  const msg = ctx.message;
  ctx.log.info({ method: msg.method, ruri: msg.uri, si: ctx.si, sp: ctx.sp, callId: msg.callId }, `${msg.method} ${msg.uri} from ${ctx.si}:${ctx.sp}`);
  if (msg.method === 'OPTIONS') return ctx.reply(200, 'OK');
  if (msg.method === 'ACK') return ctx.drop();
  return ctx.reply(501, 'Not Implemented');
}

/** @param {import('@x/server').SipReplyContext} ctx */
export function reply(ctx) {
  ctx.log.info({ status: ctx.message.status, si: ctx.si, sp: ctx.sp }, `reply ${ctx.message.status} from ${ctx.si}:${ctx.sp}`);
}

/** @param {import('@x/server').HepRouteContext} ctx */
export function hep(ctx) {
  ctx.log.info({ si: ctx.si, sp: ctx.sp, proto: ctx.proto, bytes: ctx.message.payload.length }, `HEP packet from ${ctx.si}:${ctx.sp}`);
}
