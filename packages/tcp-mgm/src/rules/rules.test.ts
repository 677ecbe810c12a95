import { isIPv6 } from 'node:net';
import type { ListenerInfo } from '@x/core-conn';
import { describe, expect, it } from 'vitest';
import { RowError } from '../errors.js';
import { parseAttrs } from './attrs.js';
import { compileRules, kernelKeepalive, unappliedAttributes } from './compile.js';
import { parseCidr, parseIp, parseV4 } from './ip.js';
import { compileRow, findListener, type TcpMgmRow } from './rule.js';

const base: TcpMgmRow = {
  id: 7, proto: 'tcp', remote_addr: '10.0.0.0/8', remote_port: 0, local_addr: null, local_port: 0, priority: 0, attrs: null,
  connect_timeout: 100, con_lifetime: 120, msg_read_timeout: 4, send_threshold: 0, no_new_conn: 0, alias_mode: 0,
  keepalive: 1, keepcount: 9, keepidle: 7200, keepinterval: 75,
};
const row = (o: Partial<Record<keyof TcpMgmRow, unknown>>): TcpMgmRow => ({ ...base, ...o });
const reason = (r: TcpMgmRow, version: 1 | 2 = 2, listeners?: ListenerInfo[]): string => {
  try {
    compileRow(r, { version, ...(listeners ? { listeners } : {}) });
  } catch (err) {
    expect(err).toBeInstanceOf(RowError);
    expect((err as RowError).code).toBe('ERR_TCPMGM_BAD_ROW');
    return (err as RowError).reason;
  }
  return 'valid';
};

const listener = (id: number, proto: string, host: string, port: number, extra: Partial<ListenerInfo['spec']> = {}, tag?: string): ListenerInfo => ({
  id, proto, transport: 'tcp', address: { host, port }, spec: { proto, host: extra.host ?? host, port, ...extra }, ...(tag ? { tag } : {}),
});

describe('ip', () => {
  it('parses IPv4 strictly and IPv6 into words', () => {
    expect(parseV4('10.1.2.3')).toBe(0x0a010203);
    for (const bad of ['10.1.2', '10.1.2.3.4', '256.1.1.1', '01.1.1.1', '1..1.1', '', 'a.b.c.d']) expect(parseV4(bad)).toBe(-1);
    expect(parseIp('2001:db8::1')).toEqual({ family: 6, words: [0x20010db8, 0, 0, 1] });
    expect(parseIp('::ffff:10.0.0.1')?.family).toBe(6);
    expect(parseIp('example.com')).toBeUndefined();
  });
  it('CIDR: host route without a prefix, host bits masked off, bad prefixes refused', () => {
    expect(parseCidr('10.1.2.3')).toEqual({ family: 4, prefix: 32, net: [0x0a010203] });
    expect(parseCidr('10.1.2.3/8')).toEqual({ family: 4, prefix: 8, net: [0x0a000000] });
    expect(parseCidr('2001:db8::1/32').net).toEqual([0x20010db8, 0, 0, 0]);
    expect(() => parseCidr('10.0.0.0/33')).toThrow(/0\.\.32/);
    expect(() => parseCidr('10.0.0.0/x')).toThrow(/prefix/);
  });
});

describe('attrs', () => {
  it('parses the blog example: max_msg_chunks overrides, other names stay readable', () => {
    expect(parseAttrs('max_msg_chunks=10;foo=20')).toEqual({ maxMsgChunks: 10, extra: { foo: 20 } });
    expect(parseAttrs(' max_msg_chunks = 3 ; tag=abc ; flag ;; ')).toEqual({ maxMsgChunks: 3, extra: { tag: 'abc', flag: true } });
    expect(parseAttrs('parallel_read=2')).toEqual({ parallelRead: 2, extra: {} });
    expect(parseAttrs(null)).toEqual({ extra: {} });
    expect(parseAttrs('max_connections_per_ip=16;max_msg_chunks=4')).toEqual({ maxConnectionsPerIp: 16, maxMsgChunks: 4, extra: {} });
    expect(parseAttrs('max_connections_per_ip=0')).toEqual({ maxConnectionsPerIp: 0, extra: {} });
    expect(compileRow(row({ attrs: 'max_connections_per_ip=3' }), { version: 2 }).profile.attrs).toEqual({ maxConnectionsPerIp: 3 });
  });
  it('refuses known names without an integer, out of range, twice, and bad names', () => {
    expect(() => parseAttrs('max_msg_chunks')).toThrow(/needs an integer value/);
    expect(() => parseAttrs('max_msg_chunks=ten')).toThrow(/needs an integer value/);
    expect(() => parseAttrs('max_msg_chunks=-1')).toThrow(/out of range/);
    expect(() => parseAttrs('parallel_read=3')).toThrow(/out of range 0\.\.2/);
    expect(() => parseAttrs('max_connections_per_ip=-1')).toThrow(/out of range/);
    expect(() => parseAttrs('max_connections_per_ip')).toThrow(/needs an integer value/);
    expect(() => parseAttrs('a=1;A=2')).toThrow(/set twice/);
    expect(() => parseAttrs('=5')).toThrow(/bad attribute name/);
  });
});

