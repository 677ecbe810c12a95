// The observation tap (node:diagnostics_channel) on real sockets: TCP, TLS and UDP.
import diagnostics_channel from 'node:diagnostics_channel';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { subscribeTap, TapChannels, tap, type TapCloseEvent, type TapConnEvent, type TapMessageEvent } from '../src/tap.js';
import type { ProtocolSpec } from '../src/types.js';
import { makePki, type TestPki } from './certs.js';
import { lpEngine, rawClient, stopAll, until, waitFor } from './helpers.js';
import { duSpec } from './du-proto.js';
import { encode, lpSpec, PING_FRAME, PONG_FRAME } from './lp-proto.js';

let pki: TestPki;
beforeAll(async () => {
  pki = await makePki();
});
const unsubs: (() => void)[] = [];
afterEach(async () => {
  for (const u of unsubs.splice(0)) u();
  await stopAll();
});

type Rec = { ch: string; proto: string; id: number | undefined; bytes?: Buffer; reason?: string; kind?: string; local?: string };

/** Records every tap event (bytes copied) for connections of the given engine's id range. */
function record(opts: { exclude?: string[]; only?: string[] } = {}): Rec[] {
  const out: Rec[] = [];
  const conn = (ch: string) => (ev: TapConnEvent) => out.push({ ch, proto: ev.proto, id: ev.conn.id });
  const msg = (ch: string) => (ev: TapMessageEvent) =>
    out.push({ ch, proto: ev.proto, id: ev.conn?.id, bytes: Buffer.from(ev.bytes), ...(ev.kind ? { kind: ev.kind } : {}), local: `${ev.local.host}:${ev.local.port}` });
  unsubs.push(
    subscribeTap({
      ...opts,
      onOpen: conn('open'),
      onAccept: conn('accept'),
      onConnect: conn('connect'),
      onClose: (ev: TapCloseEvent) => out.push({ ch: 'close', proto: ev.proto, id: ev.conn.id, reason: ev.reason }),
      onMessageIn: msg('in'),
      onMessageOut: msg('out'),
    }),
  );
  return out;
}

