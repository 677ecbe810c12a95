import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import { ConfigError, ErrorCodes, type Address, type ConnectionInfo, type Logger } from '@x/core-conn';
import { getHeader } from '../codec/message.js';
import { methodId } from '../codec/head.js';
import type { MsrpMessage, MsrpUrl } from '../codec/types.js';
import { parsePath, parseUrl } from '../codec/url.js';
import type { MsrpApi, MsrpHandle, MsrpReceived, TransData } from '../msrp.js';
import type { Transaction } from '../transactions.js';

/** msrp_relay's modparams after validation. */
export interface MsrpRelayParams {
  my_uri: string[];
  auth_route: string;
  auth_realm?: string;
  auth_expires: number;
  auth_min_expires: number;
  auth_max_expires: number;
  calculate_ha1: boolean;
  cleanup_interval: number;
  nonce_expire: number;
  hash_size: number;
}

/** What the auth_route (`msrp_auth` by default) is called with. */
export interface MsrpAuthContext {
  username: string;
  realm: string;
  /** where the AUTH came from */
  source: Address;
  conn: ConnectionInfo;
  /** the AUTH request being authenticated (x-server's route gets it as ctx.message: ctx.trace() traces it and its response) */
  message: MsrpMessage;
}
/**
 * Returns the password (calculate_ha1 = 1) or the HA1 hex (calculate_ha1 = 0) of the user,
 * or nothing to reject. May return a promise.
 */
export type MsrpAuthCallback = (ctx: MsrpAuthContext) => unknown;

export interface MsrpSession {
  id: string;
  /** the authenticated endpoint's top From-Path URL */
  topFrom: string;
  /** ms epoch */
  expiresAt: number;
  /** a SEND has gone through the session */
  havePeerConn: boolean;
  /** the peer reached us first: sends to the endpoint go to where the peer's came from */
  peerSrc?: Address;
}

export interface MsrpRelay {
  readonly sessions: ReadonlyMap<string, MsrpSession>;
  readonly myUrls: readonly MsrpUrl[];
  close(): void;
}

const REASON_UNAUTHORIZED = 'Unauthorized';
const REASON_INVALID_CREDS = 'Invalid credentials';
const REASON_SERVER_ERROR = 'Server Error';
const REASON_BAD_NONCE = 'Bad nonce';
const REASON_UNSUPPORTED_ALG = 'Unsupported algorithm';
const REASON_UNSUPPORTED_QOP = 'Unsupported qop';
const OUT_OF_BOUNDS = 'Interval Out-of-Bounds';

const md5 = (s: string): string => createHash('md5').update(s, 'latin1').digest('hex');

/** Parses a my_uri value; a URL without a port gets 2855 (OpenSIPS, with an info log). */
export function parseMyUri(text: string, log?: Logger): MsrpUrl {
  const u = parseUrl(text);
  if (u.port === 0) {
    log?.info({ my_uri: text }, "explicit port number not provided in 'my_uri', using 2855");
    return { ...u, port: 2855 };
  }
  return u;
}

function ipNorm(h: string): string | null {
  const v = isIP(h);
  if (v === 4) return h;
  if (v === 6) return h.toLowerCase().replace(/(^|:)0+([0-9a-f])/g, '$1$2');
  return null;
}

/** msrp_relay's URI comparison: scheme, host (as IPs or case-insensitive names), port when either has one, params. */
export function uriMatches(a: MsrpUrl, b: MsrpUrl): boolean {
  if (a.secured !== b.secured) return false;
  const ia = ipNorm(a.host);
  const ib = ipNorm(b.host);
  if ((ia === null) !== (ib === null)) return false;
  if (ia !== null ? ia !== ib : a.host.toLowerCase() !== b.host.toLowerCase()) return false;
  if (!a.port !== !b.port || (a.port && a.port !== b.port)) return false;
  return a.params.toLowerCase() === b.params.toLowerCase();
}

