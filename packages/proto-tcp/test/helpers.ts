import { spawn, type ChildProcess } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { createStatsRegistry, type EngineOptions, type StatsRegistry } from '@x/core-conn';
import { stuckPeer as sharedStuckPeer, type StuckPeer } from '@x/core-conn/testing';
import { createSipTcp, SipFramer, type ProtoTcpParams, type SipTcp } from '../src/index.js';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export function sipReq(n: number | string, opts: { method?: string; body?: string; via?: string } = {}): string {
  const method = opts.method ?? 'OPTIONS';
  const body = opts.body ?? '';
  return (
    `${method} sip:svc@127.0.0.1 SIP/2.0\r\nVia: ${opts.via ?? `SIP/2.0/TCP 127.0.0.1:5070;branch=z9hG4bK${n}`}\r\n` +
    `From: <sip:a@x>;tag=${n}\r\nTo: <sip:b@x>\r\nCall-ID: ${n}@x\r\nCSeq: 1 ${method}\r\nContent-Length: ${Buffer.byteLength(body, 'latin1')}\r\n\r\n${body}`
  );
}

/** A raw SIP client socket that frames what it receives. */
export interface RawPeer {
  sock: Socket;
  /** local port, kept after the socket is gone */
  port: number;
  messages: Buffer[];
  /** every raw byte received (pongs included) */
  bytes(): Buffer;
  closed: boolean;
}

export async function rawPeer(port: number): Promise<RawPeer> {
  const sock = connect(port, '127.0.0.1');
  sock.setNoDelay(true);
  const peer: RawPeer = { sock, port: 0, messages: [], bytes: () => Buffer.concat(chunks), closed: false };
  const chunks: Buffer[] = [];
  const f = new SipFramer({ crlfPingpong: false });
  sock.on('data', (d) => {
    chunks.push(d);
    f.push(d, { message: (m) => peer.messages.push(Buffer.from(m)), keepalive: () => {}, reply: () => {} });
  });
  sock.on('error', () => {});
  sock.on('close', () => (peer.closed = true));
  await new Promise((r) => sock.once('connect', r));
  peer.port = sock.localPort!;
  return peer;
}

const instances: SipTcp[] = [];
const cleanups: Array<() => Promise<void> | void> = [];

/** A SipTcp OPTIONS responder on 127.0.0.1:0 with a stats registry; collected by stopAll. */
export async function responder(params: Partial<ProtoTcpParams> = {}, engineOptions: EngineOptions = {}): Promise<{ sip: SipTcp; port: number; stats: StatsRegistry }> {
  const stats = createStatsRegistry();
  const sip = await createSipTcp({ listen: ['tcp:127.0.0.1:0'], params, engineOptions: { sweepInterval: 50, stats, ...engineOptions } });
  instances.push(sip);
  sip.on('request', (m) => {
    if (m.method !== 'ACK') m.reply(200, 'OK').catch(() => undefined);
  });
  return { sip, port: sip.listeners[0]!.address.port, stats };
}

export function onCleanup(fn: () => Promise<void> | void): void {
  cleanups.push(fn);
}

export async function stopAll(): Promise<void> {
  for (const fn of cleanups.splice(0)) await fn();
  await Promise.all(instances.splice(0).map((s) => s.close()));
}

/** A TCP peer that accepts and never reads, so the sender's buffers fill up (closed by stopAll). */
export async function stuckPeer(): Promise<StuckPeer> {
  const peer = await sharedStuckPeer();
  onCleanup(() => peer.close());
  return peer;
}

/**
 * A listener that never accepts and whose accept queue is full, so a connect to it hangs
 * (SYNs dropped). Node always accepts, hence a tiny python process, stopped by its pid.
 */
export async function blackholePeer(): Promise<{ port: number }> {
  const child: ChildProcess = spawn('python3', ['-c', 'import socket,time\ns=socket.socket()\ns.bind(("127.0.0.1",0))\ns.listen(0)\nprint(s.getsockname()[1],flush=True)\ntime.sleep(60)'], { stdio: ['ignore', 'pipe', 'ignore'] });
  onCleanup(() => {
    if (child.exitCode === null && child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
    child.once('error', reject);
  });
  // fill the accept queue (backlog 0 holds one); later SYNs are dropped
  for (let i = 0; i < 3; i++) {
    const s = connect(port, '127.0.0.1');
    s.on('error', () => {});
    onCleanup(() => void s.destroy());
  }
  await sleep(100);
  return { port };
}

/** Waits until `pred` holds or `ms` pass; returns whether it held. */
export async function until(pred: () => boolean, ms = 3000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (pred()) return true;
    await sleep(10);
  }
  return pred();
}
