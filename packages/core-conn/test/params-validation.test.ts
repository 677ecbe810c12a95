import { describe, expect, it } from 'vitest';
import { ConfigError } from '../src/errors.js';
import type { ParamSchema } from '../src/module/contract.js';
import { defineModule, validateParams, type RawParam } from '../src/module/params.js';

const schema: ParamSchema = {
  tcp_port: { type: 'int', default: 5060, min: 0, max: 65535, doc: 'default port' },
  tcp_max_msg_chunks: { type: 'int', default: 4, min: 0, doc: 'chunks' },
  tcp_crlf_pingpong: { type: 'bool', default: 1, doc: 'pong' },
  tcp_async: { type: 'bool', default: true, doc: 'async' },
  trace_destination: { type: 'string', doc: 'dest' },
  hep_id: { type: 'string', multi: true, doc: 'ids' },
  method: { type: 'string', enum: ['TLSv1_2', 'TLSv1_3'], doc: 'm' },
  even: { type: 'int', doc: 'even', validate: (v: number) => (v % 2 ? 'must be even' : undefined) },
};

function raw(entries: Record<string, RawParam[]>): Map<string, RawParam[]> {
  return new Map(Object.entries(entries));
}

function error(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return e as ConfigError;
  }
  throw new Error('did not throw');
}

describe('validateParams', () => {
  it('applies defaults, types bools, keeps the last single value and collects multi values', () => {
    const p = validateParams('proto_tcp', schema, raw({
      tcp_max_msg_chunks: [{ value: 8 }, { value: '12' }],
      tcp_crlf_pingpong: [{ value: 0 }],
      hep_id: [{ value: '[h1] 10.0.0.9:9060' }, { value: '[h2] 10.0.0.10:9060' }],
    }));
    expect(p).toEqual({
      tcp_port: 5060,
      tcp_max_msg_chunks: 12,
      tcp_crlf_pingpong: false,
      tcp_async: true,
      hep_id: ['[h1] 10.0.0.9:9060', '[h2] 10.0.0.10:9060'],
    });
  });

  it('names module, parameter, expectation, value and place', () => {
    const e = error(() => validateParams('proto_tcp', schema, raw({ tcp_max_msg_chunks: [{ value: 'abc', where: 'x.cfg:12:31' }] })));
    expect(e.code).toBe('ERR_INVALID_OPTION');
    expect(e.message).toBe('proto_tcp: parameter "tcp_max_msg_chunks" expects an integer >= 0, got "abc" (at x.cfg:12:31)');
    expect(error(() => validateParams('proto_tcp', schema, raw({ tcp_port: [{ value: 70000 }] }))).message).toMatch(/expects an integer in 0\.\.65535, got 70000/);
    expect(error(() => validateParams('proto_tcp', schema, raw({ tcp_async: [{ value: 2 }] }))).message).toMatch(/expects 0 or 1, got 2/);
    expect(error(() => validateParams('proto_tcp', schema, raw({ trace_destination: [{ value: 5 }] }))).message).toMatch(/expects a string, got 5/);
    expect(error(() => validateParams('tls_mgm', schema, raw({ method: [{ value: 'SSLv2' }] }))).message).toMatch(/expects one of "TLSv1_2", "TLSv1_3", got "SSLv2"/);
    expect(error(() => validateParams('m', schema, raw({ even: [{ value: 3, where: 'a.cfg:1:2' }] }))).message).toBe('m: parameter "even" must be even (at a.cfg:1:2)');
    expect(error(() => validateParams('m', schema, raw({ tcp_port: [{ value: 1.5 }] }))).code).toBe('ERR_INVALID_OPTION');
  });

  it('rejects unknown parameters with ERR_UNKNOWN_PARAM', () => {
    const e = error(() => validateParams('proto_tcp', schema, raw({ tcp_nope: [{ value: 1, where: 'x.cfg:3:1' }] })));
    expect(e.code).toBe('ERR_UNKNOWN_PARAM');
    expect(e.message).toMatch(/^proto_tcp: unknown parameter "tcp_nope" \(at x\.cfg:3:1\)/);
    expect(error(() => validateParams('m', schema, raw({ toString: [{ value: 1 }] }))).code).toBe('ERR_UNKNOWN_PARAM');
  });

  it('accepts enums case-insensitively and validate() throwing a ConfigError', () => {
    expect(validateParams('m', schema, raw({ method: [{ value: 'tlsv1_3' }] }))).toMatchObject({ method: 'tlsv1_3' });
    const s2: ParamSchema = { x: { type: 'int', doc: 'x', validate: () => { throw new ConfigError('ERR_INVALID_OPTION', 'is bad'); } } };
    expect(error(() => validateParams('m', s2, raw({ x: [{ value: 1 }] }))).message).toBe('m: parameter "x" is bad');
  });

  it('defineModule returns its argument', () => {
    const m = defineModule({ name: 'x', params: schema, init: () => ({}) });
    expect(m.name).toBe('x');
  });
});
