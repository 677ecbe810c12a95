import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatAddress, parseSocketSpec } from '../src/address.js';
import { ConfigError } from '../src/errors.js';

const defaults = (p: string): number | null => ({ tcp: 5060, bin: 5555, bins: 5556, hep_udp: 5656 })[p] ?? null;

describe('parseSocketSpec', () => {
  it.each([
    ['tcp:127.0.0.1:5060', { proto: 'tcp', host: '127.0.0.1', port: 5060 }],
    ['tcp:127.0.0.1', { proto: 'tcp', host: '127.0.0.1', port: 5060 }],
    ['bins:[::1]', { proto: 'bins', host: '::1', port: 5556 }],
    ['bins:[::1]:7000', { proto: 'bins', host: '::1', port: 7000 }],
    ['msrp:*:2855', { proto: 'msrp', host: '*', port: 2855 }],
    ['msrp:example.org', { proto: 'msrp', host: 'example.org', port: null }],
    ['HEP_UDP:Host-1.Example.ORG', { proto: 'hep_udp', host: 'host-1.example.org', port: 5656 }],
    ['tcp:10.0.0.1:5060 as 203.0.113.5:5060 tag pub_tcp', { proto: 'tcp', host: '10.0.0.1', port: 5060, advertised: { host: '203.0.113.5', port: 5060 }, tag: 'pub_tcp' }],
    ['  tcp:10.0.0.1   TAG  t1  AS [2001:db8::1] ', { proto: 'tcp', host: '10.0.0.1', port: 5060, advertised: { host: '2001:db8::1', port: null }, tag: 't1' }],
  ])('%s', (text, want) => {
    expect(parseSocketSpec(text, defaults)).toEqual(want);
  });

  it.each([
    ['', /empty/],
    ['127.0.0.1:5060', /not a protocol name/],
    ['nocolon', /proto:host/],
    ['tcp:', /missing host/],
    ['tcp:::1:5060', /brackets/],
    ['tcp:[::1', /"]"/],
    ['tcp:[1.2.3.4]:5', /IPv6/],
    ['tcp:1.2.3.4:70000', /out of range/],
    ['tcp:1.2.3.4:x', /not a number/],
    ['tcp:1.2.3.4:', /empty port/],
    ['tcp:bad_host!:5', /neither/],
    ['tcp:1.2.3.4 as', /"as" needs/],
    ['tcp:1.2.3.4 as *', /cannot be "\*"/],
    ['tcp:1.2.3.4 tag', /"tag" needs/],
    ['tcp:1.2.3.4 frag', /unknown option "frag"/],
    ['tcp:1.2.3.4 tag a tag b', /twice/],
  ])('rejects %j', (text, re) => {
    let err: unknown;
    try {
      parseSocketSpec(text, defaults);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect(err).toMatchObject({ code: 'ERR_BAD_SOCKET_SPEC' });
    expect((err as Error).message).toMatch(re);
  });

  it('round-trips any IPv4/IPv6 address and port', () => {
    fc.assert(
      fc.property(fc.oneof(fc.ipV4(), fc.ipV6()), fc.integer({ min: 0, max: 65535 }), (ip, port) => {
        const text = `tcp:${formatAddress({ host: ip, port })}`;
        const s = parseSocketSpec(text);
        expect(s.host).toBe(ip.toLowerCase());
        expect(s.port).toBe(port);
      }),
    );
  });

  it('never throws anything but ConfigError', () => {
    fc.assert(
      fc.property(fc.string(), (text) => {
        try {
          parseSocketSpec(text, defaults);
        } catch (e) {
          expect(e).toBeInstanceOf(ConfigError);
        }
      }),
    );
  });

  it('formatAddress brackets IPv6', () => {
    expect(formatAddress({ host: '10.0.0.5', port: 40112 })).toBe('10.0.0.5:40112');
    expect(formatAddress({ host: '::1', port: 5060 })).toBe('[::1]:5060');
  });
});
