import { validateParams } from '@x/core-conn';
import { describe, expect, it } from 'vitest';
import { missingHepSocket, parseHepId } from './hep-id.js';
import { protoHepParamSchema } from './module/params.js';

const v = (pairs: [string, string | number][]) => {
  const m = new Map<string, { value: string | number }[]>();
  for (const [k, x] of pairs) m.set(k, [...(m.get(k) ?? []), { value: x }]);
  return validateParams<Record<string, unknown>>('proto_hep', protoHepParamSchema, m);
};

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    return (e as { code: string }).code;
  }
  return 'no error';
}

describe('parseHepId (hep.md §5)', () => {
  it('defaults: port 9060, tcp, version 3', () => {
    expect(parseHepId('[h] collector.example')).toEqual({ name: 'h', host: 'collector.example', port: 9060, transport: 'tcp', version: 3 });
    expect(parseHepId('[h] 10.0.0.1', 5656).port).toBe(5656);
  });
  it('any order, spaces, trailing ;, case-insensitive transport value', () => {
    expect(parseHepId(' [ a ]  10.0.0.1:9061 ;version=3 ; transport = UDP ; ')).toEqual({ name: 'a', host: '10.0.0.1', port: 9061, transport: 'udp', version: 3 });
    expect(parseHepId('[v6] [2001:db8::1]:9000; transport=tcp')).toMatchObject({ host: '2001:db8::1', port: 9000 });
  });
  it('v1/v2 with tcp fall back to udp with a warning', () => {
    const warns: string[] = [];
    expect(parseHepId('[a] h; transport=tcp; version=2', 9060, (w) => warns.push(w))).toMatchObject({ transport: 'udp', version: 2 });
    expect(warns).toHaveLength(1);
    expect(parseHepId('[a] h; version=1').transport).toBe('udp');
  });
  it('names must be unique', async () => {
    const { createEngine } = await import('@x/core-conn');
    const { attachHep } = await import('./hep.js');
    expect(code(() => attachHep(createEngine(), { hep_id: ['[a] 127.0.0.1', '[a] 127.0.0.2'] }))).toBe('ERR_HEP_BAD_ID');
  });
  it('refuses what OpenSIPS refuses', () => {
    for (const bad of ['h:9060', '[] h', '[a]', '[a] h:0', '[a] h:70000', '[a] h; Transport=udp', '[a] h; proto=udp', '[a] h; version=4', '[a] h; transport=sctp', '[a] h; transport=tls', '[a] h; version=3; version=2', '[a] h; junk']) {
      expect(code(() => parseHepId(bad)), bad).toBe('ERR_HEP_BAD_ID');
    }
  });
});

describe('proto_hep params', () => {
  it('defaults', () => {
    expect(v([])).toMatchObject({
      hep_port: 5656, hep_send_timeout: 100, hep_max_msg_chunks: 32, hep_async: true, hep_async_max_postponed_chunks: 32,
      hep_capture_id: 1, hep_async_local_connect_timeout: 100, hep_async_local_write_timeout: 10, homer5_on: true,
      homer5_delim: ':', hep_max_retries: 5, hep_retry_cooldown: 3600, compressed_payload: false, hep_id: [],
    });
  });
  it('validates with readable messages', () => {
    expect(() => v([['hep_capture_id', 4294967296]])).toThrow(/hep_capture_id/);
    expect(() => v([['hep_id', 'nobrackets']])).toThrow(/hep_id/);
    const ok = v([
      ['hep_id', '[a] 127.0.0.1; transport=udp'],
      ['hep_id', '[b] 127.0.0.1:9061'],
      ['homer5_on', 0],
    ]);
    expect(ok.hep_id).toHaveLength(2);
    expect(ok.homer5_on).toBe(false);
  });
});

describe('missingHepSocket (the rule behind checkListeners)', () => {
  const udp = parseHepId('[u] 127.0.0.1; transport=udp');
  const tcp = parseHepId('[t] 127.0.0.1');
  it('needs a hep_udp or hep_tcp socket, and a hep_udp one for each udp destination', () => {
    expect(missingHepSocket([], [])).toEqual({});
    expect(missingHepSocket(['tcp', 'udp'], [tcp])).toEqual({});
    expect(missingHepSocket(['hep_tcp'], [tcp, udp])).toEqual({ destination: udp });
    expect(missingHepSocket(['hep_tcp'], [tcp])).toBeUndefined();
    expect(missingHepSocket(['hep_udp'], [tcp, udp])).toBeUndefined();
    expect(missingHepSocket(['tcp', 'hep_udp'], [])).toBeUndefined();
  });
});
