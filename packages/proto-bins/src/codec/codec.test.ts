import { describe, expect, it } from 'vitest';
import {
  BinBuilder,
  BinError,
  BinReader,
  BIN_MAX_PACKET_LEN,
  ClustererMsgType,
  decode,
  decodeClustererInternal,
  decodeGenericMsg,
  decodeMiCmd,
  encode,
  encodeClustererInternal,
  encodeGenericMsg,
  encodeMiCmd,
  encodeRemoveNode,
  splitTrailer,
} from './index.js';

// bin-protocol.md §7, the hex dump as printed
const PING = Buffer.from(
  `50 34 43 4b 2e 00 00 00 01 00 12 00 63 6c 75 73 74 65 72 65 72 2d 69 6e 74 65 72 6e 61 6c 00 00
   00 00 01 00 00 00 01 00 00 00 01 00 00 00`.replace(/\s+/g, ''),
  'hex',
);

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(BinError);
    expect((e as Error).name).toBe('BinError');
    return (e as BinError).code;
  }
  throw new Error('did not throw');
}

describe('bin-protocol.md §7 worked example', () => {
  it('decodes the PING dump and rebuilds it with the builder and the typed helper', () => {
    const p = decode(PING);
    expect(p).toMatchObject({ version: 1, capability: 'clusterer-internal', type: 0 });
    expect(p.body.toString('hex')).toBe('010000000100000001000000');
    expect(new BinBuilder('clusterer-internal', 0, 1).pushInt(1).pushInt(1).pushInt(1).build().equals(PING)).toBe(true);
    expect(decodeClustererInternal(p)).toEqual({ type: 0, clusterId: 1, sourceId: 1, reqNodeList: 1 });
    expect(encodeClustererInternal({ type: 0, clusterId: 1, sourceId: 1, reqNodeList: 1 }).equals(PING)).toBe(true);
    expect(encode(p).equals(PING)).toBe(true);
  });
  it('the matching PONG from node 2 is 50 bytes with body 1, 2, 1, 3', () => {
    const pong = encodeClustererInternal({ type: ClustererMsgType.PONG, clusterId: 1, sourceId: 2, nodes: [3] });
    expect(pong.length).toBe(50);
    expect(pong.readUInt32LE(4)).toBe(50);
    expect(pong.subarray(34).toString('hex')).toBe('01000000' + '02000000' + '01000000' + '03000000');
  });
});

describe('decode limits and errors', () => {
  it('wrong marker, short header, lengths < 17 and > 65515, truncated, trailing bytes', () => {
    expect(code(() => decode(Buffer.from('P4CX' + 'x'.repeat(20))))).toBe('ERR_BIN_MARKER');
    expect(code(() => decode(Buffer.from('Q')))).toBe('ERR_BIN_MARKER');
    expect(code(() => decode(PING.subarray(0, 9)))).toBe('ERR_BIN_TRUNCATED');
    for (const len of [0, 16]) {
      const b = Buffer.from(PING);
      b.writeUInt32LE(len, 4);
      expect(code(() => decode(b))).toBe('ERR_BIN_LENGTH');
    }
    const big = Buffer.from(PING);
    big.writeUInt32LE(BIN_MAX_PACKET_LEN + 1, 4);
    expect(code(() => decode(big))).toBe('ERR_BIN_LENGTH');
    expect(code(() => decode(PING.subarray(0, 40)))).toBe('ERR_BIN_TRUNCATED');
    expect(code(() => decode(Buffer.concat([PING, Buffer.from([0])])))).toBe('ERR_BIN_LENGTH');
  });
  it('a capability length that does not fit, or 0 -> ERR_BIN_CAPABILITY', () => {
    for (const n of [0, 31, 0xffff]) {
      const b = Buffer.from(PING);
      b.writeUInt16LE(n, 10);
      expect(code(() => decode(b))).toBe('ERR_BIN_CAPABILITY');
    }
    // 30 = exactly fits (type = the last 4 bytes): accepted, empty body
    const b = Buffer.from(PING);
    b.writeUInt16LE(30, 10);
    expect(decode(b).body.length).toBe(0);
  });
  it('the smallest packet is 17 bytes', () => {
    const p = new BinBuilder('c', 5, 0).build();
    expect(p.length).toBe(17);
    expect(decode(p)).toMatchObject({ capability: 'c', type: 5, version: 0, body: Buffer.alloc(0) });
  });
});

