import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatAddress, formatSocketSpec, parseSocketSpec, SOCKET_OPTIONS, SocketSpecError } from '../src/address.js';
import { ConfigError } from '../src/errors.js';
import type { SocketOptions, SocketSpec } from '../src/types.js';

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
    ['tcp:10.0.0.1 reuse_port', { proto: 'tcp', host: '10.0.0.1', port: 5060, options: { reusePort: true } }],
    ['tcp:10.0.0.1 tos 0x10 tag t', { proto: 'tcp', host: '10.0.0.1', port: 5060, tag: 't', options: { tos: 16 } }],
    ['tcp:10.0.0.1 tos 255', { proto: 'tcp', host: '10.0.0.1', port: 5060, options: { tos: 255 } }],
    ['tcp:10.0.0.1 tos 0', { proto: 'tcp', host: '10.0.0.1', port: 5060, options: { tos: 0 } }],
    [
      'udp:10.0.0.1:5060 as 203.0.113.5 USE_WORKERS 4 use_auto_scaling_profile "prof-1" anycast frag tag pub tos 184 accept_subdomain',
      {
        proto: 'udp', host: '10.0.0.1', port: 5060, advertised: { host: '203.0.113.5', port: null }, tag: 'pub',
        options: { useWorkers: 4, autoScalingProfile: 'prof-1', anycast: true, frag: true, tos: 184, acceptSubdomain: true },
      },
    ],
    [
      'tcp:*:5060 proxy_protocol allow_proxy_protocol send_proxy_protocol use_auto_scaling_profile p.2',
      { proto: 'tcp', host: '*', port: 5060, options: { proxyProtocol: true, allowProxyProtocol: true, sendProxyProtocol: true, autoScalingProfile: 'p.2' } },
    ],
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
    ['tcp:999.1.1.1', /"999\.1\.1\.1" is not a valid IPv4 address/],
    ['tcp:1.2.3:5060', /not a valid IPv4 address/],
    ['tcp:1.2.3.4.5', /not a valid IPv4 address/],
    ['tcp:10.0.0.256 as 1.2.3.4', /"10\.0\.0\.256" is not a valid IPv4 address/],
    ['tcp:1.2.3.4 as 300.0.0.1', /"300\.0\.0\.1" is not a valid IPv4 address/],
    [`tcp:${'a'.repeat(5_000_000)}`, /^bad socket spec "tcp:a{116}… \(5000004 characters\)": .{0,400}$/s],
    ['tcp:1.2.3.4 as', /"as" needs/],
    ['tcp:1.2.3.4 as *', /cannot be "\*"/],
    ['tcp:1.2.3.4 tag', /"tag" needs/],
    ['tcp:1.2.3.4 fragment', /unknown option "fragment" \(expected as host\[:port\], tag name, use_workers N, use_auto_scaling_profile name, anycast, frag, reuse_port, tos N, accept_subdomain, proxy_protocol, allow_proxy_protocol, send_proxy_protocol\)/],
    ['tcp:1.2.3.4 use_workers', /"use_workers" needs a positive integer, found nothing/],
    ['tcp:1.2.3.4 use_workers 0', /"use_workers" needs a positive integer, found "0"/],
    ['tcp:1.2.3.4 use_workers -2', /"use_workers" needs a positive integer, found "-2"/],
    ['tcp:1.2.3.4 use_workers 2.5', /"use_workers" needs a positive integer/],
    ['tcp:1.2.3.4 use_workers four', /"use_workers" needs a positive integer, found "four"/],
    ['tcp:1.2.3.4 tos 256', /"tos" needs an integer 0..255 .*found "256"/],
    ['tcp:1.2.3.4 tos 0x100', /"tos" needs an integer 0..255/],
    ['tcp:1.2.3.4 tos IPTOS_LOWDELAY', /"tos" needs an integer 0..255 .*found "IPTOS_LOWDELAY"/],
    ['tcp:1.2.3.4 tos', /"tos" needs an integer 0..255 .*found nothing/],
    ['tcp:1.2.3.4 use_auto_scaling_profile', /"use_auto_scaling_profile" needs a name/],
    ['tcp:1.2.3.4 use_auto_scaling_profile "a', /"use_auto_scaling_profile" needs a name/],
    ['tcp:1.2.3.4 frag FRAG', /"frag" given twice/],
    ['tcp:1.2.3.4 tos 1 tos 2', /"tos" given twice/],
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

  it.each([
    ['tcp:1.2.3.4 fragment', 12],
    ['tcp:1.2.3.4   tos 256', 18],
    ['tcp:1.2.3.4 tos', 15],
    ['tcp:1.2.3.4 as *', 15],
    ['tcp:1.2.3.4 reuse_port reuse_port', 23],
    ['tcp:1.2.3.4:x', 12],
    ['  nocolon', 2],
  ])('a SocketSpecError points at the word at fault: %j', (text, offset) => {
    let err: unknown;
    try {
      parseSocketSpec(text, defaults);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SocketSpecError);
    expect(err).toMatchObject({ code: 'ERR_BAD_SOCKET_SPEC', offset });
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

  it('round-trips any spec with any options (formatSocketSpec, then parseSocketSpec)', () => {
    const hostPort = fc.record({
      host: fc.oneof(fc.ipV4(), fc.ipV6(), fc.domain(), fc.constant('*')),
      port: fc.option(fc.integer({ min: 0, max: 65535 }), { nil: null }),
    });
    const name = fc.stringMatching(/^[\w.-]{1,12}$/);
    const options: fc.Arbitrary<SocketOptions> = fc.record(
      {
        useWorkers: fc.integer({ min: 1, max: 0x7fffffff }),
        autoScalingProfile: name,
        anycast: fc.constant(true as const),
        frag: fc.constant(true as const),
        reusePort: fc.constant(true as const),
        tos: fc.integer({ min: 0, max: 255 }),
        acceptSubdomain: fc.constant(true as const),
        proxyProtocol: fc.constant(true as const),
        allowProxyProtocol: fc.constant(true as const),
        sendProxyProtocol: fc.constant(true as const),
      },
      { requiredKeys: [] },
    );
    const spec: fc.Arbitrary<SocketSpec> = fc
      .record(
        {
          proto: fc.constantFrom('tcp', 'udp', 'tls', 'hep_udp', 'bins', 'msrp'),
          main: hostPort,
          advertised: hostPort.filter((a) => a.host !== '*'),
          tag: name,
          options,
        },
        { requiredKeys: ['proto', 'main'] },
      )
      .map(({ main, options: o, ...rest }) => {
        const s: SocketSpec = { ...rest, host: main.host.toLowerCase(), port: main.port };
        if (s.advertised) s.advertised = { host: s.advertised.host.toLowerCase(), port: s.advertised.port };
        if (o && Object.keys(o).length > 0) s.options = o;
        return s;
      });
    fc.assert(
      fc.property(spec, (s) => {
        expect(parseSocketSpec(formatSocketSpec(s))).toEqual(s);
      }),
    );
  });

  it('every SOCKET_OPTIONS keyword parses (case-insensitive) into its key', () => {
    for (const o of SOCKET_OPTIONS) {
      const arg = o.arg === 'flag' ? '' : o.arg === 'name' ? ' p1' : ' 7';
      const got = parseSocketSpec(`udp:127.0.0.1:5060 ${o.keyword.toUpperCase()}${arg}`).options;
      expect(got).toEqual({ [o.key]: o.arg === 'flag' ? true : o.arg === 'name' ? 'p1' : 7 });
    }
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