describe('row validation (reference §4)', () => {
  it('a valid row becomes a rule whose profile carries every column', () => {
    const p = compileRow(row({ attrs: 'max_msg_chunks=5;x=1', no_new_conn: 3, keepalive: 0, alias_mode: 2, send_threshold: 250, remote_port: 5060 }), { version: 2 });
    expect(p).toMatchObject({ id: 7, proto: 'tcp', remotePort: 5060, remote: { family: 4, prefix: 8 } });
    expect(p.profile).toEqual({
      id: 7, connectTimeout: 100, conLifetime: 120, msgReadTimeout: 4, sendThreshold: 250, noNewConn: true, aliasMode: 2, parallelRead: 0,
      keepalive: false, keepcount: 9, keepidle: 7200, keepinterval: 75, attrs: { maxMsgChunks: 5, x: 1 },
    });
    expect(Object.isFrozen(p.profile)).toBe(true);
  });
  it.each([
    [{ proto: 'udp' }, 'proto "udp" is not a TCP-based protocol'],
    [{ proto: 'sctp' }, 'proto "sctp" is not a TCP-based protocol'],
    [{ proto: 'hep_udp' }, 'proto "hep_udp" is not a TCP-based protocol'],
    [{ proto: 'foo' }, 'unknown proto "foo"'],
    [{ proto: null }, 'column proto is NULL'],
    [{ remote_addr: '10.0.0.300' }, 'remote_addr "10.0.0.300" is not an IP'],
    [{ remote_addr: '10.0.0.0/40' }, 'prefix length must be 0..32'],
    [{ remote_port: 65536 }, 'remote_port: 65536 is out of range 0..65535'],
    [{ local_port: 70000 }, 'local_port: 70000 is out of range'],
    [{ remote_port: -1 }, 'remote_port: -1 is out of range'],
    [{ alias_mode: 3 }, 'alias_mode 3 is invalid'],
    [{ connect_timeout: 0 }, 'connect_timeout must be > 0'],
    [{ con_lifetime: null }, 'column con_lifetime is NULL'],
    [{ keepidle: '30' }, 'column keepidle: bad value type (string "30")'],
    [{ priority: 1.5 }, 'column priority: bad value type'],
    [{ attrs: 'max_msg_chunks' }, 'needs an integer value'],
    [{ remote_addr: '10.0.0.1', local_addr: '::1' }, 'IP family mismatch'],
    [{ local_addr: 'host.example' }, 'is not an IP address'],
  ])('%j is skipped: %s', (o, why) => {
    expect(reason(row(o))).toContain(why);
  });
  it('accepts any/ANY/NULL as any, bigint integers, a negative priority and alias_mode 2', () => {
    const p = compileRow(row({ proto: 'ANY', remote_addr: 'Any', local_addr: null, priority: -5, remote_port: 5060n, alias_mode: 2 }), { version: 2 });
    expect(p).toMatchObject({ proto: null, remote: null, local: null, priority: -5, remotePort: 5060 });
  });
  it('version 1 reads parallel_read from its column (0..2), version 2 from attrs', () => {
    expect(compileRow(row({ parallel_read: 2 }), { version: 1 }).profile.parallelRead).toBe(2);
    expect(reason(row({ parallel_read: 3 }), 1)).toContain('parallel_read 3 is invalid');
    expect(reason(row({ parallel_read: null }), 1)).toContain('column parallel_read is NULL');
    expect(compileRow(row({ attrs: 'parallel_read=1' }), { version: 2 }).profile.parallelRead).toBe(1);
    expect(reason(row({ parallel_read: 1, attrs: 'parallel_read=2' }), 1)).toContain('1 in its column and 2 in attrs');
  });
});

describe('local_addr against the listeners (reference §4)', () => {
  const ls = [
    listener(1, 'tcp', '127.0.0.1', 5060),
    listener(2, 'tcp', '10.0.0.5', 5060, { host: 'sip.example', advertised: { host: '203.0.113.5', port: 5070 } }, 'pub'),
    listener(3, 'tls', '::1', 5061),
  ];
  it('by address, by name as written, by advertised address, by tag (local_port 0), by [ipv6]', () => {
    expect(findListener(ls, '127.0.0.1', 5060, 'tcp')?.id).toBe(1);
    expect(findListener(ls, 'SIP.example', 0, 'tcp')?.id).toBe(2);
    expect(findListener(ls, '203.0.113.5', 5070, null)?.id).toBe(2);
    expect(findListener(ls, 'pub', 0, null)?.id).toBe(2);
    expect(findListener(ls, 'pub', 5060, null)).toBeUndefined();
    expect(findListener(ls, '[::1]', 0, 'tls')?.id).toBe(3);
    expect(findListener(ls, '::1', 0, 'tcp')).toBeUndefined();
    expect(findListener(ls, '127.0.0.1', 5999, 'tcp')).toBeUndefined();
  });
  it('a rule on a listener becomes an exact match of its IP; an unknown one is skipped', () => {
    const p = compileRow(row({ remote_addr: null, local_addr: 'pub' }), { version: 2, listeners: ls });
    expect(p.local).toMatchObject({ family: 4, words: [0x0a000005], listener: 'tcp:10.0.0.5:5060' });
    expect(reason(row({ local_addr: '127.0.0.9' }), 2, ls)).toContain('matches no tcp listener');
    expect(reason(row({ proto: 'tcp', local_addr: '::1', remote_addr: null }), 2, ls)).toContain('matches no tcp listener');
  });
});

