import type { Framer, FramerSink } from '@x/core-conn';
import { MsrpParser, type MsrpParserSink } from '../codec/parser.js';
import type { MsrpMessage } from '../codec/types.js';

/**
 * What the MSRP framer hands to core-conn, one per completed item:
 * - `message`: a whole message (body, if any, at most the framer's body bound);
 * - `head`, `body`, `end`: a message whose body passed the bound, in pieces as they arrive.
 *   `msg` is the same object in all of them; `end` comes with `msg.continuation` set.
 */
export type MsrpFrame =
  | { type: 'message'; msg: MsrpMessage }
  | { type: 'head'; msg: MsrpMessage }
  | { type: 'body'; msg: MsrpMessage; piece: Buffer }
  | { type: 'end'; msg: MsrpMessage };

export interface MsrpFramerOptions {
  /** start line + headers bound (default 65535) */
  maxHeadBytes?: number;
  /** bodies up to this come whole; larger ones stream (default 65535) */
  maxBodyBytes?: number;
}

/**
 * The msrp / msrps stream framer: MsrpParser behind core-conn's Framer contract. Any framing
 * error throws an MsrpError (a ProtocolError), so core-conn closes the connection. A body
 * over the bound reaches the module as `head`, `body`... `end` frames: never held whole.
 * Each streamed piece counts as progress for core-conn's chunk limit and read timeout (until
 * core-conn's streaming contract, a streamed piece is delivered as a message).
 */
export class MsrpFramer implements Framer<MsrpFrame> {
  private readonly parser: MsrpParser;
  private sink: FramerSink<MsrpFrame> | null = null;
  private readonly psink: MsrpParserSink = {
    message: (msg) => this.sink!.message({ type: 'message', msg }),
    head: (msg) => this.sink!.message({ type: 'head', msg }),
    body: (piece, msg) => this.sink!.message({ type: 'body', msg, piece }),
    end: (msg) => this.sink!.message({ type: 'end', msg }),
  };

  constructor(opts: MsrpFramerOptions = {}) {
    this.parser = new MsrpParser({ maxHeadBytes: opts.maxHeadBytes ?? 65535, maxBodyBytes: opts.maxBodyBytes ?? 65535, stream: true });
  }

  get pendingBytes(): number {
    return this.parser.pendingBytes;
  }

  push(chunk: Buffer, sink: FramerSink<MsrpFrame>): void {
    this.sink = sink;
    this.parser.push(chunk, this.psink);
  }
}
