import type { Framer, FramerSink } from '@x/core-conn';
import { decode } from '../codec/decode.js';
import { HepError, HepErrorCodes } from '../codec/errors.js';
import type { HepPacket } from '../codec/types.js';

const MAGIC = [0x48, 0x45, 0x50, 0x33];
const V3 = [3] as const;

function checkMagic(b: Buffer, off: number, n: number): void {
  for (let k = 0; k < n && k < 4; k++) {
    if (b[off + k] !== MAGIC[k]) {
      const hep = k === 3;
      throw new HepError(
        hep ? HepErrorCodes.VERSION : HepErrorCodes.MAGIC,
        hep ? 'only HEPv3 can be framed on a stream' : 'stream does not start with "HEP3" (HEPv1/v2 cannot be framed on TCP)',
      );
    }
  }
}

function checkTotal(total: number): void {
  if (total < 6) throw new HepError(HepErrorCodes.LENGTH, `HEPv3 total length ${total} < 6`);
}

/**
 * HEPv3 stream framer: back-to-back packets, each announcing its total length (u16 BE at
 * offset 4, max 65535). Anything not starting with "HEP3" throws a ProtocolError
 * (ERR_HEP_MAGIC / ERR_HEP_VERSION) so core-conn closes the connection at once; OpenSIPS only
 * logs and waits for a timeout, which lets a v1/v2 sender hold a connection for nothing.
 * A partial packet is copied once into a buffer of its announced size (no re-concatenation,
 * so a byte-at-a-time peer costs O(n)).
 */
export class HepFramer implements Framer<HepPacket> {
  private acc: Buffer | null = null;
  private have = 0;

  get pendingBytes(): number {
    return this.have;
  }

  push(chunk: Buffer, sink: FramerSink<HepPacket>): void {
    let i = 0;
    while (i < chunk.length) {
      if (this.acc === null) {
        const avail = chunk.length - i;
        checkMagic(chunk, i, avail);
        if (avail >= 6) {
          const total = chunk.readUInt16BE(i + 4);
          checkTotal(total);
          if (avail >= total) {
            // views into the socket's buffer: Node never reuses a read buffer
            const wire = chunk.subarray(i, i + total);
            sink.message(decode(wire, { versions: V3 }), wire);
            i += total;
            continue;
          }
          this.acc = Buffer.allocUnsafe(total);
        } else this.acc = Buffer.allocUnsafe(6);
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
      if (before < 4) checkMagic(acc, 0, this.have);
      if (this.have < acc.length) return;
      if (acc.length === 6 && before < 6) {
        // the header just completed: now the real size is known
        const total = acc.readUInt16BE(4);
        checkTotal(total);
        if (total > 6) {
          const full = Buffer.allocUnsafe(total);
          acc.copy(full, 0, 0, 6);
          this.acc = full;
          continue;
        }
      }
      this.acc = null;
      this.have = 0;
      sink.message(decode(acc, { versions: V3 }), acc);
    }
  }
}
