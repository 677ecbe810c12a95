// Hostile peers on real sockets: each bad connection is closed with a typed error, and a
// healthy connection on the same listener keeps exchanging messages and loses none.
import type { Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import type { CloseEvent } from '@x/core-conn';
import type { MsrpReceived, MsrpRequest } from '../src/index.js';
import { collect, node, raw, stop, waitUntil, type Node } from './helpers.js';

let n: Node | undefined;
afterEach(async () => {
  await stop(n);
  n = undefined;
});

const auth = (tid: string): string => `MSRP ${tid} AUTH\r\nTo-Path: msrp://127.0.0.1:1;tcp\r\nFrom-Path: msrp://127.0.0.1:2/h;tcp\r\n-------${tid}$\r\n`;

async function setup(tls = false): Promise<{ got: MsrpReceived<MsrpRequest>[]; closes: CloseEvent[] }> {
  n = await node({ listen: true, tls });
  const got: MsrpReceived<MsrpRequest>[] = [];
  const closes: CloseEvent[] = [];
  n.engine.on('close', (ev) => void closes.push(ev));
  n.api.registerHandler({ host: '*', port: 0, secured: false }, (req, api) => {
    got.push(req);
    api.sendReply(req, 200, 'OK');
  });
  return { got, closes };
}

/** Writes `bytes` and waits until the server has read them (one read each, no timer) or the socket closed. */
async function readOnce(s: Socket, bytes: Buffer, closed: () => boolean): Promise<void> {
  const rcv = n!.engine.stats.get('msrp:rcv_bytes')!;
  const before = rcv.value();
  s.write(bytes);
  await waitUntil(() => rcv.value() >= before + bytes.length || closed(), 10_000, 'the server to read the piece');
}

/** A healthy client sends `count` AUTHs in a row and gets every 200. */
async function healthy(count: number): Promise<void> {
  const s = await raw(n!.listener!);
  const out = collect(s);
  for (let i = 0; i < count; i++) s.write(auth(`ok${i}`));
  await waitUntil(() => (out.data().match(/ 200 OK\r\n/g) ?? []).length === count, 10_000, 'every 200 to the healthy client');
  s.destroy();
}

describe('hostile MSRP peers', () => {
  it('an end-line with another transaction id closes that connection only', async () => {
    const { got, closes } = await setup();
    const bad = collect(await raw(n!.listener!).then((s) => (s.write('MSRP abc AUTH\r\nTo-Path: msrp://h:1;tcp\r\nFrom-Path: msrp://h:2;tcp\r\n-------abd$\r\n'), s)));
    await waitUntil(() => bad.closed());
    expect(closes.find((c) => c.reason === 'Protocol error')?.error).toMatchObject({ code: 'ERR_MSRP_END_LINE' });
    await healthy(20);
    expect(got.filter((r) => r.msg.tid.startsWith('ok'))).toHaveLength(20);
    expect(got.some((r) => r.msg.tid === 'abc')).toBe(false);
  });

  it('a body with no end-line past the chunk limit (4 reads) closes the connection', async () => {
    const { closes } = await setup();
    const s = await raw(n!.listener!);
    const bad = collect(s);
    s.write('MSRP big SEND\r\nTo-Path: msrp://h:1;tcp\r\nFrom-Path: msrp://h:2;tcp\r\nMessage-ID: 1\r\nContent-Type: text/plain\r\n\r\n');
    for (let i = 0; i < 10 && !bad.closed(); i++) await readOnce(s, Buffer.from('x'.repeat(1000)), bad.closed);
    await waitUntil(() => bad.closed());
    expect(closes.some((c) => c.reason === 'Too many read chunks')).toBe(true);
    await healthy(5);
  });

  it('100k headers: closed at the 64 KiB head bound, never delivered', async () => {
    const { got, closes } = await setup();
    const s = await raw(n!.listener!);
    const bad = collect(s);
    let text = 'MSRP flood AUTH\r\nTo-Path: msrp://h:1;tcp\r\nFrom-Path: msrp://h:2;tcp\r\n';
    for (let i = 0; i < 100_000; i++) text += `X-${i}: v\r\n`;
    s.write(text + '-------flood$\r\n');
    await waitUntil(() => bad.closed());
    expect(closes.some((c) => c.reason === 'Protocol error' || c.reason === 'Too many read chunks' || c.reason === 'Message too big')).toBe(true);
    expect(got.some((r) => r.msg.tid === 'flood')).toBe(false);
    await healthy(5);
  });

  it('a message split 1 byte per read is still delivered when the chunk limit allows it, and refused at the limit otherwise', async () => {
    const { got, closes } = await setup();
    const s = await raw(n!.listener!);
    s.setNoDelay(true);
    const c = collect(s);
    const bytes = Buffer.from(auth('slow'));
    for (let i = 0; i < bytes.length && !c.closed(); i++) await readOnce(s, bytes.subarray(i, i + 1), c.closed);
    await waitUntil(() => c.closed() || got.some((r) => r.msg.tid === 'slow'));
    // OpenSIPS's max_msg_chunks default of 4: a 1-byte-per-read sender is cut off
    expect(c.closed()).toBe(true);
    expect(closes.some((x) => x.reason === 'Too many read chunks')).toBe(true);
    await healthy(5);
  });

  it('plaintext to msrps: the TLS handshake fails and only that connection closes', async () => {
    const { got, closes } = await setup(true);
    const s = await raw(n!.tlsListener!);
    const bad = collect(s);
    s.write(auth('plain'));
    await waitUntil(() => bad.closed(), 10_000);
    expect(closes.length).toBeGreaterThan(0);
    expect(got.some((r) => r.msg.tid === 'plain')).toBe(false);
    // a real TLS client on the same listener is served
    n!.api.registerHandler({ host: '*', port: 0, secured: true }, (req, api) => api.sendReply(req, 200, 'OK'));
    const t = tlsConnect({ host: '127.0.0.1', port: n!.tlsListener!.address.port, rejectUnauthorized: false });
    const out = collect(t);
    await new Promise((r) => t.once('secureConnect', r));
    t.write(auth('tls1').replace('msrp://127.0.0.1:1;tcp', 'msrps://127.0.0.1:1;tcp'));
    await waitUntil(() => out.data().includes('MSRP tls1 200 OK'), 10_000);
    t.destroy();
    await healthy(3);
  });
});
