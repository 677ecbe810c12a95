import { tap, type Framer, type StreamingSink } from '@x/core-conn';
import { encode, encodeHeadText } from '../codec/encode.js';
import { MsrpParser, type MsrpParserSink } from '../codec/parser.js';
import type { MsrpMessage } from '../codec/types.js';

export interface MsrpFramerOptions {
  /** start line + headers bound (default 65535) */
  maxHeadBytes?: number;
  /** bodies up to this come whole; larger ones stream (default 65535) */
  maxBodyBytes?: number;
}

/** A message's wire bytes (`head`: start line and headers only); undefined if it cannot be rebuilt. */
function wireOf(msg: MsrpMessage, head: boolean): Buffer | undefined {
  try {
    return head ? Buffer.from(`${encodeHeadText(msg)}\r\n`, 'latin1') : encode(msg);
  } catch {
    return undefined;
  }
}

/**
 * The msrp / msrps stream framer: MsrpParser behind core-conn's streaming framer contract.
 * A message whose body is at most `maxBodyBytes` is reported whole (`sink.message`); a larger
 * one streams: `sink.head(msg)` (the message without its body), `sink.part(piece)` for each
 * piece of the body as it is read (views of the reads, never held), `sink.end()` at its
 * end-line, when `msg.continuation` (the same object as the head's) is set. The framer
 * buffers at most a head, a whole body and a few bytes of a possible delimiter, so
 * `maxMsgBytes` bounds only that, never a streamed body. Any framing error throws an
 * MsrpError (a ProtocolError): core-conn closes the connection.
 */
export class MsrpFramer implements Framer<MsrpMessage> {
  private readonly parser: MsrpParser;
  private sink: StreamingSink<MsrpMessage> | null = null;
  private readonly psink: MsrpParserSink = {
    // the observation tap gets the message's bytes (a tracer sends them): rebuilt from the parsed
    // message, which keeps every header verbatim, and only while someone subscribes
    message: (msg) => this.sink!.message(msg, tap.messageIn.hasSubscribers ? wireOf(msg, false) : undefined),
    head: (msg) => this.sink!.head(msg, tap.messageIn.hasSubscribers ? wireOf(msg, true) : undefined),
    body: (piece) => this.sink!.part(piece),
    end: () => this.sink!.end(),
  };

  constructor(opts: MsrpFramerOptions = {}) {
    this.parser = new MsrpParser({ maxHeadBytes: opts.maxHeadBytes ?? 65535, maxBodyBytes: opts.maxBodyBytes ?? 65535, stream: true });
  }

  /** bytes held of an unfinished message: a head, a whole body not yet ended, a possible delimiter's start */
  get pendingBytes(): number {
    return this.parser.pendingBytes;
  }

  push(chunk: Buffer, sink: StreamingSink<MsrpMessage>): void {
    this.sink = sink;
    this.parser.push(chunk, this.psink);
  }
}