/** Parses a Digest credentials header value into its parameters (lower-case names). */
export function parseDigest(value: string): Record<string, string> | null {
  const m = /^\s*Digest\s+/i.exec(value);
  if (!m) return null;
  const out: Record<string, string> = {};
  const re = /\s*([A-Za-z0-9_-]+)\s*=\s*("((?:[^"\\]|\\.)*)"|[^\s,]*)\s*(,|$)/gy;
  re.lastIndex = m[0].length;
  while (re.lastIndex < value.length) {
    const p = re.exec(value);
    if (!p) return null;
    out[p[1]!.toLowerCase()] = p[3] !== undefined ? p[3].replace(/\\(.)/g, '$1') : p[2]!;
  }
  return out;
}

/** Nonces: expiry + random, signed with a per-process key (stateless, as OpenSIPS's encrypted nonces). */
class Noncer {
  private readonly key = randomBytes(32);
  make(expireSec: number): string {
    const b = Buffer.alloc(16);
    b.writeBigUInt64BE(BigInt(Math.floor(Date.now() / 1000) + expireSec));
    randomBytes(8).copy(b, 8);
    return b.toString('base64url') + createHmac('sha256', this.key).update(b).digest('base64url').slice(0, 22);
  }
  /** 'ok', 'stale' or 'bad' */
  check(nonce: string): 'ok' | 'stale' | 'bad' {
    if (nonce.length !== 44) return 'bad';
    const b = Buffer.from(nonce.slice(0, 22), 'base64url');
    if (b.length !== 16) return 'bad';
    const mac = Buffer.from(createHmac('sha256', this.key).update(b).digest('base64url').slice(0, 22));
    const got = Buffer.from(nonce.slice(22));
    if (got.length !== mac.length || !timingSafeEqual(got, mac)) return 'bad';
    return Number(b.readBigUInt64BE()) < Date.now() / 1000 ? 'stale' : 'ok';
  }
}

/**
 * OpenSIPS's msrp_relay (RFC 4976) on the MSRP API: AUTH with Digest (401 with qop="auth",
 * 200 with Use-Path and Expires, 423 out of bounds), sessions named in Use-Path, SENDs
 * answered at once and forwarded with the path rotated, REPORTs on failure (000 481, 000 400,
 * 000 403, 000 408, 000 <code>), replies forwarded, 501 for other methods.
 */
