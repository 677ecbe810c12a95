import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { brandError, ConfigError, ErrorCodes, NOOP_LOGGER, XError, type Address, type ConnectionInfo, type Engine, type Logger, type SendOptions } from '@x/core-conn';
import { encodeHeadText, endLine, headerLine } from './codec/encode.js';
import { MsrpError, MsrpErrorCodes } from './codec/errors.js';
import { methodId } from './codec/head.js';
import { getHeader } from './codec/message.js';
import { buildTid, coreHash, TID_HASH_SIZE } from './codec/tid.js';
import type { ContinuationFlag, MsrpHeader, MsrpMessage, MsrpRequest, MsrpResponse, MsrpUrl } from './codec/types.js';
import { parsePath, topUrl } from './codec/url.js';
import { globToRegExp } from './glob.js';
import { TransactionTable, type Transaction } from './transactions.js';

/** Stable codes of the MSRP API (sending side). */
export const MsrpApiErrorCodes = {
  /** no reply within the transaction timeout (~30 s) */
  TIMEOUT: 'ERR_MSRP_TIMEOUT',
  /** a request that cannot be sent or forwarded: no second To-Path URL, a REPORT reply... (OpenSIPS -1) */
  BAD_REQUEST: 'ERR_MSRP_BAD_REQUEST',
  /** the destination does not resolve, has no port, or no socket of the needed protocol exists (OpenSIPS -2) */
  NO_DESTINATION: 'ERR_MSRP_NO_DESTINATION',
  /** the bytes could not be sent (OpenSIPS -3) */
  SEND_FAILED: 'ERR_MSRP_SEND_FAILED',
  /** the API was closed with the transaction pending */
  CLOSED: 'ERR_MSRP_CLOSED',
} as const;

