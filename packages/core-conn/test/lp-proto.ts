// A trivial length-prefixed protocol for core-conn's own tests: 4-byte big-endian length,
// then the payload. Length 0 is a ping (answered with a pong), 0x80000000 a pong; any other
// length with the top bit set is a protocol error.
import { ProtocolError } from '../src/errors.js';
import type { Framer, FramerSink, ProtocolSpec, WriteOptions } from '../src/types.js';

const PONG = 0x80000000;
export const PONG_FRAME = Buffer.from([0x80, 0, 0, 0]);
export const PING_FRAME = Buffer.alloc(4);

export function encode(payload: Buffer | string): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload) : payload;
  const out = Buffer.allocUnsafe(4 + body.length);
  out.writeUInt32BE(body.length, 0);
  body.copy(out, 4);
  return out;
}

export class LpFramer implements Framer<Buffer> {
  private buf: Buffer | null = null;
  pendingBytes = 0;

  push(chunk: Buffer, sink: FramerSink<Buffer>): void {
    const data = this.buf ? Buffer.concat([this.buf, chunk]) : chunk;
    let off = 0;
    while (data.length - off >= 4) {
      const len = data.readUInt32BE(off);
      if (len === 0) {
        off += 4;
        sink.keepalive();
        sink.reply(PONG_FRAME);
        continue;
      }
      if (len === PONG) {
        off += 4;
        sink.keepalive();
        continue;
      }
      if (len > 0x7fffffff) {
        this.buf = null;
        this.pendingBytes = 0;
        throw new ProtocolError('ERR_LP_LENGTH', `bad length 0x${len.toString(16)}`);
      }
      if (data.length - off - 4 < len) break;
      sink.message(data.subarray(off + 4, off + 4 + len), data.subarray(off, off + 4 + len));
      off += 4 + len;
    }
    this.buf = off < data.length ? data.subarray(off) : null;
    this.pendingBytes = this.buf ? this.buf.length : 0;
  }
}

export const WRITE_DEFAULTS: WriteOptions = { async: true, sendTimeout: 100, maxPostponedChunks: 32, localConnectTimeout: 1000, localWriteTimeout: 10 };

export function lpSpec(over: Partial<ProtocolSpec<Buffer>> = {}, write: Partial<WriteOptions> = {}): ProtocolSpec<Buffer> {
  return {
    name: 'lp',
    transport: 'tcp',
    defaultPort: null,
    createFramer: () => new LpFramer(),
    maxMsgChunks: 4,
    maxMsgBytes: 65535,
    ...over,
    write: { ...WRITE_DEFAULTS, ...write, ...(over.write ?? {}) },
  };
}
