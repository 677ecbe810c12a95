// Datagram protocols: binding a listener, decoding what arrives, sending from a listener.
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { formatAddress, normalizeHost } from '../address.js';
import { ConnectionError, ErrorCodes } from '../errors.js';
import type { Address, DatagramEvent, ErrorEvent, ListenerInfo, ProtocolSpec } from '../types.js';
import type { ProtoStats } from './proto-stats.js';
import { MessageEvent, tap } from '../tap.js';
import type { DatagramSent } from './types.js';

/** Binds a UDP socket on host:port; rejects with a ConnectionError (ERR_CONN_SOCKET). */
export async function bindUdp(proto: string, host: string, port: number): Promise<{ udp: UdpSocket; address: Address }> {
  const udp = createSocket({ type: isIP(host) === 6 ? 'udp6' : 'udp4' });
  await new Promise<void>((resolve, reject) => {
    udp.once('error', reject);
    udp.bind(port, host, () => {
      udp.removeListener('error', reject);
      resolve();
    });
  }).catch((err: unknown) => {
    throw new ConnectionError(ErrorCodes.SOCKET, `cannot bind ${proto}:${formatAddress({ host, port })}: ${(err as Error).message}`, { cause: err });
  });
  const a = udp.address();
  return { udp, address: { host: normalizeHost(a.address), port: a.port } };
}

/** Linux reports (getsockopt SO_RCVBUF) twice the size it was asked for: the data plus its bookkeeping. */
const REPORTED_PER_ASKED = process.platform === 'linux' ? 2 : 1;

/**
 * Raises the receive buffer of `udp` to `asked` bytes (never lowers it, as OpenSIPS only probes
 * upward); returns what the kernel reports (getsockopt: on Linux twice the size set) and
 * whether net.core.rmem_max capped the request.
 */
export function sizeRecvBuffer(udp: UdpSocket, asked: number): { granted: number; capped: boolean } {
  const want = asked * REPORTED_PER_ASKED;
  if (udp.getRecvBufferSize() >= want) return { granted: udp.getRecvBufferSize(), capped: false };
  udp.setRecvBufferSize(asked);
  const granted = udp.getRecvBufferSize();
  return { granted, capped: granted < want };
}

/** The /proc/net/udp{,6} text of an address: hex of the address bytes as the kernel prints them (host-order u32 words) and hex port. */
function procAddress(a: Address): string | undefined {
  const port = a.port.toString(16).toUpperCase().padStart(4, '0');
  const v = isIP(a.host);
  if (v === 4) {
    const b = a.host.split('.').map(Number);
    return `${[b[3], b[2], b[1], b[0]].map((x) => x!.toString(16).toUpperCase().padStart(2, '0')).join('')}:${port}`;
  }
  if (v !== 6) return undefined;
  // expand to 16 bytes, then print each 32-bit word little-endian (x86)
  const [head, tail] = a.host.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const words = [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t].map((w) => parseInt(w, 16));
  if (words.length !== 8 || words.some((w) => !(w >= 0 && w <= 0xffff))) return undefined;
  let out = '';
  for (let i = 0; i < 8; i += 2) {
    const bytes = [words[i]! >> 8, words[i]! & 0xff, words[i + 1]! >> 8, words[i + 1]! & 0xff];
    out += [bytes[3], bytes[2], bytes[1], bytes[0]].map((x) => x!.toString(16).toUpperCase().padStart(2, '0')).join('');
  }
  return `${out}:${port}`;
}

/**
 * Datagrams the kernel dropped on the UDP sockets bound to `addresses` (its receive buffer was
 * full, or a checksum failed): the `drops` column of /proc/net/udp and /proc/net/udp6, summed.
 * Read only when asked (a scrape), never per datagram. 0 where /proc is absent.
 */
