// The OpenSIPS 3.6.8 clusterer capture as test data: node 1 listens on bin:127.0.0.1:25561,
// node 2 on 25562; each node sends only on the connection it opened.
import { readPcap, type Segment } from './pcap.js';

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
    .filter((s: Segment) => s.proto === 'tcp' && s.payload.length > 0)
    .map((s) => ({ frame: s.frame, from: s.dstPort === NODE2_PORT ? 1 : 2, bytes: Buffer.from(s.payload) }) as CapturedPacket);
}
