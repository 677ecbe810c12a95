import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { CloseEvent, ConnectionProfile, StatsRegistry } from '@x/core-conn';
import type { ProtoTcpParams, SipTcp } from '../src/index.js';
import { rawPeer, responder, sipReq, sleep, stopAll, until, type RawPeer } from './helpers.js';

afterEach(stopAll);

const HEALTHY = 100;

interface Arena {
  port: number;
  sip: SipTcp;
  stats: StatsRegistry;
  closes: CloseEvent[];
  /** closes of connections other than the attacker's */
  collateral(attackerPort: number | undefined): CloseEvent[];
  /** rounds of healthy traffic sent so far (one request per healthy peer each) */
  rounds(): number;
  /** tcp:rcv_bytes of the responder */
  rcvBytes(): number;
  /** stops the healthy traffic until resume(), once every request sent so far is answered */
  pause(): Promise<void>;
  resume(): void;
  /** stops the healthy traffic and checks every request got its reply, none lost */
  finish(): Promise<{ sent: number; answered: number }>;
}

/** A responder with HEALTHY peers exchanging OPTIONS every 50 ms while the attack runs. */
async function arena(params: Partial<ProtoTcpParams> = {}, profile: Partial<ConnectionProfile> = {}): Promise<Arena> {
  // tcp_socket_backlog raised: 100 simultaneous connects overflow the default 10
  const { sip, port, stats } = await responder(params, { defaultProfile: profile, socketBacklog: 512 });
  const closes: CloseEvent[] = [];
  sip.on('close', (ev) => closes.push(ev));
  const peers: RawPeer[] = await Promise.all(Array.from({ length: HEALTHY }, () => rawPeer(port)));
  const sent = new Array<number>(HEALTHY).fill(0);
  let n = 0;
  const round = (): void => {
    peers.forEach((p, i) => {
      p.sock.write(sipReq(`h${i}-${n}`));
      sent[i]!++;
    });
    n++;
  };
  let timer = setInterval(round, 50);
  const answered = (): number => peers.reduce((acc, p) => acc + p.messages.length, 0);
  return {
    port,
    sip,
    stats,
    closes,
    collateral: (attackerPort) => closes.filter((c) => c.conn.remote.port !== attackerPort),
    rounds: () => n,
    rcvBytes: () => stats.get('tcp:rcv_bytes')!.value(),
    async pause() {
      clearInterval(timer);
      const want = sent.reduce((acc, b) => acc + b, 0);
      expect(await until(() => answered() === want, 10_000), 'healthy traffic answered before the pause').toBe(true);
    },
    resume() {
      timer = setInterval(round, 50);
    },
    async finish() {
      clearInterval(timer);
      const total = (): number => peers.reduce((a, p) => a + p.messages.length, 0);
      const want = sent.reduce((a, b) => a + b, 0);
      await until(() => total() === want, 30_000);
      peers.forEach((p, i) => {
        expect(p.closed, `healthy peer ${i} closed`).toBe(false);
        expect(p.messages.length, `healthy peer ${i} replies`).toBe(sent[i]);
      });
      return { sent: want, answered: total() };
    },
  };
}

async function attackerClosed(a: Arena, attacker: RawPeer, ms: number): Promise<CloseEvent> {
  const port = attacker.port;
  const ok = await until(() => a.closes.some((c) => c.conn.remote.port === port), ms);
  expect(ok, 'the attacker connection was closed').toBe(true);
  return a.closes.find((c) => c.conn.remote.port === port)!;
}

async function verdict(a: Arena, attacker: RawPeer, ms = 20_000): Promise<CloseEvent> {
  const port = attacker.port;
  const ev = await attackerClosed(a, attacker, ms);
  // let two more rounds of healthy traffic cross after the close (counted, not slept for)
  const after = a.rounds() + 2;
  expect(await until(() => a.rounds() >= Math.max(after, 2), 10_000), 'healthy rounds after the close').toBe(true);
  const { sent, answered } = await a.finish();
  expect(sent).toBeGreaterThanOrEqual(HEALTHY * 2); // healthy traffic really flowed during the attack
  expect(answered).toBe(sent);
  expect(a.collateral(port)).toEqual([]);
  return ev;
}

