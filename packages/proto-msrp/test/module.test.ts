import { describe, expect, it } from 'vitest';
import { createEngine, validateParams, type RawParam } from '@x/core-conn';
import { protoMsrpModule, PROTO_MSRP_DEFAULTS, type ProtoMsrpParams } from '../src/index.js';

const params = (raw: Record<string, number | string> = {}): ProtoMsrpParams =>
  validateParams<ProtoMsrpParams>('proto_msrp', protoMsrpModule.params, new Map(Object.entries(raw).map(([k, v]) => [k, [{ value: v } as RawParam]])));

describe('proto_msrp module', () => {
  it('has the 7 parameters of OpenSIPS with their defaults', () => {
    expect(Object.keys(protoMsrpModule.params).sort()).toEqual(
      ['cert_check_on_conn_reusage', 'max_msg_chunks', 'send_timeout', 'tls_handshake_timeout', 'trace_destination', 'trace_filter_route', 'trace_on'].sort(),
    );
    expect(params()).toMatchObject({ ...PROTO_MSRP_DEFAULTS });
    expect(PROTO_MSRP_DEFAULTS).toMatchObject({ send_timeout: 100, max_msg_chunks: 4, tls_handshake_timeout: 100, cert_check_on_conn_reusage: false, trace_on: false });
    expect(() => params({ send_timeout: 0 })).toThrow(/send_timeout/);
    expect(() => params({ cert_check_on_conn_reusage: 2 })).toThrow(/cert_check_on_conn_reusage/);
    expect(() => params({ msrp_port: 2855 })).toThrow(/unknown parameter "msrp_port"/);
  });

  it('registers msrp (tcp) and msrps (tls) with no default port: a socket without one says so', async () => {
    const p = params({ max_msg_chunks: 7, tls_handshake_timeout: 250 });
    const specs = protoMsrpModule.protocols!(p);
    expect(specs.map((s) => [s.name, s.transport, s.defaultPort, s.maxMsgChunks])).toEqual([
      ['msrp', 'tcp', null, 7],
      ['msrps', 'tls', null, 7],
    ]);
    expect((specs[1] as { tlsHandshakeTimeout?: number }).tlsHandshakeTimeout).toBe(250);
    expect(specs[0]!.write).toMatchObject({ async: false, sendTimeout: 100 });
    const engine = createEngine();
    for (const s of specs) engine.registerProtocol(s);
    await expect(engine.listen('msrp:127.0.0.1')).rejects.toMatchObject({ name: 'ConfigError', message: expect.stringMatching(/no default port, give one/) as unknown });
    const l = await engine.listen('msrp:127.0.0.1:0');
    expect(l.address.port).toBeGreaterThan(0);
    await engine.shutdown({ deadlineMs: 100 });
  });
});