export function kernelUdpDrops(addresses: readonly Address[]): number {
  if (addresses.length === 0) return 0;
  const want = new Set<string>();
  for (const a of addresses) {
    const k = procAddress(a);
    if (k) want.add(k);
  }
  let drops = 0;
  for (const file of ['/proc/net/udp', '/proc/net/udp6']) {
    let text: string;
    try {
      text = readFileSync(file, 'latin1');
    } catch {
      continue;
    }
    const lines = text.split('\n');
    for (let i = 1; i < lines.length; i++) {
      const f = lines[i]!.trim().split(/\s+/);
      if (f.length < 13 || !want.has(f[1]!)) continue;
      drops += Number(f[f.length - 1]) || 0;
    }
  }
  return drops;
}

export interface UdpSink {
  datagram(ev: DatagramEvent): void;
  error(ev: ErrorEvent): void;
  /** whether anyone listens for 'datagram' (no event object is built otherwise) */
  wantsDatagrams(): boolean;
}

/**
 * One datagram arrived on listener `l`: decoded, counted, reported. A decode error drops it.
 * `v6`: the socket is udp6 (its addresses may need normalizing; a udp4 socket's are dotted quads).
 * `now`: the engine's clock read for this datagram.
 */
export function receiveDatagram(spec: ProtocolSpec, stats: ProtoStats, l: ListenerInfo, msg: Buffer, host: string, port: number, sink: UdpSink, v6: boolean, now: number): void {
  stats.rcvBytes.inc(msg.length);
  const remote = { host: v6 ? normalizeHost(host) : host, port };
  let message: unknown;
  try {
    message = spec.decodeDatagram!(msg, remote, l);
  } catch (err) {
    stats.protoErrors.inc();
    sink.error({ listener: l, error: err instanceof Error ? err : new Error(String(err)) });
    return;
  }
  stats.rcvMsgs.inc();
  const tapped = spec.tap !== false && tap.messageIn.hasSubscribers;
  const wanted = sink.wantsDatagrams();
  if (!tapped && !wanted) return;
  if (tapped) tap.messageIn.publish(new MessageEvent(spec.name, spec.transport, undefined, l, l.address, remote, msg, message, undefined, undefined, undefined, now));
  if (wanted) sink.datagram({ proto: spec.name, listener: l, remote, message, receivedAt: now });
}

/**
 * Sends one datagram from `udp`; `done` (optional) is called once the kernel took it (no
 * argument, counted in snd_msgs / snd_bytes) or refused it (a ConnectionError ERR_CONN_SOCKET),
 * never synchronously. No promise, no closure beyond node:dgram's own callback.
 */
export function sendDatagramCb(spec: ProtocolSpec, l: ListenerInfo, udp: UdpSocket, stats: ProtoStats, dest: Address, data: Buffer, done: DatagramSent | undefined): void {
  if (spec.tap !== false && tap.messageOut.hasSubscribers) {
    tap.messageOut.publish(new MessageEvent(spec.name, spec.transport, undefined, l, l.address, dest, data, undefined, 'message', undefined, undefined, Date.now()));
  }
  try {
    udp.send(data, dest.port, dest.host, (err) => {
      if (err) {
        done?.(sendFailed(dest, err));
        return;
      }
      stats.sndMsgs.inc();
      stats.sndBytes.inc(data.length);
      done?.();
    });
  } catch (err) {
    // node:dgram throws for a bad port or a closed socket
    if (done) process.nextTick(done, sendFailed(dest, err as Error));
  }
}

function sendFailed(dest: Address, err: Error): ConnectionError {
  return new ConnectionError(ErrorCodes.SOCKET, `udp send to ${formatAddress(dest)} failed: ${err.message}`, { cause: err });
}

/** Sends one datagram from `udp`; resolves once the kernel took it. */
export function sendDatagram(spec: ProtocolSpec, l: ListenerInfo, udp: UdpSocket, stats: ProtoStats, dest: Address, data: Buffer): Promise<undefined> {
  return new Promise((resolve, reject) => {
    sendDatagramCb(spec, l, udp, stats, dest, data, (err) => (err ? reject(err) : resolve(undefined)));
  });
}