describe('hostile peers are closed, 100 healthy connections lose nothing', () => {
  it('slowloris: 1 byte per 100 ms is closed at msg_read_timeout', async () => {
    const a = await arena({ tcp_max_msg_chunks: 0 }, { msgReadTimeout: 1 });
    const evil = await rawPeer(a.port);
    const bytes = Buffer.from(sipReq('slow'));
    let i = 0;
    const t = setInterval(() => {
      if (!evil.closed && i < bytes.length) evil.sock.write(bytes.subarray(i, ++i));
    }, 100);
    try {
      const ev = await verdict(a, evil, 20_000);
      expect(ev).toMatchObject({ reason: 'Timeout waiting for a complete message', error: { code: 'ERR_CONN_READ_TIMEOUT' } });
      expect(i).toBeLessThan(bytes.length);
    } finally {
      clearInterval(t);
    }
  });

  it('a message in more reads than tcp_max_msg_chunks', async () => {
    const a = await arena();
    const evil = await rawPeer(a.port);
    const bytes = Buffer.from(sipReq('chunky'));
    // each chunk is sent once the server has read the previous one (tcp:rcv_bytes, counted per
    // read, with the healthy traffic paused meanwhile), so the reads are separate however busy
    // the machine is; the healthy traffic runs before and after
    while (a.rounds() < 2) await sleep(10);
    await a.pause();
    for (let i = 0; i < 8 && !evil.closed; i++) {
      const before = a.rcvBytes();
      evil.sock.write(bytes.subarray(i * 10, i * 10 + 10));
      expect(await until(() => a.rcvBytes() >= before + 10 || evil.closed, 5000)).toBe(true);
    }
    a.resume();
    const ev = await verdict(a, evil);
    expect(ev).toMatchObject({ reason: 'Too many read chunks', error: { code: 'ERR_CONN_MAX_CHUNKS' } });
  });

  it('Content-Length: 4294967295', async () => {
    const a = await arena();
    const evil = await rawPeer(a.port);
    evil.sock.write(sipReq('huge').replace('Content-Length: 0', 'Content-Length: 4294967295'));
    const ev = await verdict(a, evil);
    expect(ev).toMatchObject({ reason: 'Protocol error', error: { code: 'ERR_SIP_TOO_BIG' } });
  });

  it('a missing Content-Length', async () => {
    const a = await arena();
    const evil = await rawPeer(a.port);
    evil.sock.write(sipReq('nocl').replace('Content-Length: 0\r\n', ''));
    const ev = await verdict(a, evil);
    expect(ev).toMatchObject({ reason: 'Protocol error', error: { code: 'ERR_SIP_NO_CONTENT_LENGTH' } });
    expect(evil.messages).toEqual([]); // no 400 is sent, as OpenSIPS
  });

  it('framed messages whose start line is not SIP: closed at the first, counted, never delivered (log amplification)', async () => {
    const a = await arena();
    const { sip, stats } = a;
    const delivered: string[] = [];
    const evil = await rawPeer(a.port);
    sip.on('message', (m) => {
      if (m.conn.remote.port === evil.port) delivered.push(m.raw.toString('latin1'));
    });
    const before = stats.get('tcp:proto_errors')!.value();
    evil.sock.write('X\r\nl:0\r\n\r\n'.repeat(20000));
    const ev = await verdict(a, evil);
    expect(ev).toMatchObject({ reason: 'Protocol error', error: { code: 'ERR_SIP_BAD_MESSAGE' } });
    expect(delivered).toEqual([]);
    expect(stats.get('tcp:proto_errors')!.value()).toBe(before + 1);
  });

  it('two different Content-Length headers: closed, the bytes after are not swallowed into a message (smuggling)', async () => {
    const a = await arena();
    const delivered: string[] = [];
    const evil = await rawPeer(a.port);
    a.sip.on('message', (m) => {
      if (m.conn.remote.port === evil.port) delivered.push(m.raw.toString('latin1'));
    });
    const smuggle = sipReq('cl2').replace('Content-Length: 0\r\n', 'Content-Length: 10\r\nContent-Length: 0\r\n');
    evil.sock.write(smuggle + sipReq('next'));
    const ev = await verdict(a, evil);
    expect(ev).toMatchObject({ reason: 'Protocol error', error: { code: 'ERR_SIP_CONFLICTING_CONTENT_LENGTH' } });
    expect(delivered).toEqual([]);
    expect(evil.messages).toEqual([]);
  });

  it('CRLF floods from a peer that never reads its pongs', async () => {
    const a = await arena();
    const evil = await rawPeer(a.port);
    evil.sock.pause();
    const flood = Buffer.alloc(1 << 20, '\r\n');
    // up to 200 MB, until the connection is cut: the pongs pile up unread; the stall past
    // tcp_async_local_write_timeout (10 ms) only postpones them, the queue limit cuts it
    for (let i = 0; i < 200 && !evil.closed; i++) {
      if (!evil.sock.write(flood)) await Promise.race([new Promise((r) => evil.sock.once('drain', r)), sleep(200)]);
    }
    const ev = await verdict(a, evil, 30_000);
    expect(ev).toMatchObject({ reason: 'Write queue full', error: { code: 'ERR_CONN_QUEUE_FULL' } });
  });

  it('random bytes', async () => {
    const a = await arena();
    const evil = await rawPeer(a.port);
    evil.sock.write(Buffer.concat([Buffer.from('INVITE '), randomBytes(128 * 1024)]));
    const ev = await verdict(a, evil);
    expect(['Protocol error', 'Too many read chunks', 'Message too big']).toContain(ev.reason);
    expect(['ERR_SIP_BAD_MESSAGE', 'ERR_SIP_NO_CONTENT_LENGTH', 'ERR_SIP_BAD_CONTENT_LENGTH', 'ERR_SIP_CONFLICTING_CONTENT_LENGTH', 'ERR_SIP_TOO_BIG', 'ERR_CONN_MAX_CHUNKS', 'ERR_CONN_MSG_TOO_BIG']).toContain((ev.error as unknown as { code: string }).code);
  });

  it('half-open: a peer that sends half a message then FIN', async () => {
    const a = await arena();
    const evil = await rawPeer(a.port);
    evil.sock.end(sipReq('half').slice(0, 60));
    const ev = await verdict(a, evil);
    expect(ev).toMatchObject({ reason: 'EOF received', error: { code: 'ERR_CONN_EOF' } });
  });

  it('half-open: a silent peer is closed at con_lifetime', async () => {
    const a = await arena({}, { conLifetime: 1 });
    const evil = await rawPeer(a.port);
    const ev = await verdict(a, evil, 20_000);
    expect(ev).toMatchObject({ reason: 'Timeout on no traffic', error: { code: 'ERR_CONN_LIFETIME' } });
  });

  it('a peer that never reads its replies hits the write queue limit', async () => {
    const a = await arena(); // tcp_async_local_write_timeout at its default: the stall alone does not close
    const evil = await rawPeer(a.port);
    evil.sock.pause();
    // replies copy the Via: a 30 KB Via makes 30 KB replies
    const req = Buffer.from(sipReq('fat', { via: `SIP/2.0/TCP 127.0.0.1:5070;branch=z9hG4bKfat;pad=${'p'.repeat(30000)}` }));
    for (let i = 0; i < 600 && !evil.closed; i++) {
      if (!evil.sock.write(req)) await Promise.race([new Promise((r) => evil.sock.once('drain', r)), sleep(200)]);
    }
    const ev = await verdict(a, evil, 30_000);
    expect(ev).toMatchObject({ reason: 'Write queue full', error: { code: 'ERR_CONN_QUEUE_FULL' } });
  });
});
