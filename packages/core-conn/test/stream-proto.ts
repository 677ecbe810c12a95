// A streaming test protocol (not MSRP) for core-conn's own tests: `LEN <n>\r\n` then n body
// bytes. A message whose head and body sit in one read with a body of at most 64 bytes is
// reported whole; any other is streamed: head(), then the body in part() pieces as they
// arrive, then end(). The framer buffers only an incomplete head (at most 32 bytes).
import { ProtocolError } from '../src/errors.js';
import type { Framer, ProtocolSpec, StreamingSink, WriteOptions } from '../src/types.js';
import { WRITE_DEFAULTS } from './lp-proto.js';

export interface StMsg {
  body: Buffer;
}

const MAX_HEAD = 32;
const INLINE = 64;

export function stEncode(m: StMsg): Buffer {
  return Buffer.concat([Buffer.from(`LEN ${m.body.length}\r\n`, 'latin1'), m.body]);
}

export function stAssemble(head: StMsg, body: Buffer): StMsg {
  return { body: Buffer.concat([head.body, body]) };
}

export class StFramer implements Framer<StMsg> {
  private head: Buffer | null = null;
  /** body bytes still to come of the streamed message in progress, -1 at a boundary */
  private left = -1;

  get pendingBytes(): number {
    return this.head ? this.head.length : 0;
  }

  push(chunk: Buffer, sink: StreamingSink<StMsg>): void {
    let i = 0;
    while (i < chunk.length) {
      if (this.left >= 0) {
        const take = Math.min(this.left, chunk.length - i);
        if (take > 0) sink.part(chunk.subarray(i, i + take));
        i += take;
        this.left -= take;
        if (this.left === 0) {
          this.left = -1;
          sink.end();
        }
        continue;
      }
      const data = this.head ? Buffer.concat([this.head, chunk.subarray(i)]) : chunk.subarray(i);
      const had = this.head ? this.head.length : 0;
      const nl = data.indexOf('\r\n', 0, 'latin1');
      if (nl < 0) {
        if (data.length > MAX_HEAD) throw new ProtocolError('ERR_ST_HEAD', `no head within ${MAX_HEAD} bytes`);
        if (data.length > 0 && !'LEN '.startsWith(data.subarray(0, 4).toString('latin1'))) throw new ProtocolError('ERR_ST_HEAD', 'a message starts with "LEN "');
        this.head = Buffer.from(data);
        return;
      }
      const line = data.subarray(0, nl).toString('latin1');
      const m = /^LEN (\d{1,9})$/.exec(line);
      if (!m) throw new ProtocolError('ERR_ST_HEAD', `bad head ${JSON.stringify(line.slice(0, 40))}`);
      const n = Number(m[1]);
      this.head = null;
      const bodyAt = nl + 2;
      const wireHead = data.subarray(0, bodyAt);
      i += bodyAt - had;
      if (n <= INLINE && data.length - bodyAt >= n) {
        sink.message({ body: data.subarray(bodyAt, bodyAt + n) }, data.subarray(0, bodyAt + n));
        i += n;
        continue;
      }
      sink.head({ body: Buffer.alloc(0) }, wireHead);
      if (n === 0) {
        sink.end();
        continue;
      }
      this.left = n;
    }
  }
}

export function stSpec(over: Partial<ProtocolSpec<StMsg>> = {}, write: Partial<WriteOptions> = {}): ProtocolSpec<StMsg> {
  return {
    name: 'st',
    transport: 'tcp',
    defaultPort: null,
    createFramer: () => new StFramer(),
    maxMsgChunks: 0,
    maxMsgBytes: 1024,
    ...over,
    write: { ...WRITE_DEFAULTS, maxPostponedChunks: 0, ...write, ...(over.write ?? {}) },
  };
}
