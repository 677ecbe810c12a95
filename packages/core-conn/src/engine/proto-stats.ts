import type { Stat, StatsRegistry } from '../services.js';

/** The per-protocol counters, resolved once so the hot path is a field access. */
export interface ProtoStats {
  accepted: Stat;
  connected: Stat;
  closed: Stat;
  rejected: Stat;
  rejectedPerIp: Stat;
  rcvMsgs: Stat;
  sndMsgs: Stat;
  rcvBytes: Stat;
  sndBytes: Stat;
  protoErrors: Stat;
  limitCloses: Stat;
  slowSends: Stat;
  postponedWrites: Stat;
  connections: Stat;
  /** udp protocols: datagrams the kernel dropped on the protocol's sockets (full receive buffer) */
  kernelDrops?: Stat;
}

export function protoStats(reg: StatsRegistry, proto: string, liveCount: () => number): ProtoStats {
  return {
    accepted: reg.counter(proto, 'accepted', `${proto} connections accepted`),
    connected: reg.counter(proto, 'connected', `${proto} outbound connections established`),
    closed: reg.counter(proto, 'closed', `${proto} connections closed`),
    rejected: reg.counter(proto, 'rejected', `${proto} connections refused (tcp_max_connections, tcp_max_connections_per_ip, shutting down)`),
    rejectedPerIp: reg.counter(proto, 'rejected_per_ip', `${proto} connections refused because their source address had tcp_max_connections_per_ip connections already`),
    rcvMsgs: reg.counter(proto, 'rcv_msgs', `${proto} messages received`),
    sndMsgs: reg.counter(proto, 'snd_msgs', `${proto} messages sent`),
    rcvBytes: reg.counter(proto, 'rcv_bytes', `${proto} bytes received`),
    sndBytes: reg.counter(proto, 'snd_bytes', `${proto} bytes sent`),
    protoErrors: reg.counter(proto, 'proto_errors', `${proto} framing / decoding errors`),
    limitCloses: reg.counter(proto, 'limit_closes', `${proto} connections closed by a limit (chunks, size, timeouts, queue)`),
    slowSends: reg.counter(proto, 'slow_sends', `${proto} sends slower than the profile send_threshold`),
    postponedWrites: reg.counter(proto, 'postponed_writes', `${proto} chunks postponed (async mode): queued without progress for local_write_timeout, the connection kept`),
    connections: reg.gauge(proto, 'connections', `${proto} open connections`, liveCount),
  };
}