describe('compileRules', () => {
  it('skips bad rows with id and reason, keeps the rest, and reports what Node cannot apply', () => {
    const { rules, skipped } = compileRules([row({ id: 1 }), row({ id: 2, proto: 'udp' }), row({ id: 3, attrs: 'parallel_read=1' }), row({ id: 'x' })], { version: 2 });
    expect(rules.paths.map((p) => p.id)).toEqual([1, 3]);
    expect(skipped).toEqual([
      { id: 2, reason: 'proto "udp" is not a TCP-based protocol' },
      { id: undefined, reason: 'column id: bad value type (string "x"), need an integer' },
    ]);
    expect(unappliedAttributes(rules)).toEqual([
      'parallel_read is not applied (one Node event loop reads every connection; there are no TCP reader processes to re-balance): rules 3',
      "keepcount is not applied (Node sets SO_KEEPALIVE and TCP_KEEPIDLE only; TCP_KEEPCNT stays the kernel's): rules 1, 3",
      "keepinterval is not applied (Node sets SO_KEEPALIVE and TCP_KEEPIDLE only; TCP_KEEPINTVL stays the kernel's): rules 1, 3",
    ]);
  });

  it('keepcount / keepinterval equal to the kernel\'s (what the connection gets anyway), or 0 (not set), are not reported', () => {
    const { rules } = compileRules([row({ id: 1 }), row({ id: 2, keepcount: 5, keepinterval: 0 }), row({ id: 3, keepcount: 0, keepinterval: 30 })], { version: 2 });
    expect(unappliedAttributes(rules, { keepcount: 9, keepinterval: 75 })).toEqual([
      "keepcount is not applied (Node sets SO_KEEPALIVE and TCP_KEEPIDLE only; TCP_KEEPCNT stays the kernel's tcp_keepalive_probes = 9): rules 2",
      "keepinterval is not applied (Node sets SO_KEEPALIVE and TCP_KEEPIDLE only; TCP_KEEPINTVL stays the kernel's tcp_keepalive_intvl = 75): rules 3",
    ]);
    expect(unappliedAttributes(compileRules([row({ id: 1 })], { version: 2 }).rules, { keepcount: 9, keepinterval: 75 })).toEqual([]);
  });

  it('kernelKeepalive reads the two sysctls; unreadable or odd values are left out', () => {
    const files: Record<string, string> = { '/proc/sys/net/ipv4/tcp_keepalive_probes': '9\n', '/proc/sys/net/ipv4/tcp_keepalive_intvl': 'x\n' };
    expect(kernelKeepalive((p) => files[p] ?? '')).toEqual({ keepcount: 9 });
    expect(kernelKeepalive(() => {
      throw new Error('ENOENT');
    })).toEqual({});
  });
});

describe('IPv6 parser against node:net and ipaddr.js', () => {
  it('agrees on valid and invalid texts', async () => {
    const fc = (await import('fast-check')).default;
    const ipaddr = (await import('ipaddr.js')).default;
    const { parseV6Groups } = await import('./ip.js');
    const group = fc.integer({ min: 0, max: 0xffff }).map((n) => n.toString(16));
    const v6 = fc.oneof(
      fc.array(group, { minLength: 8, maxLength: 8 }).map((g) => g.join(':')),
      fc.tuple(fc.array(group, { maxLength: 3 }), fc.array(group, { maxLength: 3 })).map(([a, b]) => `${a.join(':')}::${b.join(':')}`),
      fc.tuple(fc.array(group, { maxLength: 2 }), fc.ipV4()).map(([a, v4]) => `${a.join(':')}::ffff:${v4}`),
      fc.ipV6(),
      fc.string({ unit: fc.constantFrom(...'0123456789abcdefABCDEF:.g'), maxLength: 20 }),
    );
    fc.assert(
      fc.property(v6, (s) => {
        // validity from Node's own parser
        const mine = parseV6Groups(s);
        if (!isIPv6(s)) {
          expect(mine).toBeUndefined();
        } else {
          expect(mine).toBeDefined();
          // WHATWG URL rewrites the text as plain hex groups (ipaddr.js reads "::a.b.c.d" as IPv4-mapped)
          expect(mine).toEqual(ipaddr.IPv6.parse(new URL(`http://[${s}]/`).hostname.slice(1, -1)).parts);
        }
      }),
      { numRuns: 3000 },
    );
  });
});
