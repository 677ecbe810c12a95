import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decode, encode, encodeChunks, HepError, type HepPacket } from './index.js';
import { buildCorrelation, buildHomer5Payload, buildHomer6Payload, cjsonPrint } from './payload.js';

// hep.md §9, the hex dump as printed
const WORKED = Buffer.from(
  `48 45 50 33 00 a7 00 00 00 01 00 07 02 00 00 00 02 00 07 06 00 00 00 07 00 08 9c 40 00 00 00 08
   00 08 13 c4 00 00 00 09 00 0a 65 53 f1 00 00 00 00 0a 00 0a 00 01 e2 40 00 00 00 0b 00 07 59 00
   00 00 0c 00 0a 00 00 00 01 00 00 00 03 00 0a c0 00 02 0a 00 00 00 04 00 0a c0 00 02 01 00 00 00
   0f 00 31 54 43 50 3a 41 43 43 45 50 54 45 44 3a 53 55 43 43 45 53 53 3a 43 6f 6e 6e 65 63 74 69
   6f 6e 20 61 63 63 65 70 74 65 64 2e 2e 2e 00 00 00 11 00 19 33 30 35 32 39 34 31 34 33 37 37 39
   37 36 36 33 39 35 34`.replace(/\s+/g, ''),
  'hex',
);

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(HepError);
    expect((e as Error).name).toBe('HepError');
    return (e as HepError).code;
  }
  throw new Error('did not throw');
}

describe('hep.md §9 worked example', () => {
  const parts = [
    ['Protocol', 'TCP'],
    ['Event', 'ACCEPTED'],
    ['Status', 'SUCCESS'],
    ['Message', 'Connection accepted...'],
  ] as const;
  it('encode() in OpenSIPS order reproduces the dump byte for byte', () => {
    const cid = 0x2a5e3a10000004d2n;
    const corr = buildCorrelation([['sip', cid.toString()]], true);
    const pkt: HepPacket = {
      version: 3,
      family: 2,
      ipProto: 6,
      srcPort: 40000,
      dstPort: 5060,
      timestamp: { sec: 1700000000, usec: 123456 },
      protoType: 0x59,
      captureId: 1,
      srcIp: '192.0.2.10',
      dstIp: '192.0.2.1',
      payload: buildHomer5Payload(parts),
      ...corr,
    };
    const out = encode(pkt);
    expect(out.length).toBe(0xa7);
    expect(out.toString('hex')).toBe(WORKED.toString('hex'));
  });
  it('decodes it back to the fields', () => {
    const p = decode(WORKED);
    expect(p).toMatchObject({
      version: 3, family: 2, ipProto: 6, srcIp: '192.0.2.10', dstIp: '192.0.2.1', srcPort: 40000, dstPort: 5060,
      timestamp: { sec: 1700000000, usec: 123456 }, protoType: 0x59, captureId: 1, correlationId: '3052941437797663954',
    });
    expect(p.payload.toString()).toBe('TCP:ACCEPTED:SUCCESS:Connection accepted...');
    expect(p.chunks!.map((c) => c.type)).toEqual([1, 2, 7, 8, 9, 10, 11, 12, 3, 4, 15, 17]);
    expect(encode(p).equals(WORKED)).toBe(true);
  });
  it('HOMER6 packet: JSON payload, then chunk 101 (correlations), then the custom chunks', () => {
    const b = encode({
      version: 3, family: 2, ipProto: 6, srcPort: 40000, dstPort: 5060, timestamp: { sec: 1700000000, usec: 123456 },
      protoType: 0x59, captureId: 1, srcIp: '192.0.2.10', dstIp: '192.0.2.1', payload: buildHomer6Payload(parts),
      ...buildCorrelation([['dialog', 'd1'], ['sip', 'c1']], false), correlationId: 'c1',
    });
    const p = decode(b);
    expect(p.chunks!.map((c) => c.type)).toEqual([1, 2, 7, 8, 9, 10, 11, 12, 3, 4, 15, 101, 17]);
    expect(JSON.parse(p.payload.toString())).toEqual({ Protocol: 'TCP', Event: 'ACCEPTED', Status: 'SUCCESS', Message: 'Connection accepted...' });
    expect(JSON.parse(p.extraCorrelation!)).toEqual({ dialog: 'd1', sip: 'c1' });
  });
  it('HOMER6 payload is cJSON formatted (tabs, newlines)', () => {
    expect(buildHomer6Payload(parts).toString()).toBe(
      '{\n\t"Protocol":\t"TCP",\n\t"Event":\t"ACCEPTED",\n\t"Status":\t"SUCCESS",\n\t"Message":\t"Connection accepted..."\n}',
    );
    expect(cjsonPrint([['a"b', 'x\ny\u0001']])).toBe('{\n\t"a\\"b":\t"x\\ny\\u0001"\n}');
    expect(buildCorrelation([['dialog', '1'], ['sip', 'c']], false)).toEqual({ extraCorrelation: '{\n\t"dialog":\t"1",\n\t"sip":\t"c"\n}' });
    expect(buildCorrelation([['dialog', '1']], true)).toEqual({});
    expect(buildHomer5Payload([['a', '1'], ['b', '2']], '|').toString()).toBe('1|2');
  });
});