describe('BinBuilder / BinReader', () => {
  it('ints are int32 LE, strings a uint16 LE length then the bytes, empty = length 0', () => {
    const b = new BinBuilder('cap', -7, 3).pushInt(-1).pushInt(0x01020304).pushStr('héllo').pushStr(null).pushStr('').pushStr(Buffer.from([0, 255])).build();
    const p = decode(b);
    expect(p.version).toBe(3);
    expect(p.type).toBe(-7);
    expect(p.body.toString('hex')).toBe('ffffffff' + '04030201' + '0600' + Buffer.from('héllo').toString('hex') + '0000' + '0000' + '0200' + '00ff');
    const r = new BinReader(p.body);
    expect(r.popInt()).toBe(-1);
    expect(r.popInt()).toBe(0x01020304);
    expect(r.popStr()).toBe('héllo');
    expect(r.popStr()).toBe('');
    expect(r.popBytes().length).toBe(0);
    expect([...r.popBytes()]).toEqual([0, 255]);
    expect(r.remaining).toBe(0);
    expect(code(() => r.popInt())).toBe('ERR_BIN_NO_MORE_DATA');
  });
  it('a pop that overruns -> ERR_BIN_OVERRUN; popBackInt reads the tail and shortens', () => {
    expect(code(() => new BinReader(Buffer.from('0100', 'hex')).popInt())).toBe('ERR_BIN_OVERRUN');
    expect(code(() => new BinReader(Buffer.from('0500414243', 'hex')).popStr())).toBe('ERR_BIN_OVERRUN');
    const r = new BinReader(Buffer.from('010000000200000003000000', 'hex'));
    expect(r.popInt()).toBe(1);
    expect(r.popBackInt()).toBe(3);
    expect(r.remaining).toBe(4);
    expect(r.rest().toString('hex')).toBe('02000000');
    expect(r.popBackInt()).toBe(2);
    expect(code(() => r.popBackInt())).toBe('ERR_BIN_OVERRUN');
    expect(code(() => r.popInt())).toBe('ERR_BIN_NO_MORE_DATA');
  });
  it('refuses to grow past 65515 bytes and bad values', () => {
    const b = new BinBuilder('clusterer-extra', 7, 1);
    b.pushStr('x'.repeat(65000));
    expect(code(() => b.pushStr('y'.repeat(600)))).toBe('ERR_BIN_TOO_BIG');
    // still usable: exactly up to the limit
    const room = BIN_MAX_PACKET_LEN - b.length - 2;
    b.pushStr('z'.repeat(room));
    expect(b.build().length).toBe(BIN_MAX_PACKET_LEN);
    expect(code(() => new BinBuilder('c', 0).pushInt(2 ** 31))).toBe('ERR_BIN_INVALID');
    expect(code(() => new BinBuilder('c', 0).pushInt(1.5))).toBe('ERR_BIN_INVALID');
    expect(code(() => new BinBuilder('', 0))).toBe('ERR_BIN_INVALID');
    expect(code(() => new BinBuilder('c', 0, 40000))).toBe('ERR_BIN_INVALID');
    expect(code(() => new BinBuilder('c', 0).pushStr(Buffer.alloc(65536)))).toBe('ERR_BIN_INVALID');
    expect(code(() => encode({ version: 1, capability: 'c', type: 0, body: Buffer.alloc(65500) }))).toBe('ERR_BIN_TOO_BIG');
  });
});

describe('clusterer helpers', () => {
  it('GENERIC_MSG: req_like, tag, message, then the trailer (broadcast -1)', () => {
    const b = encodeGenericMsg({ reqLike: 1, tag: 't1', message: 'hello', clusterId: 1, sourceId: 3, destId: -1 });
    const p = decode(b);
    expect(p).toMatchObject({ capability: 'clusterer-extra', type: 7, version: 1 });
    expect(p.body.subarray(-12).toString('hex')).toBe('01000000' + '03000000' + 'ffffffff');
    expect(decodeGenericMsg(p)).toEqual({ reqLike: 1, tag: 't1', message: 'hello', clusterId: 1, sourceId: 3, destId: -1 });
    expect(code(() => decodeGenericMsg(decode(new BinBuilder('clusterer-extra', 7).pushInt(1).build())))).toBe('ERR_BIN_CLUSTERER');
  });
  it('REMOVE_NODE and MI_CMD', () => {
    const rm = decode(encodeRemoveNode(4, { clusterId: 1, sourceId: 2, destId: 3 }));
    expect(rm.type).toBe(6);
    expect(splitTrailer(rm.body)).toEqual({ fields: Buffer.from('04000000', 'hex'), trailer: { clusterId: 1, sourceId: 2, destId: 3 } });
    const mi = { command: 'ul_dump', params: ['a', 'b'], clusterId: 1, sourceId: 2, destId: 3 };
    expect(decodeMiCmd(decode(encodeMiCmd(mi)))).toEqual(mi);
  });
  it('counts out of range and unknown types are ERR_BIN_CLUSTERER', () => {
    const pong = new BinBuilder('clusterer-internal', 1).pushInt(1).pushInt(2).pushInt(-1).build();
    expect(code(() => decodeClustererInternal(decode(pong)))).toBe('ERR_BIN_CLUSTERER');
    const odd = new BinBuilder('clusterer-internal', 42).pushInt(1).pushInt(2).build();
    expect(code(() => decodeClustererInternal(decode(odd)))).toBe('ERR_BIN_CLUSTERER');
    expect(code(() => decodeClustererInternal(decode(new BinBuilder('clusterer-internal', 0).pushInt(1).pushInt(2).build())))).toBe('ERR_BIN_NO_MORE_DATA');
  });
});