export function attachRelay(api: MsrpApi, p: MsrpRelayParams, opts: { auth: MsrpAuthCallback; logger?: Logger }): MsrpRelay {
  const log = opts.logger;
  const myUrls = p.my_uri.map((u) => parseMyUri(u, log));
  if (myUrls.length === 0) throw new ConfigError(ErrorCodes.INVALID_OPTION, "msrp_relay: no 'my_uri' defined");
  const sessions = new Map<string, MsrpSession>();
  const noncer = new Noncer();
  const handles: MsrpHandle[] = [];

  const mine = (to: MsrpUrl): MsrpUrl | undefined => myUrls.find((u) => uriMatches(to, u));

  function challenge(req: MsrpReceived, realm: string, stale: boolean): void {
    const nonce = noncer.make(p.nonce_expire);
    const opaque = noncer.make(p.nonce_expire);
    const v = `Digest realm="${realm}", nonce="${nonce}", qop="auth"${stale ? ', stale=true' : ''}, opaque="${opaque}"`;
    api.sendReply(req as never, 401, REASON_UNAUTHORIZED, [{ name: 'WWW-Authenticate', value: v }]);
  }

  async function handleAuth(req: MsrpReceived, my: MsrpUrl, realm: string): Promise<void> {
    const m = req.msg;
    let expires = p.auth_expires;
    const reply = (code: number, reason?: string, hdr?: { name: string; value: string }): void =>
      api.sendReply(req as never, code, reason, hdr ? [hdr] : []);
    const ev = getHeader(m, 'Expires');
    if (ev !== undefined) {
      const t = ev.trim();
      if (!/^[0-9]{1,10}$/.test(t)) return reply(400);
      expires = Number(t);
      if (p.auth_min_expires > 0 && expires < p.auth_min_expires) return reply(423, OUT_OF_BOUNDS, { name: 'Min-Expires', value: String(p.auth_min_expires) });
      if (p.auth_max_expires > 0 && expires > p.auth_max_expires) return reply(423, OUT_OF_BOUNDS, { name: 'Max-Expires', value: String(p.auth_max_expires) });
    }
    const cred = parseDigest(getHeader(m, 'Authorization') ?? '');
    if (!cred) return reply(400, REASON_INVALID_CREDS);
    // the request-URI of H(A2) is the rightmost To-Path URL
    const uri = req.toPath[req.toPath.length - 1]!.whole;
    if (!cred.username || !cred.realm || !cred.nonce || !cred.response) return reply(400, REASON_INVALID_CREDS);
    if (cred.realm.toLowerCase() !== realm.toLowerCase()) return reply(400, REASON_INVALID_CREDS);
    const nonceState = noncer.check(cred.nonce);
    if (nonceState === 'bad') return reply(400, REASON_BAD_NONCE);
    if (cred.algorithm !== undefined && cred.algorithm.toUpperCase() !== 'MD5') return reply(403, REASON_UNSUPPORTED_ALG);
    if (cred.qop?.toLowerCase() !== 'auth' || !cred.nc || !cred.cnonce) return reply(403, REASON_UNSUPPORTED_QOP);
    if (nonceState === 'stale') return challenge(req, realm, true);
    let secret: unknown;
    try {
      secret = await opts.auth({ username: cred.username, realm, source: req.conn.remote, conn: req.conn, message: m });
    } catch (err) {
      log?.error({ err: (err as Error).message }, 'msrp_relay: the auth route failed');
      return reply(403, REASON_SERVER_ERROR);
    }
    if (typeof secret !== 'string' || secret === '') return reply(403, REASON_UNAUTHORIZED);
    let ha1: string;
    if (p.calculate_ha1) ha1 = md5(`${cred.username}:${realm}:${secret}`);
    else {
      if (secret.length !== 32) return reply(403, REASON_UNAUTHORIZED);
      ha1 = secret.toLowerCase();
    }
    const ha2 = md5(`AUTH:${uri}`);
    const expected = md5(`${ha1}:${cred.nonce}:${cred.nc}:${cred.cnonce}:${cred.qop}:${ha2}`);
    if (expected !== cred.response.toLowerCase()) return reply(403, REASON_UNAUTHORIZED);
    const rspauth = md5(`${ha1}:${cred.nonce}:${cred.nc}:${cred.cnonce}:${cred.qop}:${md5(`:${uri}`)}`);
    let from: MsrpUrl[];
    try {
      from = parsePath(getHeader(m, 'From-Path') ?? '');
    } catch {
      return reply(400);
    }
    let id = '';
    do id = randomBytes(12).toString('base64url');
    while (sessions.has(id));
    sessions.set(id, { id, topFrom: from[0]!.whole, expiresAt: Date.now() + expires * 1000, havePeerConn: false });
    const host = my.host.includes(':') ? `[${my.host}]` : my.host;
    api.sendReply(req as never, 200, 'OK', [
      { name: 'Use-Path', value: `${my.secured ? 'msrps' : 'msrp'}://${host}:${my.port}/${id};tcp` },
      { name: 'Expires', value: String(expires) },
      { name: 'Authentication-Info', value: `qop=${cred.qop}, cnonce="${cred.cnonce}", nc=${cred.nc}, rspauth="${rspauth}"` },
    ]);
  }

  function report(req: MsrpReceived, status: string): void {
    try {
      api.sendReport(status, req as never);
    } catch (err) {
      log?.error({ err: (err as Error).message }, 'msrp_relay: failed to send REPORT');
    }
  }

  function onRequest(req: MsrpReceived, a: MsrpApi, handle: MsrpHandle): void {
    const m = req.msg;
    if (m.kind !== 'request') return;
    const mid = methodId(m.method);
    let to = req.toPath[0]!;
    if (to.port === 0) {
      // AUTH may leave the port out: the receiving port is used
      if (mid !== 'AUTH') return void log?.warn({ to: to.whole }, 'msrp_relay: no port in To-Path for a non-AUTH request');
      to = { ...to, port: req.conn.local.port };
    }
    const my = mine(to);
    if (!my) return void log?.warn({ to: to.whole }, 'msrp_relay: request not addressed to this relay');
    if (mid === 'AUTH') {
      if (req.toPath.length > 1) {
        a.forwardRequest(req as never, handle).catch(() => a.sendReply(req as never, 403));
        return;
      }
      const realm = p.auth_realm ?? req.toPath[0]!.host;
      if (getHeader(m, 'Authorization') === undefined) return challenge(req, realm, false);
      handleAuth(req, my, realm).catch((err: unknown) => log?.error({ err: (err as Error).message }, 'msrp_relay: AUTH failed'));
      return;
    }
    if (mid === 'OTHER') return a.sendReply(req as never, 501, 'Unknown method');
    let doReport = false;
    if (mid === 'SEND' && getHeader(m, 'Failure-Report') !== 'no') {
      doReport = true;
      a.sendReply(req as never, 200, 'OK');
    }
    const s = sessions.get(to.session);
    if (!s || s.expiresAt < Date.now()) {
      if (s) sessions.delete(s.id);
      log?.debug({ session: to.session }, 'msrp_relay: session does not exist');
      if (doReport) report(req, '000 481');
      return;
    }
    let from: MsrpUrl[];
    try {
      from = parsePath(getHeader(m, 'From-Path') ?? '');
    } catch {
      if (doReport) report(req, '000 400');
      return;
    }
    if (req.toPath.length < 2) {
      if (doReport) report(req, '000 403');
      return;
    }
    // hops naming this relay again right after (one relay holding both sessions) are
    // collapsed here instead of sent to ourselves
    let hops = 1;
    while (hops < req.toPath.length - 1 && mine(req.toPath[hops]!)) hops++;
    const fromPeer = from[0]!.whole !== s.topFrom;
    let dest: Address | undefined;
    if (!fromPeer && s.peerSrc && hops === 1) dest = s.peerSrc;
    let markPeer = false;
    if (mid === 'SEND' && !s.havePeerConn) {
      markPeer = true;
      if (fromPeer) s.peerSrc = req.conn.remote;
    }
    // a streamed body keeps coming: forwardRequest catches it synchronously
    a.forwardRequest(req as never, handle, { ...(dest ? { dest } : {}), rotate: hops }).then(
      () => {
        if (markPeer) s.havePeerConn = true;
      },
      (err: unknown) => {
        log?.warn({ err: (err as Error).message }, 'msrp_relay: failed to forward request');
        if (doReport) report(req, '000 403');
      },
    );
  }

  function onReply(rpl: MsrpReceived | null, t: Transaction<TransData>, a: MsrpApi): void {
    if (rpl) {
      if (rpl.msg.kind !== 'response') return;
      if (!mine(rpl.toPath[0]!)) return;
      if (rpl.msg.status === 200) return;
      if (rpl.toPath.length > 1) {
        try {
          a.forwardReply(rpl as never, t);
        } catch (err) {
          log?.warn({ err: (err as Error).message }, 'msrp_relay: failed to forward reply');
        }
      } else if (t.failureReport === undefined || t.failureReport !== 'no') {
        try {
          a.sendReport(`000 ${String(rpl.msg.status).padStart(3, '0')}`, t);
        } catch (err) {
          log?.warn({ err: (err as Error).message }, 'msrp_relay: failed to send REPORT for a failure reply');
        }
      }
      return;
    }
    try {
      if (methodId(t.method) !== 'AUTH') {
        if (t.failureReport === 'yes') a.sendReport('000 408', t);
      } else a.sendReplyOnTransaction(t, 408);
    } catch (err) {
      log?.warn({ err: (err as Error).message }, 'msrp_relay: failed to answer a timeout');
    }
  }

  // one handler per distinct (scheme) of my URIs, any host/port: the URI check is the relay's
  for (const secured of new Set(myUrls.map((u) => u.secured))) {
    const h: MsrpHandle = api.registerHandler(
      { host: '*', port: 0, secured },
      (req, a) => onRequest(req, a, h),
      (rpl, t, a) => onReply(rpl, t, a),
    );
    handles.push(h);
  }

  const timer = setInterval(() => {
    const now = Date.now();
    for (const [id, s] of sessions) if (s.expiresAt < now) sessions.delete(id);
  }, p.cleanup_interval * 1000);
  timer.unref();

  return {
    sessions,
    myUrls,
    close() {
      clearInterval(timer);
      for (const h of handles) h.unregister();
      sessions.clear();
    },
  };
}