const ipv4 = fc.ipV4();
const ipv6 = fc.ipV6().map((s) => {
  // canonical text, as decode prints it
  const b = Buffer.alloc(16);
  const p = encode({ version: 1, srcIp: s, dstIp: s, payload: b });
  return decode(p).srcIp!;
});
const u = (bits: number) => fc.integer({ min: 0, max: 2 ** bits - 1 });
const payload = fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a));
// any Unicode text (UTF-8 on the wire), not only ASCII
const str = fc.string({ maxLength: 40, unit: 'grapheme' });

const v3Packet: fc.Arbitrary<HepPacket> = fc
  .record(
    {
      family: u(8), ipProto: u(8), srcPort: u(16), dstPort: u(16),
      timestamp: fc.record({ sec: u(32), usec: u(32) }),
      protoType: u(8), captureId: u(32), keepAliveTimer: u(16), authKey: str, compressed: fc.constant(true),
      correlationId: str, vlan: u(16), nodeName: str, extraCorrelation: str,
      vendorChunks: fc.array(fc.record({ vendor: fc.integer({ min: 1, max: 0xffff }), type: fc.integer({ min: 0x11, max: 0xffff }), data: payload }), { minLength: 1, maxLength: 3 }),
      ips: fc.oneof(fc.tuple(ipv4, ipv4), fc.tuple(ipv6, ipv6)),
    },
    { requiredKeys: [] },
  )
  .chain((r) => payload.map((pl) => {
    const { ips, ...rest } = r;
    const p: HepPacket = { version: 3, ...rest, payload: pl };
    if (ips) [p.srcIp, p.dstIp] = ips;
    return p;
  }));

const v12Packet: fc.Arbitrary<HepPacket> = fc
  .record({
    version: fc.constantFrom(1 as const, 2 as const),
    ips: fc.oneof(fc.tuple(ipv4, ipv4), fc.tuple(ipv6, ipv6)),
    ipProto: u(8), srcPort: u(16), dstPort: u(16),
    timestamp: fc.record({ sec: u(32), usec: u(32) }), captureId: u(16),
    v2TimeBlockLength: fc.constantFrom(10 as const, 12 as const),
    // a 10-byte v2 block followed by a payload starting "\0\0" cannot be told from a padded one
    payload: payload.filter((b) => !(b[0] === 0 && b[1] === 0)),
  })
  .map(({ ips, version, timestamp, captureId, v2TimeBlockLength, ...r }) => {
    const p: HepPacket = { version, srcIp: ips[0], dstIp: ips[1], family: ips[0].includes(':') ? 10 : 2, ...r };
    if (version === 2) Object.assign(p, { timestamp, captureId, v2TimeBlockLength });
    return p;
  });

