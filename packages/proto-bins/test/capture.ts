// The OpenSIPS 3.6.8 clusterer capture as test data: node 1 listens on bin:127.0.0.1:25561,
// node 2 on 25562; each node sends only on the connection it opened. Read with core-conn's
// shared pcap reader.
import { readPcap } from '@x/core-conn/testing';

export const CAPTURE = new URL('./fixtures/opensips-bin-clusterer.pcap', import.meta.url);
export const NODE1_PORT = 25561;
export const NODE2_PORT = 25562;

export interface CapturedPacket {
  frame: number;
  /** node id of the sender */
  from: 1 | 2;
  bytes: Buffer;
}

/** Every BIN segment of the capture (each segment holds exactly one packet), in capture order. */
export function capturedPackets(): CapturedPacket[] {
  return readPcap(CAPTURE)
    .filter((s) => s.proto === 'tcp' && s.data.length > 0)
    .map((s) => ({ frame: s.frame, from: s.dport === NODE2_PORT ? 1 : 2, bytes: s.data }));
}
