import { MsrpError, MsrpErrorCodes } from './errors.js';
import { MsrpParser } from './parser.js';
import type { MsrpMessage } from './types.js';

export interface DecodeOptions {
  /** bound on the start line + headers (default 65535) */
  maxHeadBytes?: number;
  /** bound on the body (default: none) */
  maxBodyBytes?: number;
}

function collect(buf: Buffer, opts: DecodeOptions): { msgs: MsrpMessage[]; parser: MsrpParser } {
  const parser = new MsrpParser({ maxHeadBytes: opts.maxHeadBytes ?? 65535, maxBodyBytes: opts.maxBodyBytes ?? Number.MAX_SAFE_INTEGER, stream: false });
  const msgs: MsrpMessage[] = [];
  const never = (): never => {
    throw new Error('unreachable: a non-streaming parser streamed');
  };
  parser.push(buf, { message: (m) => msgs.push(m), head: never, body: never, end: never });
  return { msgs, parser };
}

/**
 * Decodes exactly one whole MSRP message (start line to end-line). Throws MsrpError:
 * ERR_MSRP_TRUNCATED when the bytes stop early, ERR_MSRP_TRAILING when bytes follow, or the
 * code of what is wrong. The body (if any) is a view of `buf`.
 */
export function decode(buf: Buffer, opts: DecodeOptions = {}): MsrpMessage {
  const { msgs, parser } = collect(buf, opts);
  if (msgs.length === 0 || parser.inMessage) {
    if (msgs.length === 0) throw new MsrpError(MsrpErrorCodes.TRUNCATED, 'the bytes end before the end-line of the message');
  }
  if (msgs.length > 1 || parser.inMessage) throw new MsrpError(MsrpErrorCodes.TRAILING, 'bytes after the end-line of the message');
  return msgs[0]!;
}

/** Decodes back-to-back whole messages (e.g. one direction of a TCP stream). */
export function decodeAll(buf: Buffer, opts: DecodeOptions = {}): MsrpMessage[] {
  const { msgs, parser } = collect(buf, opts);
  if (parser.inMessage) throw new MsrpError(MsrpErrorCodes.TRUNCATED, 'the bytes end inside a message');
  return msgs;
}