describe('observation tap', () => {
  it('publishes a request answered inside its handler in wire order: in before out, with the wire bytes', async () => {
    const server = lpEngine({ firstConnectionId: 1000 });
    // the reply is written by the first handler, before any other handler sees the request
    server.on('message', (ev) => server.write(ev.conn.id, encode('pong:' + (ev.message as Buffer).toString())));
    const l = await server.listen('lp:127.0.0.1:0');
    const events = record();
    const client = lpEngine({ firstConnectionId: 5000 });
    const back = waitFor(client, 'message');
    const c = (await client.send('lp', l.address, encode('ping')))!;
    await back;
    await client.shutdown({ deadlineMs: 100 });
    await until(() => events.some((e) => e.ch === 'close' && e.id === 1000));
    const srv = events.filter((e) => e.id !== undefined && e.id >= 1000 && e.id < 5000);
    expect(srv.map((e) => e.ch)).toEqual(['open', 'accept', 'in', 'out', 'close']);
    expect(srv[2]!.bytes).toEqual(encode('ping'));
    expect(srv[3]!.bytes).toEqual(encode('pong:ping'));
    expect(srv[4]!.reason).toBe('EOF received');
    const cli = events.filter((e) => e.id === c.id);
    expect(cli.map((e) => e.ch)).toEqual(['open', 'connect', 'out', 'in', 'close']);
    // the out event of the first message comes after connect: its local port is the real one
    expect(cli[2]!.local).toBe(`127.0.0.1:${c.local.port}`);
    expect(c.local.port).toBeGreaterThan(0);
    expect(cli[3]!.bytes).toEqual(encode('pong:ping'));
    expect(cli[4]!.reason).toBe('Shutdown');
  });

  it("publishes a framer's own reply (a pong) as out with kind 'reply'", async () => {
    const server = lpEngine({ firstConnectionId: 100 });
    const l = await server.listen('lp:127.0.0.1:0');
    const events = record();
    const sock = await rawClient(l);
    const got = new Promise<Buffer>((r) => sock.once('data', r));
    sock.write(PING_FRAME);
    expect(await got).toEqual(PONG_FRAME);
    await until(() => events.some((e) => e.ch === 'out'));
    expect(events.find((e) => e.ch === 'out')).toMatchObject({ proto: 'lp', kind: 'reply', bytes: PONG_FRAME });
    sock.destroy();
  });

  it('carries the protocol on every event so a subscriber can exclude some', async () => {
    const server = lpEngine({}, lpSpec({ name: 'lpa' }));
    server.registerProtocol(lpSpec({ name: 'lpb' }));
    server.on('message', (ev) => server.write(ev.conn.id, encode('ok')));
    const la = await server.listen('lpa:127.0.0.1:0');
    const lb = await server.listen('lpb:127.0.0.1:0');
    const all = record();
    const noA = record({ exclude: ['lpa'] });
    const onlyA = record({ only: ['lpa'] });
    const client = lpEngine({}, lpSpec({ name: 'lpa' }));
    client.registerProtocol(lpSpec({ name: 'lpb' }));
    const two = new Promise<void>((resolve) => {
      let n = 0;
      client.on('message', () => ++n === 2 && resolve());
    });
    await client.send('lpa', la.address, encode('a'));
    await client.send('lpb', lb.address, encode('b'));
    await two;
    expect(new Set(all.map((e) => e.proto))).toEqual(new Set(['lpa', 'lpb']));
    expect(noA.length).toBeGreaterThan(0);
    expect(noA.every((e) => e.proto === 'lpb')).toBe(true);
    expect(onlyA.every((e) => e.proto === 'lpa')).toBe(true);
    expect(noA.length + onlyA.length).toBe(all.length);
  });

  it('publishes TLS connections with their plaintext messages', async () => {
    const lps = (): ProtocolSpec<Buffer> => lpSpec({ name: 'lps', transport: 'tls' });
    const server = lpEngine({ firstConnectionId: 1000, tlsHandshakeTimeout: 5000, tlsDomains: [{ name: 'srv', side: 'server', certificate: pki.a.cert, privateKey: pki.a.key, requireCert: false, verifyCert: false }] }, lps());
    server.on('message', (ev) => server.write(ev.conn.id, encode('secret back')));
    const l = await server.listen('lps:127.0.0.1:0');
    const events = record();
    const client = lpEngine({ firstConnectionId: 5000, tlsHandshakeTimeout: 5000, tlsDomains: [{ name: 'cli', side: 'client', caList: pki.ca.cert }] }, lps());
    const back = waitFor(client, 'message');
    await client.send('lps', l.address, encode('secret'));
    await back;
    const srv = events.filter((e) => e.id !== undefined && e.id >= 1000 && e.id < 5000);
    expect(srv.map((e) => e.ch)).toEqual(['open', 'accept', 'in', 'out']);
    expect(srv[2]!.bytes).toEqual(encode('secret'));
    expect(srv.every((e) => e.proto === 'lps')).toBe(true);
  });

  it('publishes UDP datagrams in and out', async () => {
    const du = duSpec();
    const a = lpEngine();
    a.registerProtocol(du);
    const b = lpEngine();
    b.registerProtocol(du);
    const la = await a.listen('du:127.0.0.1:0');
    const lb = await b.listen('du:127.0.0.1:0');
    const events = record({ only: ['du'] });
    const got = waitFor(b, 'datagram');
    await a.send('du', lb.address, Buffer.from('Dhello'));
    await got;
    expect(events.map((e) => e.ch)).toEqual(['out', 'in']);
    expect(events[0]).toMatchObject({ id: undefined, bytes: Buffer.from('Dhello'), local: `127.0.0.1:${la.address.port}` });
    expect(events[1]).toMatchObject({ id: undefined, bytes: Buffer.from('Dhello'), local: `127.0.0.1:${lb.address.port}` });
  });

  it('publishes sendDatagram as send: one out event with the bytes, from the listener', async () => {
    const a = lpEngine();
    a.registerProtocol(duSpec());
    const la = await a.listen('du:127.0.0.1:0');
    const events = record({ only: ['du'] });
    const sent = new Promise((resolve) => a.sendDatagram('du', { host: '127.0.0.1', port: 9 }, Buffer.from('Dbye'), resolve));
    expect(events).toEqual([expect.objectContaining({ ch: 'out', id: undefined, bytes: Buffer.from('Dbye'), local: `127.0.0.1:${la.address.port}` })]);
    await sent;
  });

  it('publishes nothing, on any channel, for a protocol whose spec says tap: false (stream and datagram)', async () => {
    // every message of the raw channels, not only what subscribeTap lets through
    const raw: string[] = [];
    const fns = Object.values(TapChannels).map((name) => {
      const fn = (m: unknown): void => void raw.push(`${name} ${(m as { proto: string }).proto}`);
      diagnostics_channel.subscribe(name, fn);
      return () => diagnostics_channel.unsubscribe(name, fn);
    });
    unsubs.push(...fns);
    const quiet = lpSpec({ name: 'lpq', tap: false });
    const server = lpEngine({}, quiet);
    server.registerProtocol(lpSpec({ name: 'lpa' }));
    server.registerProtocol(duSpec({ name: 'duq', tap: false }));
    server.registerProtocol(duSpec());
    server.on('message', (ev) => server.write(ev.conn.id, encode('ok')));
    const lq = await server.listen('lpq:127.0.0.1:0');
    const la = await server.listen('lpa:127.0.0.1:0');
    const ldq = await server.listen('duq:127.0.0.1:0');
    const ld = await server.listen('du:127.0.0.1:0');
    const client = lpEngine({}, lpSpec({ name: 'lpq', tap: false }));
    client.registerProtocol(lpSpec({ name: 'lpa' }));
    client.registerProtocol(duSpec({ name: 'duq', tap: false }));
    client.registerProtocol(duSpec());
    await client.listen('duq:127.0.0.1:0');
    await client.listen('du:127.0.0.1:0');
    const replies = new Promise<void>((resolve) => {
      let n = 0;
      client.on('message', () => ++n === 2 && resolve());
    });
    const datagrams = new Promise<void>((resolve) => {
      let n = 0;
      server.on('datagram', () => ++n === 4 && resolve());
    });
    await client.send('lpq', lq.address, encode('q'));
    await client.send('lpa', la.address, encode('a'));
    await client.send('duq', ldq.address, Buffer.from('Dq'));
    await client.send('du', ld.address, Buffer.from('Da'));
    client.sendDatagram('duq', ldq.address, Buffer.from('Dq2'));
    client.sendDatagram('du', ld.address, Buffer.from('Da2'));
    await replies;
    await datagrams;
    await client.shutdown({ deadlineMs: 100 });
    await until(() => raw.filter((r) => r === 'x:conn:close lpa').length === 2);
    // the tapped protocols publish everything (both sides of lpa: 2 opens, an accept, a connect...)
    for (const ch of ['x:conn:open', 'x:conn:accept', 'x:conn:connect', 'x:conn:close', 'x:message:in', 'x:message:out']) expect(raw).toContain(`${ch} lpa`);
    expect(raw.filter((r) => r === 'x:message:out du')).toHaveLength(2);
    expect(raw.filter((r) => r === 'x:message:in du')).toHaveLength(2);
    // the quiet ones nothing, though they carried the same traffic
    expect(raw.filter((r) => r.endsWith(' lpq') || r.endsWith(' duq'))).toEqual([]);
    expect(server.stats.get('lpq:rcv_msgs')!.value()).toBe(1);
    expect(server.stats.get('duq:rcv_msgs')!.value()).toBe(2);
  });

  it('refuses a tap option that is not a boolean', () => {
    const e = lpEngine();
    expect(() => e.registerProtocol(lpSpec({ name: 'lpx', tap: 'no' as unknown as boolean }))).toThrow(/protocol "lpx": tap must be true or false, got "no"/);
  });

  it('uses the well-known channel names, shared with diagnostics_channel.channel(name)', () => {
    expect(diagnostics_channel.channel(TapChannels.messageIn)).toBe(tap.messageIn);
    expect(tap.messageOut.hasSubscribers).toBe(false);
    const off = subscribeTap({ onMessageOut: () => undefined });
    expect(tap.messageOut.hasSubscribers).toBe(true);
    expect(tap.messageIn.hasSubscribers).toBe(false);
    off();
    expect(tap.messageOut.hasSubscribers).toBe(false);
  });
});
