import type { Framer, FramerSink } from '@x/core-conn';
import { BinError, BinErrorCodes } from '../codec/errors.js';
import { checkTotalLength, decodeFramed, markerPrefixOk, type BinPacket } from '../codec/packet.js';

/** marker + length: what is needed to know a packet's size */
const SIZE_AT = 8;

function checkMarker(b: Buffer, off: number, n: number): void {
  if (!markerPrefixOk(b, off, Math.min(4, n))) {
    throw new BinError(BinErrorCodes.MARKER, 'stream does not start with the BIN marker "P4CK"');
  }
}

export interface BinFramerOptions {
  /**
   * Called for a whole packet whose capability length does not fit it: OpenSIPS drops such a
   * packet and keeps the connection (it is reported to the sink as a keepalive, not delivered).
   */
  onDrop?(err: BinError): void;
}

/**
 * BIN stream framer: back-to-back packets, each announcing its total length (uint32 LE at
 * offset 4). A wrong marker byte throws ERR_BIN_MARKER as soon as it arrives and a length
 * outside [17, 65515] throws ERR_BIN_LENGTH as soon as its 4 bytes are in, so core-conn closes
 * the connection. A partial packet is copied once into a buffer of its announced size (a
 * byte-at-a-time peer costs O(n)); whole packets in one read are decoded in place.
 */
export class BinFramer implements Framer<BinPacket> {
  private acc: Buffer | null = null;
  private have = 0;

  constructor(private readonly opts: BinFramerOptions = {}) {}

  get pendingBytes(): number {
    return this.have;
  }

  private deliver(b: Buffer, total: number, sink: FramerSink<BinPacket>): void {
    let p: BinPacket;
    try {
      p = decodeFramed(b, total);
    } catch (err) {
      if (err instanceof BinError && err.code === BinErrorCodes.CAPABILITY) {
        this.opts.onDrop?.(err);
        sink.keepalive();
        return;
      }
      throw err;
    }
    sink.message(p);
  }

  push(chunk: Buffer, sink: FramerSink<BinPacket>): void {
    let i = 0;
    while (i < chunk.length) {
      if (this.acc === null) {
        const avail = chunk.length - i;
        checkMarker(chunk, i, avail);
        if (avail >= SIZE_AT) {
          const total = chunk.readUInt32LE(i + 4);
          checkTotalLength(total);
          if (avail >= total) {
            // a view into the socket's buffer: Node never reuses a read buffer
            this.deliver(chunk.subarray(i, i + total), total, sink);
            i += total;
            continue;
          }
          this.acc = Buffer.allocUnsafe(total);
        } else this.acc = Buffer.allocUnsafe(SIZE_AT);
        chunk.copy(this.acc, 0, i);
        this.have = avail;
        return;
      }
      const acc: Buffer = this.acc;
      const take = Math.min(acc.length - this.have, chunk.length - i);
      chunk.copy(acc, this.have, i, i + take);
      const before = this.have;
      this.have += take;
      i += take;
      if (before < 4) checkMarker(acc, 0, this.have);
      if (this.have < acc.length) return;
      if (acc.length === SIZE_AT && before < SIZE_AT) {
        // marker and length just completed: now the real size is known
        const total = acc.readUInt32LE(4);
        checkTotalLength(total);
        const full = Buffer.allocUnsafe(total);
        acc.copy(full, 0, 0, SIZE_AT);
        this.acc = full;
        continue;
      }
      this.acc = null;
      this.have = 0;
      this.deliver(acc, acc.length, sink);
    }
  }
}