describe('round trips (fast-check)', () => {
  it('v3: decode(encode(p)) has the fields of p; encode(decode(b)) === b', () => {
    fc.assert(
      fc.property(v3Packet, (p) => {
        const b = encode(p);
        const d = decode(b);
        const { chunks, ...fields } = d;
        expect(fields).toEqual(p);
        expect(encode(d).equals(b)).toBe(true);
        expect(encodeChunks(chunks!).equals(b)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
  it('v1/v2: decode(encode(p)) equals p and re-encodes byte-exact', () => {
    fc.assert(
      fc.property(v12Packet, (p) => {
        const b = encode(p);
        const d = decode(b);
        expect(d).toEqual(p);
        expect(encode(d).equals(b)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
  it('decode never throws anything but a HepError, on any bytes', () => {
    const bytes = fc.oneof(
      fc.uint8Array({ maxLength: 200 }),
      fc.uint8Array({ maxLength: 200 }).map((a) => Uint8Array.from([0x48, 0x45, 0x50, 0x33, ...a])),
      fc.uint8Array({ maxLength: 200 }).map((a) => Uint8Array.from([0x48, 0x45, 0x50, 0x33, 0, a.length + 6, ...a])),
      fc.uint8Array({ minLength: 1, maxLength: 200 }).map((a) => Uint8Array.from([1 + (a[0]! & 1), 16, 2, 17, ...a])),
      v3Packet.chain((p) => fc.integer({ min: 0, max: 100 }).map((cut) => encode(p).subarray(0, cut))),
    );
    fc.assert(
      fc.property(bytes, (a) => {
        try {
          decode(Buffer.from(a));
        } catch (e) {
          if (!(e instanceof HepError) || !/^ERR_HEP_/.test(e.code)) throw e;
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('decode rejects with typed errors', () => {
  const good = encode({ version: 3, srcIp: '10.0.0.1', dstIp: '10.0.0.2', srcPort: 1, dstPort: 2, payload: Buffer.from('x') });
  it('magic / version', () => {
    expect(code(() => decode(Buffer.from('GET / HTTP/1.1\r\n')))).toBe('ERR_HEP_MAGIC');
    expect(code(() => decode(Buffer.from('HEP2xxxxxxxxxxxxxxxxxxxxxx')))).toBe('ERR_HEP_VERSION');
    expect(code(() => decode(good, { versions: [1, 2] }))).toBe('ERR_HEP_VERSION');
    const v1 = encode({ version: 1, srcIp: '1.1.1.1', dstIp: '2.2.2.2', payload: Buffer.from('SIP') });
    expect(code(() => decode(v1, { versions: [3] }))).toBe('ERR_HEP_VERSION');
  });
  it('lengths', () => {
    const b = Buffer.from(good);
    b.writeUInt16BE(5, 4);
    expect(code(() => decode(b))).toBe('ERR_HEP_LENGTH');
    b.writeUInt16BE(0, 4);
    expect(code(() => decode(b))).toBe('ERR_HEP_LENGTH');
    b.writeUInt16BE(good.length + 1, 4);
    expect(code(() => decode(b))).toBe('ERR_HEP_TRUNCATED');
    expect(code(() => decode(good.subarray(0, 3)))).toBe('ERR_HEP_TRUNCATED');
    expect(code(() => decode(good.subarray(0, 5)))).toBe('ERR_HEP_TRUNCATED');
  });
  it('chunk lengths: < 6, past the end, wrong fixed size', () => {
    const first = 6; // first chunk header
    for (const len of [0, 5, 0xffff, good.length]) {
      const b = Buffer.from(good);
      b.writeUInt16BE(len, first + 4);
      expect(code(() => decode(b))).toBe('ERR_HEP_CHUNK_LENGTH');
    }
    // family chunk (fixed uint8) grown to 8 bytes
    const fam = encodeChunks([{ vendor: 0, type: 1, data: Buffer.from([2, 0]) }, { vendor: 0, type: 15, data: Buffer.from('x') }]);
    expect(code(() => decode(fam))).toBe('ERR_HEP_CHUNK_LENGTH');
    // 3 stray bytes after the last chunk
    const stray = Buffer.concat([good, Buffer.from([0, 0, 0])]);
    stray.writeUInt16BE(stray.length, 4);
    expect(code(() => decode(stray))).toBe('ERR_HEP_CHUNK_LENGTH');
  });
  it('no payload; last payload wins; vendor ignored for ids <= 0x10', () => {
    expect(code(() => decode(encodeChunks([{ vendor: 0, type: 1, data: Buffer.from([2]) }])))).toBe('ERR_HEP_NO_PAYLOAD');
    expect(code(() => decode(encodeChunks([])))).toBe('ERR_HEP_NO_PAYLOAD');
    const two = decode(encodeChunks([
      { vendor: 0, type: 15, data: Buffer.from('a') },
      { vendor: 7, type: 15, data: Buffer.from('b') },
      { vendor: 7, type: 0x11, data: Buffer.from('vendor-corr') },
    ]));
    expect(two.payload.toString()).toBe('b');
    expect(two.correlationId).toBeUndefined();
    expect(two.vendorChunks).toEqual([{ vendor: 7, type: 0x11, data: Buffer.from('vendor-corr') }]);
  });
  it('10k zero-length (6-byte) chunks decode as vendor chunks, in bounded time', () => {
    const chunks = Array.from({ length: 10_000 }, () => ({ vendor: 0, type: 0x99, data: Buffer.alloc(0) }));
    chunks.push({ vendor: 0, type: 15, data: Buffer.from('x') });
    const p = decode(encodeChunks(chunks));
    expect(p.vendorChunks).toHaveLength(10_000);
    expect(p.payload.toString()).toBe('x');
  });
  it('v1/v2: family, header length', () => {
    const v1 = encode({ version: 1, srcIp: '1.1.1.1', dstIp: '2.2.2.2', payload: Buffer.from('SIP/2.0 200 OK') });
    const b = Buffer.from(v1);
    b[2] = 7;
    expect(code(() => decode(b))).toBe('ERR_HEP_FAMILY');
    const c = Buffer.from(v1);
    c[1] = 40;
    expect(code(() => decode(c))).toBe('ERR_HEP_LENGTH');
    expect(code(() => decode(v1.subarray(0, 12)))).toBe('ERR_HEP_TRUNCATED');
    const v2 = encode({ version: 2, srcIp: '1.1.1.1', dstIp: '2.2.2.2', payload: Buffer.alloc(0) });
    expect(code(() => decode(v2.subarray(0, 20)))).toBe('ERR_HEP_TRUNCATED');
  });
  it('encode refuses what it cannot write', () => {
    expect(code(() => encode({ version: 3, srcIp: 'example.com', payload: Buffer.alloc(0) }))).toBe('ERR_HEP_INVALID');
    expect(code(() => encode({ version: 3, captureId: 2 ** 32, payload: Buffer.alloc(0) }))).toBe('ERR_HEP_INVALID');
    expect(code(() => encode({ version: 3, payload: Buffer.alloc(70_000) }))).toBe('ERR_HEP_INVALID');
    expect(code(() => encode({ version: 2, srcIp: '1.1.1.1', dstIp: '::1', payload: Buffer.alloc(0) }))).toBe('ERR_HEP_INVALID');
    expect(code(() => encode({ version: 1, payload: Buffer.alloc(0) }))).toBe('ERR_HEP_INVALID');
  });
  it('keep-alive (0x0D) and vlan (0x12) of another size than uint16 are kept raw, as OpenSIPS keeps them', () => {
    const p = decode(encodeChunks([
      { vendor: 0, type: 0x0d, data: Buffer.from([0, 0, 0, 30]) },
      { vendor: 0, type: 0x12, data: Buffer.from([7]) },
      { vendor: 0, type: 0x0f, data: Buffer.from('x') },
      { vendor: 0, type: 0x0d, data: Buffer.from([0, 30]) },
      { vendor: 0, type: 0x12, data: Buffer.from([0, 100]) },
      { vendor: 0, type: 0x0e, data: Buffer.from('s3cr3t') },
      { vendor: 0, type: 0x13, data: Buffer.from('node-1') },
    ]));
    expect(p).toMatchObject({ keepAliveTimer: 30, vlan: 100, authKey: 's3cr3t', nodeName: 'node-1' });
    expect(p.vendorChunks).toEqual([{ vendor: 0, type: 0x0d, data: Buffer.from([0, 0, 0, 30]) }, { vendor: 0, type: 0x12, data: Buffer.from([7]) }]);
  });
  it('IPv6 addresses round-trip in v3 and v2', () => {
    const p = decode(encode({ version: 3, family: 10, srcIp: '2001:db8::1', dstIp: '::ffff:10.1.2.3', payload: Buffer.from('x') }));
    expect([p.srcIp, p.dstIp]).toEqual(['2001:db8::1', '::ffff:10.1.2.3']);
    const q = decode(encode({ version: 2, srcIp: 'fe80::1:2:3:4', dstIp: '::', srcPort: 5060, dstPort: 9060, payload: Buffer.from('SIP') }));
    expect(q).toMatchObject({ family: 10, srcIp: 'fe80::1:2:3:4', dstIp: '::', srcPort: 5060, dstPort: 9060, v2TimeBlockLength: 12 });
    expect(q.payload.toString()).toBe('SIP');
  });
});
