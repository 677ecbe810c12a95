// Datagram protocols: binding a listener, decoding what arrives, sending from a listener.
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { isIP } from 'node:net';
import { formatAddress, normalizeHost } from '../address.js';
import { ConnectionError, ErrorCodes } from '../errors.js';
import type { Address, DatagramEvent, ErrorEvent, ListenerInfo, ProtocolSpec } from '../types.js';
import type { ProtoStats } from './proto-stats.js';
import { MessageEvent, tap } from '../tap.js';

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
  const tapped = tap.messageIn.hasSubscribers;
  const wanted = sink.wantsDatagrams();
  if (!tapped && !wanted) return;
  if (tapped) tap.messageIn.publish(new MessageEvent(spec.name, spec.transport, undefined, l, l.address, remote, msg, message, undefined, undefined, undefined, now));
  if (wanted) sink.datagram({ proto: spec.name, listener: l, remote, message, receivedAt: now });
}

/** Sends one datagram from `udp`; resolves once the kernel took it. */
export function sendDatagram(spec: ProtocolSpec, l: ListenerInfo, udp: UdpSocket, stats: ProtoStats, dest: Address, data: Buffer): Promise<undefined> {
  if (tap.messageOut.hasSubscribers) {
    tap.messageOut.publish(new MessageEvent(spec.name, spec.transport, undefined, l, l.address, dest, data, undefined, 'message', undefined, undefined, Date.now()));
  }
  return new Promise((resolve, reject) => {
    udp.send(data, dest.port, dest.host, (err) => {
      if (err) reject(new ConnectionError(ErrorCodes.SOCKET, `udp send to ${formatAddress(dest)} failed: ${err.message}`, { cause: err }));
      else {
        stats.sndMsgs.inc();
        stats.sndBytes.inc(data.length);
        resolve(undefined);
      }
    });
  });
}