export class MsrpApiError extends XError {
  constructor(code: (typeof MsrpApiErrorCodes)[keyof typeof MsrpApiErrorCodes], message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
brandError(MsrpApiError, '@x/proto-msrp:MsrpApiError');

/** Receives the body of a streamed message. Set `onPiece` / `onEnd` in the request handler. */
export interface MsrpBodyStream {
  onPiece?: (piece: Buffer) => void;
  onEnd?: (flag: ContinuationFlag) => void;
}

/** A received request or reply, with where it came from. */
export interface MsrpReceived<M extends MsrpMessage = MsrpMessage> {
  msg: M;
  conn: ConnectionInfo;
  proto: 'msrp' | 'msrps';
  receivedAt: number;
  /** the parsed To-Path (the top URL decided the handler) */
  toPath: MsrpUrl[];
  /** set when the body streams: it comes through this, not `msg.body` */
  stream?: MsrpBodyStream;
}

export type MsrpRequestHandler = (req: MsrpReceived<MsrpRequest>, api: MsrpApi) => void;
/** A reply to a request the handler forwarded or sent; `null` = the transaction timed out. */
export type MsrpReplyHandler = (rpl: MsrpReceived<MsrpResponse> | null, t: Transaction<TransData>, api: MsrpApi) => void;

export interface MsrpHandlerFilter {
  /** shell glob on the top To-Path URL's host, case-insensitive ('*' = any) */
  host: string;
  /** 0 = any port */
  port: number;
  /** the URL's scheme must be msrps (true) or msrp (false) */
  secured: boolean;
}

export interface MsrpHandle {
  readonly id: number;
  readonly filter: MsrpHandlerFilter;
  unregister(): void;
}

/** What a transaction carries for its owner. */
export interface TransData {
  handle?: MsrpHandle;
  /** the inbound connection of a forwarded request (replies go back on it) */
  inConn?: number;
  inProto?: 'msrp' | 'msrps';
  /** a promise's callbacks (sendRequest) */
  resolve?: (r: MsrpReceived<MsrpResponse>) => void;
  reject?: (e: Error) => void;
  /** the owner's own value */
  param?: unknown;
}

export interface SendRequestOptions {
  method: 'SEND' | 'REPORT' | 'AUTH';
  /** To-Path URLs, first = next hop */
  to: (string | MsrpUrl)[];
  /** From-Path, as written */
  from: string;
  /** extra headers, written after From-Path (the first one is also an MD5 source of the id, as OpenSIPS) */
  headers?: MsrpHeader[];
  /**
   * The body: whole, or streamed from an (async) iterable of byte pieces (a Readable, a
   * generator): the head goes at once, each piece as it comes (waiting for the connection to
   * drain past the flow-control mark), the end-line after the last. A streamed body that turns
   * out to hold CRLF + "-------" is cut there: the message ends with '#' (aborted) and the send
   * rejects with ERR_MSRP_INVALID.
   */
  body?: Buffer | string | AsyncIterable<Uint8Array> | Iterable<Uint8Array>;
  contentType?: string;
  continuation?: ContinuationFlag;
  /** send here instead of resolving the top To-Path URL */
  dest?: Address;
  /** send on this connection */
  connectionId?: number;
  listenerId?: number;
}

export interface ForwardOptions {
  /** extra headers appended after the last header */
  headers?: MsrpHeader[];
  dest?: Address;
  listenerId?: number;
  /** owner data for the reply / timeout callbacks */
  param?: unknown;
  /** top To-Path URLs moved to From-Path (default 1); a relay collapsing hops that name itself asks for more */
  rotate?: number;
}

export interface MsrpApi {
  registerHandler(filter: MsrpHandlerFilter, onRequest: MsrpRequestHandler, onReply?: MsrpReplyHandler): MsrpHandle;
  /** Opens (or reuses) a connection without sending an MSRP message: a client learns its local port for its From-Path URL. */
  connect(proto: 'msrp' | 'msrps', dest: Address, opts?: SendOptions): Promise<ConnectionInfo>;
  /** Sends a request; resolves with its reply (REPORT: with undefined once sent), rejects with ERR_MSRP_TIMEOUT. */
  sendRequest(opts: SendRequestOptions): Promise<MsrpReceived<MsrpResponse> | undefined>;
  /** A local reply to a received request (not for REPORT), on its connection. */
  sendReply(req: MsrpReceived<MsrpRequest>, code: number, reason?: string, headers?: MsrpHeader[]): void;
  /** A reply built from a transaction (timeouts), sent back on its inbound connection. */
  sendReplyOnTransaction(t: Transaction<TransData>, code: number, reason?: string, headers?: MsrpHeader[]): void;
  /** A REPORT with `status` (e.g. "000 481") for a received request or a transaction, toward where it came from. */
  sendReport(status: string, from: MsrpReceived<MsrpRequest> | Transaction<TransData>): void;
  /** Relays a request to its next To-Path hop with the path rotated; resolves with its transaction (REPORT: undefined). */
  forwardRequest(req: MsrpReceived<MsrpRequest>, handle: MsrpHandle | undefined, opts?: ForwardOptions): Promise<Transaction<TransData> | undefined>;
  /** Relays a reply back on the request's inbound connection, path rotated, id restored. */
  forwardReply(rpl: MsrpReceived<MsrpResponse>, t: Transaction<TransData>): void;
  readonly transactions: TransactionTable<TransData>;
  /** `pauses`: times an inbound connection was paused by flow control */
  readonly stats: { requestsIn: number; repliesIn: number; dropped: number; timeouts: number; pauses: number };
  close(): void;
}

export interface AttachMsrpOptions {
  logger?: Logger;
  /**
   * Flow control of what this layer relays (forwarded requests and their streamed bodies,
   * replies, REPORTs): once a connection written on behalf of another holds more than
   * `highWater` bytes unsent, the connection whose message caused it stops being read until
   * the queue is down to `lowWater` (default 1 MiB / 256 KiB). A fast sender relayed into a
   * slow reader is thus slowed by TCP itself, with the relay's memory flat.
   */
  flowControl?: { highWater?: number; lowWater?: number };
  /** transaction slots of one second (default 30) and tick period (default 1000 ms): tests shorten them */
  transactionSlots?: number;
  tickMs?: number;
  /**
   * cert_check_on_conn_reusage: an msrps connection this side opened is reused only when its
   * peer certificate names the destination (IP SAN, DNS SAN or CN); else a new one is made.
   * Connections the peer opened are always used.
   */
  certCheckOnReuse?: boolean;
}

interface Registered extends MsrpHandle {
  re: RegExp;
  onRequest: MsrpRequestHandler;
  onReply?: MsrpReplyHandler;
  alive: boolean;
}

const noopLog: Logger = NOOP_LOGGER;
/** CRLF + seven dashes: a body holding it would end its message early */
const DELIM_TEXT = '\r\n-------';

/** Flow control defaults: an outbound queue past 1 MiB pauses the inbound connection until it is down to 256 KiB. */
export const MSRP_FLOW_HIGH = 1 << 20;
export const MSRP_FLOW_LOW = 256 << 10;

function latin1(s: string): Buffer {
  return Buffer.from(s, 'latin1');
}

/** Does a peer certificate name `host` (IP SAN, DNS SAN or CN)? */
export function certMatches(cert: unknown, host: string): boolean {
  if (!cert || typeof cert !== 'object') return false;
  const c = cert as { subjectaltname?: string; subject?: { CN?: string | string[] } };
  const names = (c.subjectaltname ?? '').split(',').map((s) => s.trim());
  const ip = isIP(host) !== 0;
  for (const n of names) {
    if (ip && n.startsWith('IP Address:') && n.slice(11).toLowerCase() === host.toLowerCase()) return true;
    if (!ip && n.startsWith('DNS:') && n.slice(4).toLowerCase() === host.toLowerCase()) return true;
  }
  const cn = c.subject?.CN;
  return (Array.isArray(cn) ? cn : cn !== undefined ? [cn] : []).some((x) => x.toLowerCase() === host.toLowerCase());
}

/**
 * The MSRP layer of proto_msrp on an engine with the msrp / msrps protocols registered:
 * dispatch of received requests to handlers (by the top To-Path URL), replies matched to
 * transactions by id, OpenSIPS's transaction ids and ~30 s timeouts, and the send / reply /
 * report / forward functions other modules (msrp_relay) and applications use.
 */
export function attachMsrp(engine: Engine, opts: AttachMsrpOptions = {}): MsrpApi {
  const log = opts.logger ?? noopLog;
  const handlers: Registered[] = [];
  let nextHandle = 1;
  const streams = new Map<number, MsrpReceived>();
  const stats = { requestsIn: 0, repliesIn: 0, dropped: 0, timeouts: 0, pauses: 0 };
  const high = opts.flowControl?.highWater ?? MSRP_FLOW_HIGH;
  const low = opts.flowControl?.lowWater ?? MSRP_FLOW_LOW;
  if (!(high >= 0) || !(low >= 0) || low > high) throw new ConfigError(ErrorCodes.INVALID_OPTION, `attachMsrp: flowControl needs 0 <= lowWater <= highWater, got ${low} / ${high}`);
  let closed = false;

  const table = new TransactionTable<TransData>({
    slots: opts.transactionSlots,
    tickMs: opts.tickMs,
    onTimeout: (t) => {
      stats.timeouts++;
      const d = t.data;
      if (d.reject) d.reject(new MsrpApiError(MsrpApiErrorCodes.TIMEOUT, `no reply to ${t.method} ${t.tid} within the transaction timeout`));
      else if (d.handle) {
        const h = d.handle as Registered;
        if (h.alive && h.onReply) h.onReply(null, t, api);
      }
    },
  });
  table.start();

  function protoOf(conn: ConnectionInfo): 'msrp' | 'msrps' {
    return conn.proto === 'msrps' ? 'msrps' : 'msrp';
  }

  function isMsrp(conn: ConnectionInfo): boolean {
    return conn.proto === 'msrp' || conn.proto === 'msrps';
  }

  function onMessage(ev: { conn: ConnectionInfo; message: unknown; receivedAt: number }): void {
    if (!closed && isMsrp(ev.conn)) dispatch(ev.conn, ev.message as MsrpMessage, ev.receivedAt, false);
  }
  /** a message whose body streams (core-conn's head): its pieces follow as messagePart, then messageEnd */
  function onMessageStart(ev: { conn: ConnectionInfo; message: unknown; receivedAt: number }): void {
    if (!closed && isMsrp(ev.conn)) dispatch(ev.conn, ev.message as MsrpMessage, ev.receivedAt, true);
  }
  function onMessagePart(ev: { conn: ConnectionInfo; data: Buffer }): void {
    if (closed) return;
    streams.get(ev.conn.id)?.stream?.onPiece?.(ev.data);
  }
  function onMessageEnd(ev: { conn: ConnectionInfo }): void {
    if (closed) return;
    const r = streams.get(ev.conn.id);
    if (!r) return;
    streams.delete(ev.conn.id);
    r.stream?.onEnd?.(r.msg.continuation);
  }

  function dispatch(conn: ConnectionInfo, msg: MsrpMessage, receivedAt: number, streamed: boolean): void {
    let toPath: MsrpUrl[];
    try {
      toPath = parsePath(getHeader(msg, 'To-Path') ?? '');
    } catch (err) {
      // OpenSIPS: a To-Path that does not parse drops the message (no reply); a streamed
      // body's pieces then find no stream and are dropped too
      stats.dropped++;
      log.warn({ conn: conn.id, err: (err as Error).message }, 'MSRP message with a bad To-Path dropped');
      return;
    }
    const rec: MsrpReceived = { msg, conn, proto: protoOf(conn), receivedAt, toPath };
    if (streamed) {
      rec.stream = {};
      streams.set(conn.id, rec);
    }
    if (msg.kind === 'response') {
      stats.repliesIn++;
      const t = table.take(msg.tid);
      if (!t) {
        stats.dropped++;
        log.debug({ tid: msg.tid }, 'MSRP reply matching no transaction dropped');
        return;
      }
      const d = t.data;
      if (d.resolve) d.resolve(rec as MsrpReceived<MsrpResponse>);
      else if (d.handle) {
        const h = d.handle as Registered;
        if (h.alive && h.onReply) h.onReply(rec as MsrpReceived<MsrpResponse>, t, api);
      }
      return;
    }
    stats.requestsIn++;
    const top = toPath[0]!;
    const h = handlers.find((x) => x.alive && x.filter.secured === top.secured && (x.filter.port === 0 || x.filter.port === top.port) && x.re.test(top.host));
    if (!h) {
      stats.dropped++;
      log.debug({ to: top.whole }, 'MSRP request matching no handler dropped');
      return;
    }
    try {
      h.onRequest(rec as MsrpReceived<MsrpRequest>, api);
    } catch (err) {
      log.error({ err: (err as Error).message }, 'MSRP request handler failed');
    }
  }
  function onClose(ev: { conn: ConnectionInfo }): void {
    streams.delete(ev.conn.id);
    holds.delete(ev.conn.id);
  }
  engine.on('message', onMessage);
  engine.on('messageStart', onMessageStart);
  engine.on('messagePart', onMessagePart);
  engine.on('messageEnd', onMessageEnd);
  engine.on('close', onClose);

  // ---- flow control (core-conn's pause / resume / drained) ----

  /** paused inbound connection id -> what it waits for (outbound connection ids, sends still connecting) */
  const holds = new Map<number, Set<unknown>>();

  /** Stops reading `inId` until `until` settles (and every other wait of it has). */
  function hold(inId: number, key: unknown, until: Promise<unknown>): void {
    let waits = holds.get(inId);
    if (waits?.has(key)) return;
    if (!waits) {
      if (!engine.pause(inId)) return;
      waits = new Set();
      holds.set(inId, waits);
      stats.pauses++;
    }
    waits.add(key);
    const w = waits;
    const release = (): void => {
      w.delete(key);
      if (w.size === 0 && holds.get(inId) === w) {
        holds.delete(inId);
        engine.resume(inId);
      }
    };
    until.then(release, release);
  }

  /** After a write on `outId` for what `inId` sent: past the high-water mark, `inId` is not read until `outId` drained to the low one. */
  function throttle(inId: number, outId: number): void {
    const out = engine.connection(outId);
    if (out === undefined || out.queuedBytes <= high || holds.get(inId)?.has(outId)) return;
    hold(inId, outId, engine.drained(outId, low));
  }

  /** A send relayed for `inId`: throttled on the connection it went to, or `inId` held while that connection is made. */
  function relayed(inId: number, sent: Sent): void {
    if (sent.conn) throttle(inId, sent.conn.id);
    else hold(inId, sent.done, sent.done);
  }

  async function resolveDest(url: MsrpUrl): Promise<Address> {
    if (url.port === 0) throw new MsrpApiError(MsrpApiErrorCodes.NO_DESTINATION, `URL ${url.whole} has no port`);
    if (isIP(url.host)) return { host: url.host, port: url.port };
    try {
      const r = await lookup(url.host, { family: 4 });
      return { host: r.address, port: url.port };
    } catch (err) {
      throw new MsrpApiError(MsrpApiErrorCodes.NO_DESTINATION, `cannot resolve ${url.host}`, { cause: err });
    }
  }

  function pickListener(proto: 'msrp' | 'msrps'): number {
    const l = engine.listeners(proto)[0];
    if (!l) throw new MsrpApiError(MsrpApiErrorCodes.NO_DESTINATION, `the URL requires ${proto.toUpperCase()}, but no such socket is defined`);
    return l.id;
  }

  function sendOpts(proto: 'msrp' | 'msrps', dest: Address, extra: SendOptions): SendOptions {
    const o: SendOptions & { reuse?: (c: ConnectionInfo) => boolean } = { ...extra };
    // cert_check_on_conn_reusage: a connection this side opened is reused only when the
    // certificate it was given names the destination. One the peer opened (a client reached
    // on its inbound connection, its URL naming an ephemeral port) carries no server
    // certificate of the peer's to check and is the only way to reach it: always used.
    if (proto === 'msrps' && opts.certCheckOnReuse) o.reuse = (c) => c.accepted || certMatches(c.tls?.peerCertificate, dest.host);
    return o;
  }

  interface Sent {
    /** the connection the bytes were queued on, when an existing one was reused (known at once) */
    conn: ConnectionInfo | undefined;
    /** settles once sent (sync mode: in the kernel) */
    done: Promise<ConnectionInfo>;
  }

  /**
   * engine.send, also telling at once which existing connection took the bytes (the one the
   * reuse predicate accepted: core-conn asks it synchronously and uses the first accepted),
   * so that flow control can watch that connection before the send settles.
   */
  function sendCapture(proto: 'msrp' | 'msrps', dest: Address, bytes: Buffer, so: SendOptions): Sent {
    const o = sendOpts(proto, dest, so);
    const check = o.reuse;
    let picked: ConnectionInfo | undefined;
    o.reuse = (c) => {
      if (check && !check(c)) return false;
      picked = c;
      return true;
    };
    const done = engine.send(proto, dest, bytes, o).then(
      (c) => c!,
      (err: unknown) => {
        throw new MsrpApiError(MsrpApiErrorCodes.SEND_FAILED, `failed to send MSRP to ${dest.host}:${dest.port}: ${(err as Error).message}`, { cause: err });
      },
    );
    return { conn: picked, done };
  }

  function send(proto: 'msrp' | 'msrps', dest: Address, bytes: Buffer, so: SendOptions): Promise<ConnectionInfo> {
    return sendCapture(proto, dest, bytes, so).done;
  }

  function write(connId: number, bytes: Buffer): void {
    try {
      engine.write(connId, bytes);
    } catch (err) {
      throw new MsrpApiError(MsrpApiErrorCodes.SEND_FAILED, `failed to write MSRP on connection ${connId}: ${(err as Error).message}`, { cause: err });
    }
  }

  /** A request whose body streams from `pieces`: head, pieces (flow-controlled), end-line. */
  async function streamOut(
    proto: 'msrp' | 'msrps',
    dest: Address | undefined,
    connectionId: number | undefined,
    so: SendOptions,
    head: Buffer,
    pieces: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
    tid: string,
    flag: ContinuationFlag,
  ): Promise<void> {
    let id: number;
    if (connectionId !== undefined) {
      write(connectionId, head);
      id = connectionId;
    } else {
      const sent = sendCapture(proto, dest!, head, so);
      id = (sent.conn ?? (await sent.done)).id;
    }
    // the last bytes written, to find a delimiter straddling two pieces
    let tail = Buffer.alloc(0);
    for await (const p of pieces) {
      const piece = Buffer.isBuffer(p) ? p : Buffer.from(p.buffer, p.byteOffset, p.byteLength);
      if (piece.length === 0) continue;
      const keep = DELIM_TEXT.length - 1;
      const joint = Buffer.concat([tail, piece.subarray(0, keep)]);
      if (joint.indexOf(DELIM_TEXT, 0, 'latin1') >= 0 || piece.indexOf(DELIM_TEXT, 0, 'latin1') >= 0) {
        write(id, latin1(`\r\n${endLine(tid, '#')}`));
        throw new MsrpError(MsrpErrorCodes.INVALID, 'the streamed body holds CRLF + "-------": the message was aborted (#)');
      }
      write(id, Buffer.from(piece));
      // the last `keep` bytes of everything so far (pieces may be shorter than that)
      const t2 = Buffer.concat([tail, piece.subarray(Math.max(0, piece.length - keep))]);
      tail = Buffer.from(t2.subarray(Math.max(0, t2.length - keep)));
      if ((engine.connection(id)?.queuedBytes ?? 0) > high) {
        try {
          await engine.drained(id, low);
        } catch (err) {
          throw new MsrpApiError(MsrpApiErrorCodes.SEND_FAILED, `connection ${id} closed while a body streamed: ${(err as Error).message}`, { cause: err });
        }
      }
    }
    write(id, latin1(`\r\n${endLine(tid, flag)}`));
  }

  function replyBytes(tid: string, code: number, reason: string | undefined, to: string, from: string, headers: MsrpHeader[]): Buffer {
    if (!Number.isInteger(code) || code < 100 || code > 999) throw new MsrpApiError(MsrpApiErrorCodes.BAD_REQUEST, `invalid status reply ${code}, must be [100..999]`);
    let s = `MSRP ${tid} ${code}${reason !== undefined ? ` ${reason}` : ''}\r\nTo-Path: ${to}\r\nFrom-Path: ${from}\r\n`;
    for (const h of headers) s += headerLine(h);
    return latin1(s + endLine(tid, '$'));
  }

  /** Forwarded bytes of a request: the path rotated, extra headers after the last, a new id. */
  function rotated(msg: MsrpMessage, tid: string, extra: MsrpHeader[], n = 1): string {
    const headers = msg.headers.map((h) => ({ ...h }));
    const ti = headers.findIndex((h) => h.name.toLowerCase() === 'to-path');
    const fi = headers.findIndex((h) => h.name.toLowerCase() === 'from-path');
    for (let k = 0; k < n; k++) {
      const to = headers[ti]!.value;
      const top = topUrl(to);
      let rest = to.indexOf(top) + top.length;
      while (to[rest] === ' ') rest++;
      headers[ti]!.value = to.slice(rest);
      let from = headers[fi]!.value;
      let fs = 0;
      while (from[fs] === ' ') fs++;
      from = from.slice(fs);
      headers[fi]!.value = `${top} ${from}`;
    }
    headers.push(...extra);
    return encodeHeadText({ ...msg, tid, headers, body: undefined } as MsrpMessage);
  }

  const api: MsrpApi = {
    transactions: table,
    stats,

    registerHandler(filter, onRequest, onReply) {
      if (typeof filter.host !== 'string' || filter.host === '') throw new ConfigError(ErrorCodes.INVALID_OPTION, 'registerHandler: host filter must be a non-empty glob');
      if (!Number.isInteger(filter.port) || filter.port < 0 || filter.port > 65535) throw new ConfigError(ErrorCodes.INVALID_OPTION, 'registerHandler: port must be 0..65535');
      const h: Registered = {
        id: nextHandle++,
        filter: { ...filter },
        re: globToRegExp(filter.host),
        onRequest,
        ...(onReply ? { onReply } : {}),
        alive: true,
        unregister() {
          h.alive = false;
          const i = handlers.indexOf(h);
          if (i >= 0) handlers.splice(i, 1);
        },
      };
      handlers.push(h);
      return h;
    },

    async connect(proto, dest, so = {}) {
      return send(proto, dest, Buffer.alloc(0), so);
    },

    async sendRequest(o) {
      if (!['SEND', 'REPORT', 'AUTH'].includes(o.method)) throw new MsrpApiError(MsrpApiErrorCodes.BAD_REQUEST, `unsupported method ${o.method}`);
      if (o.to.length === 0) throw new MsrpApiError(MsrpApiErrorCodes.BAD_REQUEST, 'an empty To-Path');
      const urls = o.to.map((u) => (typeof u === 'string' ? parsePath(u)[0]! : u));
      const ob = o.body;
      const pieces = ob !== undefined && typeof ob !== 'string' && !Buffer.isBuffer(ob) ? (ob as AsyncIterable<Uint8Array> | Iterable<Uint8Array>) : undefined;
      const body = ob === undefined || pieces ? undefined : typeof ob === 'string' ? Buffer.from(ob) : (ob as Buffer);
      if ((body || pieces) && o.contentType === undefined) throw new MsrpApiError(MsrpApiErrorCodes.BAD_REQUEST, 'a body needs a content type');
      const top = urls[0]!;
      const proto = top.secured ? 'msrps' : 'msrp';
      const dest = o.dest ?? (o.connectionId === undefined ? await resolveDest(top) : undefined);
      const listenerId = o.listenerId ?? (o.connectionId === undefined && engine.listeners(proto).length ? pickListener(proto) : undefined);
      const extra = o.headers ?? [];
      const md5 = [top.whole, o.from];
      if (extra[0]) md5.push(headerLine(extra[0]).slice(0, -2));
      let t: Transaction<TransData> | undefined;
      let tid: string;
      let result: Promise<MsrpReceived<MsrpResponse> | undefined>;
      if (o.method === 'REPORT') {
        tid = buildTid(Math.floor(Math.random() * TID_HASH_SIZE), table.currentSlot, md5);
        result = Promise.resolve(undefined);
      } else {
        let resolve!: (r: MsrpReceived<MsrpResponse>) => void;
        let reject!: (e: Error) => void;
        result = new Promise((res, rej) => {
          resolve = res;
          reject = rej;
        });
        t = table.create({ method: o.method, fromPath: o.from, toTop: top.whole, md5Extra: md5[2], data: { resolve, reject } });
        tid = t.tid;
      }
      let s = `MSRP ${tid} ${o.method}\r\nTo-Path: ${urls.map((u) => u.whole).join(' ')}\r\nFrom-Path: ${o.from}\r\n`;
      for (const h of extra) s += headerLine(h);
      if (pieces) {
        // the reply (a relay answers at the head) or the timeout may come while the body streams
        result.catch(() => {});
        try {
          await streamOut(proto, dest, o.connectionId, listenerId !== undefined ? { listenerId } : {}, latin1(`${s}Content-Type: ${o.contentType}\r\n\r\n`), pieces, tid, o.continuation ?? '$');
        } catch (err) {
          if (t) table.drop(t);
          throw err;
        }
        return result;
      }
      let bytes: Buffer;
      if (body) {
        if (body.indexOf('\r\n-------', 0, 'latin1') >= 0) {
          if (t) table.drop(t);
          throw new MsrpError(MsrpErrorCodes.INVALID, 'the body holds CRLF + "-------"');
        }
        s += `Content-Type: ${o.contentType}\r\n\r\n`;
        bytes = Buffer.concat([latin1(s), body, latin1(`\r\n${endLine(tid, o.continuation ?? '$')}`)]);
      } else bytes = latin1(s + endLine(tid, o.continuation ?? '$'));
      try {
        if (o.connectionId !== undefined) write(o.connectionId, bytes);
        else await send(proto, dest!, bytes, listenerId !== undefined ? { listenerId } : {});
      } catch (err) {
        if (t) table.drop(t);
        throw err;
      }
      return result;
    },

    sendReply(req, code, reason, headers = []) {
      const m = req.msg;
      if (methodId(m.method) === 'REPORT') throw new MsrpApiError(MsrpApiErrorCodes.BAD_REQUEST, 'cannot send a reply to a REPORT request');
      const fromValue = getHeader(m, 'From-Path')!;
      const to = methodId(m.method) === 'SEND' ? parsePath(fromValue)[0]!.whole : fromValue;
      write(req.conn.id, replyBytes(m.tid, code, reason, to, req.toPath[0]!.whole, headers));
      throttle(req.conn.id, req.conn.id);
    },

    sendReplyOnTransaction(t, code, reason, headers = []) {
      if (t.data.inConn === undefined || t.recvTid === undefined) throw new MsrpApiError(MsrpApiErrorCodes.BAD_REQUEST, 'the transaction has no inbound request');
      write(t.data.inConn, replyBytes(t.recvTid, code, reason, t.fromPath, t.toTop, headers));
    },

    sendReport(statusValue, from) {
      let recvTid: string, toTop: string, fromFull: string, mid: string | undefined, br: string | undefined, connId: number | undefined;
      if ('msg' in from) {
        const m = from.msg;
        recvTid = m.tid;
        fromFull = getHeader(m, 'From-Path')!;
        toTop = from.toPath[0]!.whole;
        mid = getHeader(m, 'Message-ID');
        br = getHeader(m, 'Byte-Range');
        connId = from.conn.id;
      } else {
        recvTid = from.recvTid ?? from.tid;
        toTop = from.toTop;
        fromFull = from.fromPath;
        mid = from.messageId;
        br = from.byteRange;
        connId = from.data.inConn;
      }
      if (!statusValue) throw new MsrpApiError(MsrpApiErrorCodes.BAD_REQUEST, 'a REPORT needs a status');
      if (mid === undefined) throw new MsrpApiError(MsrpApiErrorCodes.BAD_REQUEST, 'cannot generate REPORT for a request without Message-ID');
      if (br === undefined) throw new MsrpApiError(MsrpApiErrorCodes.BAD_REQUEST, 'cannot generate REPORT for a request without Byte-Range');
      if (connId === undefined) throw new MsrpApiError(MsrpApiErrorCodes.BAD_REQUEST, 'no connection to send the REPORT on');
      const tid = buildTid(coreHash(recvTid, TID_HASH_SIZE), table.currentSlot, [toTop, fromFull, mid]);
      const s =
        `MSRP ${tid} REPORT\r\nTo-Path: ${fromFull}\r\nFrom-Path: ${toTop}\r\nMessage-ID: ${mid}\r\n` +
        `Byte-Range: ${br}\r\nStatus: ${statusValue}\r\n${endLine(tid, '$')}`;
      write(connId, latin1(s));
      if ('msg' in from) throttle(from.conn.id, connId);
    },

    async forwardRequest(req, handle, fo = {}) {
      const m = req.msg;
      // A streamed body keeps coming while this resolves (at most the rest of the read that
      // carried the head) and connects (the inbound connection is then paused): catch it.
      const pending: Buffer[] = [];
      let sink: ((b: Buffer) => void) | undefined;
      let endFlag: ContinuationFlag | undefined;
      let onEndOut: ((flag: ContinuationFlag) => void) | undefined;
      if (req.stream) {
        req.stream.onPiece = (p) => (sink ? sink(p) : void pending.push(Buffer.from(p)));
        req.stream.onEnd = (flag) => (onEndOut ? onEndOut(flag) : (endFlag = flag));
      }
      const fail = (err: unknown): never => {
        if (req.stream) {
          req.stream.onPiece = undefined;
          req.stream.onEnd = undefined;
        }
        throw err;
      };
      const hops = fo.rotate ?? 1;
      if (!Number.isInteger(hops) || hops < 1 || req.toPath.length < hops + 1) fail(new MsrpApiError(MsrpApiErrorCodes.BAD_REQUEST, 'cannot forward as there is no second URL in To-Path'));
      const fromValue = getHeader(m, 'From-Path')!;
      try {
        parsePath(fromValue);
      } catch (err) {
        fail(new MsrpApiError(MsrpApiErrorCodes.BAD_REQUEST, 'invalid From-Path', { cause: err }));
      }
      const next = req.toPath[hops]!;
      let dest: Address;
      try {
        // an IP address is used at once: the forward then leaves within the read that brought the request
        dest = fo.dest ?? (next.port !== 0 && isIP(next.host) ? { host: next.host, port: next.port } : await resolveDest(next));
      } catch (err) {
        return fail(err);
      }
      const proto = next.secured ? 'msrps' : 'msrp';
      let listenerId = fo.listenerId;
      try {
        if (listenerId === undefined) {
          if (proto !== req.proto) listenerId = pickListener(proto);
          else listenerId = req.conn.listener?.id ?? (engine.listeners(proto)[0]?.id as number | undefined);
        }
      } catch (err) {
        return fail(err);
      }
      const isReport = methodId(m.method) === 'REPORT';
      let t: Transaction<TransData> | undefined;
      let tid = m.tid;
      if (!isReport) {
        const mid = getHeader(m, 'Message-ID');
        const br = getHeader(m, 'Byte-Range');
        const fr = getHeader(m, 'Failure-Report');
        t = table.create({
          method: m.method,
          fromPath: fromValue,
          toTop: req.toPath[0]!.whole,
          recvTid: m.tid,
          ...(mid !== undefined ? { messageId: mid, md5Extra: mid } : {}),
          ...(br !== undefined ? { byteRange: br } : {}),
          ...(fr !== undefined ? { failureReport: fr } : {}),
          data: { ...(handle ? { handle } : {}), inConn: req.conn.id, inProto: req.proto, ...(fo.param !== undefined ? { param: fo.param } : {}) },
        });
        tid = t.tid;
      }
      const head = rotated(m, tid, fo.headers ?? [], hops);
      const so = listenerId !== undefined ? { listenerId } : {};
      try {
        if (!req.stream) {
          const tail = endLine(tid, m.continuation);
          const bytes = m.body !== undefined ? Buffer.concat([latin1(`${head}\r\n`), m.body, latin1(`\r\n${tail}`)]) : latin1(head + tail);
          const sent = sendCapture(proto, dest, bytes, so);
          relayed(req.conn.id, sent);
          await sent.done;
        } else {
          // streamed body: the head now, the pieces as they come, the end-line at the end;
          // past the high-water mark on the outbound connection the inbound one is paused
          const sent = sendCapture(proto, dest, latin1(`${head}\r\n`), so);
          relayed(req.conn.id, sent);
          const c = sent.conn ?? (await sent.done);
          const out = (b: Buffer): void => {
            try {
              engine.write(c.id, b);
            } catch (err) {
              log.warn({ err: (err as Error).message }, 'MSRP streamed forward failed: inbound connection closed');
              engine.close(req.conn.id, 'Closed by Proto layer');
              return;
            }
            throttle(req.conn.id, c.id);
          };
          for (const b of pending.splice(0)) out(b);
          sink = out;
          onEndOut = (flag) => out(latin1(`\r\n${endLine(tid, flag)}`));
          if (endFlag !== undefined) onEndOut(endFlag);
          if (sent.conn) await sent.done;
        }
      } catch (err) {
        if (t) table.drop(t);
        return fail(err);
      }
      return t;
    },

    forwardReply(rpl, t) {
      const inConn = t.data.inConn;
      if (inConn === undefined || t.recvTid === undefined) throw new MsrpApiError(MsrpApiErrorCodes.BAD_REQUEST, 'the transaction has no inbound request');
      if (rpl.toPath.length < 2) throw new MsrpApiError(MsrpApiErrorCodes.BAD_REQUEST, 'cannot forward a reply with no second URL in To-Path');
      const head = rotated(rpl.msg, t.recvTid, []);
      write(inConn, latin1(head + endLine(t.recvTid, rpl.msg.continuation)));
      throttle(rpl.conn.id, inConn);
    },

    close() {
      if (closed) return;
      closed = true;
      table.stop();
      engine.off('message', onMessage);
      engine.off('messageStart', onMessageStart);
      engine.off('messagePart', onMessagePart);
      engine.off('messageEnd', onMessageEnd);
      engine.off('close', onClose);
      for (const id of holds.keys()) engine.resume(id);
      holds.clear();
      for (const t of table.clear()) t.data.reject?.(new MsrpApiError(MsrpApiErrorCodes.CLOSED, 'the MSRP layer closed'));
      handlers.length = 0;
    },
  };
  return api;
}
