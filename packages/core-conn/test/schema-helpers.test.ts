import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  ConfigError,
  DEFAULT_PROFILE,
  OPENSIPS_PROFILE_FIELDS,
  paramDefaults,
  profileFromGlobals,
  profileFromOpenSips,
  validateParams,
  writeOptionsOf,
  writeParamSchema,
  type ConnectionProfile,
  type ParamSchema,
  type ParamsOf,
} from '../src/index.js';

const schema = {
  x_port: { type: 'int', default: 5060, min: 1, max: 65535, doc: '' },
  x_name: { type: 'string', doc: '' },
  x_on: { type: 'bool', default: false, doc: '' },
  x_dest: { type: 'string', multi: true, doc: '' },
  ...writeParamSchema('x', { defaults: { maxPostponedChunks: 1024 } }),
} as const satisfies ParamSchema;

describe('one schema per module: types and defaults derived from it', () => {
  it('ParamsOf: int -> number, bool -> boolean, multi -> array, no default -> optional', () => {
    type P = ParamsOf<typeof schema>;
    expectTypeOf<P['x_port']>().toEqualTypeOf<number>();
    expectTypeOf<P['x_on']>().toEqualTypeOf<boolean>();
    expectTypeOf<P['x_dest']>().toEqualTypeOf<string[]>();
    expectTypeOf<P['x_async']>().toEqualTypeOf<boolean>();
    expectTypeOf<P['x_async_max_postponed_chunks']>().toEqualTypeOf<number>();
    expectTypeOf<Pick<P, 'x_name'>>().toEqualTypeOf<{ x_name?: string }>();
  });

  it('paramDefaults gives what validateParams gives with nothing set, frozen', () => {
    const d = paramDefaults('x', schema);
    expect(d).toEqual({
      x_port: 5060, x_on: false, x_dest: [],
      x_async: true, x_send_timeout: 100, x_async_max_postponed_chunks: 1024, x_async_local_connect_timeout: 100, x_async_local_write_timeout: 10,
    });
    expect(d).toEqual(validateParams('x', schema, new Map()));
    expect(Object.isFrozen(d)).toBe(true);
  });

  it('writeParamSchema: the OpenSIPS write params with one set of ranges; `only` keeps what a module has', () => {
    expect(Object.keys(writeParamSchema('bins'))).toEqual(['bins_async', 'bins_send_timeout', 'bins_async_max_postponed_chunks', 'bins_async_local_connect_timeout', 'bins_async_local_write_timeout']);
    expect(Object.keys(writeParamSchema('tls', { only: ['async', 'send_timeout', 'async_max_postponed_chunks', 'async_local_connect_timeout'] }))).toEqual(['tls_async', 'tls_send_timeout', 'tls_async_max_postponed_chunks', 'tls_async_local_connect_timeout']);
    expect(Object.keys(writeParamSchema('', { only: ['send_timeout'] }))).toEqual(['send_timeout']);
    expect(() => validateParams('x', schema, new Map([['x_send_timeout', [{ value: 0 }]]]))).toThrow(/x_send_timeout" expects an integer >= 1, got 0/);
  });
});

describe('writeOptionsOf: <prefix>_async* params -> WriteOptions', () => {
  const params = (over: Record<string, number | boolean> = {}) => ({ ...paramDefaults('x', schema), ...over });
  it('maps each param', () => {
    expect(writeOptionsOf('x', params({ x_async: false, x_send_timeout: 7, x_async_local_connect_timeout: 8, x_async_local_write_timeout: 9 }))).toEqual({
      async: false, sendTimeout: 7, maxPostponedChunks: 1024, localConnectTimeout: 8, localWriteTimeout: 9,
    });
  });
  it("OpenSIPS's proto_tcp quirk: with async on, fewer than 2 postponed chunks become 2; without the quirk (tls, hep, bin, bins) the value stays", () => {
    const tcp = (chunks: number, async: boolean) => writeOptionsOf('x', params({ x_async_max_postponed_chunks: chunks, x_async: async }), { minAsyncPostponedChunks: 2 }).maxPostponedChunks;
    expect([tcp(0, true), tcp(1, true), tcp(2, true), tcp(5, true)]).toEqual([2, 2, 2, 5]);
    expect([tcp(0, false), tcp(1, false)]).toEqual([0, 1]);
    expect(writeOptionsOf('x', params({ x_async_max_postponed_chunks: 1 })).maxPostponedChunks).toBe(1);
  });
  it("a param the module lacks takes the module's fixed value, else proto_tcp's default", () => {
    expect(writeOptionsOf('', { send_timeout: 250 }, { fixed: { async: false, maxPostponedChunks: 1024 } })).toEqual({
      async: false, sendTimeout: 250, maxPostponedChunks: 1024, localConnectTimeout: 100, localWriteTimeout: 10,
    });
    expect(writeOptionsOf('tls', { tls_async: true, tls_async_max_postponed_chunks: 1 }).localWriteTimeout).toBe(10);
  });
});

describe("OpenSIPS's profile fields -> ConnectionProfile", () => {
  it('maps tcp_mgm columns (numbers, bigints, 0/1 booleans) and keeps the base for absent ones', () => {
    const p = profileFromOpenSips(
      { id: 7n, connect_timeout: 250, con_lifetime: 600n, msg_read_timeout: 2, send_threshold: 1500, no_new_conn: 1, alias_mode: 2, parallel_read: 1, keepalive: 0, keepcount: 9, keepidle: 7200, keepinterval: 75 },
      DEFAULT_PROFILE,
      { attrs: { maxMsgChunks: 8 } },
    );
    expect(p).toEqual({
      id: 7, connectTimeout: 250, conLifetime: 600, msgReadTimeout: 2, sendThreshold: 1500, noNewConn: true, aliasMode: 2, parallelRead: 1,
      keepalive: false, keepcount: 9, keepidle: 7200, keepinterval: 75, attrs: { maxMsgChunks: 8 },
    });
    expect(profileFromOpenSips({})).toEqual(DEFAULT_PROFILE);
    expect(profileFromOpenSips({ con_lifetime: 5 }, p)).toMatchObject({ id: 7, conLifetime: 5, connectTimeout: 250 });
  });

  it('every ConnectionProfile field but id and attrs has exactly one OpenSIPS column', () => {
    const fields = Object.keys(DEFAULT_PROFILE).filter((k) => k !== 'id' && k !== 'attrs').sort();
    expect(OPENSIPS_PROFILE_FIELDS.map((f) => f.field).sort()).toEqual(fields);
    expect(new Set(OPENSIPS_PROFILE_FIELDS.map((f) => f.column)).size).toBe(OPENSIPS_PROFILE_FIELDS.length);
  });

  it('refuses out-of-range values with the field named; `checked` skips the second check', () => {
    expect(() => profileFromOpenSips({ alias_mode: 3 })).toThrow(ConfigError);
    expect(() => profileFromOpenSips({ alias_mode: 3 })).toThrow(/aliasMode/);
    expect(() => profileFromOpenSips({ connect_timeout: 0 })).toThrow(/connectTimeout/);
    const p: ConnectionProfile = profileFromOpenSips({ connect_timeout: 5 }, DEFAULT_PROFILE, { checked: true });
    expect([p.connectTimeout, Object.isFrozen(p)]).toEqual([5, true]);
  });

  it('maps the core globals (sip-tcp.md §10) onto the default profile; other keys are ignored', () => {
    const globals = { tcp_connection_lifetime: 600, tcp_connect_timeout: 250, tcp_max_msg_time: 7, tcp_keepalive: false, tcp_keepcount: 3, tcp_keepidle: 30, tcp_keepinterval: 5, tcp_accept_aliases: 1, tcp_threshold: 1500, log_level: 3, route_script: 'x.mjs' };
    expect(
      profileFromGlobals(globals),
    ).toEqual({
      ...DEFAULT_PROFILE, conLifetime: 600, connectTimeout: 250, msgReadTimeout: 7, keepalive: false, keepcount: 3, keepidle: 30, keepinterval: 5, aliasMode: 1, sendThreshold: 1500, attrs: {},
    });
    expect(profileFromGlobals({})).toEqual(DEFAULT_PROFILE);
  });
});
