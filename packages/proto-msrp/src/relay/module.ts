import { ConfigError, defineModule, type ParamSchema } from '@x/core-conn';
import type { MsrpApi } from '../msrp.js';
import { attachRelay, parseMyUri, type MsrpRelay, type MsrpRelayParams } from './relay.js';

export const msrpRelayParamSchema = {
  my_uri: {
    type: 'string',
    multi: true,
    doc: 'an MSRP URI of this relay, e.g. "msrp://127.0.0.1:22855;tcp" (port 2855 when omitted); may be set more than once',
    validate: (v: string) => {
      try {
        parseMyUri(v);
        return undefined;
      } catch (err) {
        return (err as Error).message;
      }
    },
  },
  auth_route: { type: 'string', default: 'msrp_auth', doc: 'route-script export called as msrp_auth(ctx) with ctx.username, ctx.realm, ctx.source and the AUTH request as ctx.message (ctx.trace() traces it); returns the password (calculate_ha1=1) or the HA1' },
  auth_realm: { type: 'string', doc: 'the Digest realm (default: the host of the top To-Path URL)' },
  auth_expires: { type: 'int', default: 1800, min: 1, unit: 's', doc: 'session lifetime when the AUTH has no Expires header' },
  auth_min_expires: { type: 'int', default: 0, min: 0, unit: 's', doc: 'smallest Expires accepted (0 = no bound); below it: 423 with Min-Expires' },
  auth_max_expires: { type: 'int', default: 0, min: 0, unit: 's', doc: 'largest Expires accepted (0 = no bound); above it: 423 with Max-Expires' },
  calculate_ha1: { type: 'bool', default: false, doc: '1: the auth route returns the plain password; 0: it returns the HA1 (32 hex chars)' },
  cleanup_interval: { type: 'int', default: 60, min: 1, unit: 's', doc: 'how often expired sessions are removed' },
  nonce_expire: { type: 'int', default: 30, min: 1, unit: 's', doc: 'lifetime of a Digest nonce; an older one is re-challenged with stale=true' },
  hash_size: { type: 'int', default: 10, min: 1, max: 20, doc: 'sessions table size as a power of two (accepted for compatibility; sessions live in a Map)' },
} as const satisfies ParamSchema;

/**
 * The msrp_relay module descriptor (`loadmodule "msrp_relay.so"`): an RFC 4976 relay on
 * proto_msrp's API, configured as OpenSIPS's. The auth_route names a route-script export.
 */
export const msrpRelayModule = defineModule<MsrpRelayParams, MsrpRelay>({
  name: 'msrp_relay',
  packageName: '@x/proto-msrp',
  params: msrpRelayParamSchema,
  dependsOn: ['proto_msrp'],
  routes: (params) => [{ name: params.auth_route, param: 'auth_route', doc: 'msrp_auth(ctx): ctx.username, ctx.realm, ctx.source; returns the password (calculate_ha1=1) or the HA1' }],
  init(ctx, params) {
    const api = ctx.modules.get('proto_msrp') as MsrpApi | undefined;
    if (!api) throw new ConfigError('ERR_MSRP_RELAY_NO_PROTO', 'msrp_relay needs proto_msrp loaded');
    if (!params.my_uri || params.my_uri.length === 0) throw new ConfigError('ERR_MSRP_RELAY_NO_URI', "msrp_relay: set at least one modparam 'my_uri'");
    const relay = attachRelay(api, params, {
      logger: ctx.logger,
      // the route reads ctx.username, ctx.realm and ctx.source (x-server adds them to its route
      // context); ctx.message is the AUTH request, so that ctx.trace() can trace it
      auth: (a) => ctx.routes(params.auth_route, { message: a.message, connection: a.conn, remote: a.source, proto: a.conn.proto, fields: { username: a.username, realm: a.realm, source: a.source } }),
    });
    return { api: relay, destroy: () => relay.close() };
  },
});
