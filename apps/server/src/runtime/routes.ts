import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import { XError, type Address, type ConnectionInfo, type ListenerInfo, type Logger, type StatsRegistry } from '@x/core-conn';
import type { SipMessage } from '@x/proto-tcp';
import type { HepReceived } from '@x/proto-hep';

/** What every route function gets. `message` is the protocol's message object. */
export interface RouteContext<M = unknown> {
  /** the export being run: "request", "reply", "hep", ... */
  readonly route: string;
  readonly message: M;
  /** the connection it came on (stream protocols) */
  readonly connection: ConnectionInfo | undefined;
  /** source IP and port ($si / $sp) */
  readonly si: string | undefined;
  readonly sp: number | undefined;
  /** the protocol name ("tcp", "hep_udp", ...) ($proto) */
  readonly proto: string | undefined;
  /** receiving socket as "proto:ip:port" ($socket_in) */
  readonly socket: string | undefined;
  readonly listener: ListenerInfo | undefined;
  /** a logger bound to this route */
  readonly log: Logger;
  /** the loaded modules' APIs by module name (`ctx.modules.get('clusterer').cluster_send_req(...)`) */
  readonly modules: ReadonlyMap<string, unknown>;
  /** stateless reply (SIP requests); rejects where the protocol has no reply */
  reply(code: number, reason: string): Promise<void>;
  /** stop processing: counted in core:drop_requests / drop_replies; a hep route that drops skips the packet */
  drop(): void;
  readonly dropped: boolean;
  /**
   * OpenSIPS tracer's `trace()`: sends this message as HEP (SIP: proto type 1, correlation id =
   * Call-ID; MSRP: its transaction id) to its module's trace_destination, or to the hep_id
   * `destination`; the replies and later messages carrying the same id follow. Only while the
   * module's trace switch is on (trace_on, MI tcp:trace / msrp:trace) and the connection was not
   * dropped by its trace_filter_route. Returns whether it was sent (false without tracing).
   */
  trace(opts?: { destination?: string }): boolean;
}

export type SipRequestContext = RouteContext<SipMessage>;
export type SipReplyContext = RouteContext<SipMessage>;
export type HepRouteContext = RouteContext<HepReceived>;

/** The shape of a route script: named exports are routes. */
export interface RouteScript {
  request?(ctx: SipRequestContext): unknown;
  reply?(ctx: SipReplyContext): unknown;
  hep?(ctx: HepRouteContext): unknown;
  [route: string]: ((ctx: RouteContext<never>) => unknown) | undefined;
}

export type RouteTable = Record<string, (ctx: RouteContext) => unknown>;

/**
 * Imports the route script. The URL carries a hash of the file's content, so a reload after an
 * edit imports the new text while a reload of unchanged text reuses the module already loaded:
 * Node's ESM loader never frees a module, so importing under a new URL on every reload grew the
 * heap by ~6.5 KB per `reload` (13,000 reloads: +82 MB). Memory now grows only with the number
 * of distinct versions of the script, not with the number of reloads. (Modules the script itself
 * imports are loaded once, as before.)
 */
export async function loadRouteScript(path: string): Promise<RouteTable> {
  const hash = createHash('sha256').update(await readFile(path)).digest('hex').slice(0, 16);
  const url = `${pathToFileURL(path).href}?v=${hash}`;
  const ns = (await import(url)) as Record<string, unknown>;
  const out: RouteTable = {};
  for (const [k, v] of Object.entries(ns)) {
    if (typeof v === 'function') out[k] = v as (ctx: RouteContext) => unknown;
  }
  return out;
}

export interface RouteEnv {
  table(): RouteTable;
  logger: Logger;
  stats: StatsRegistry;
}

/** Inputs from which a context is built. */
export interface RouteInput<M> {
  message: M;
  connection?: ConnectionInfo | undefined;
  remote?: Address | undefined;
  listener?: ListenerInfo | undefined;
  local?: Address | undefined;
  proto?: string | undefined;
  reply?: ((code: number, reason: string) => Promise<void>) | undefined;
  /** extra named values the route reads as ctx.<name> (msrp_auth: username, realm); never override the core fields */
  fields?: Record<string, unknown> | undefined;
}

function fmt(a: Address): string {
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

const NO_MODULES: ReadonlyMap<string, unknown> = new Map();

/** What ctx.trace() calls: @x/tracing's `Tracing.trace`. */
export type MessageTracer = (message: unknown, opts?: { destination?: string }) => boolean;

export function makeContext<M>(route: string, input: RouteInput<M>, log: Logger, modules: ReadonlyMap<string, unknown> = NO_MODULES, tracer?: MessageTracer): RouteContext<M> {
  const remote = input.remote ?? input.connection?.remote;
  const listener = input.listener ?? input.connection?.listener;
  const local = listener?.address ?? input.local ?? input.connection?.local;
  const proto = input.proto ?? input.connection?.proto ?? listener?.proto;
  let dropped = false;
  const ctx: RouteContext<M> = {
    route,
    message: input.message,
    connection: input.connection,
    si: remote?.host,
    sp: remote?.port,
    proto,
    socket: local && proto ? `${proto}:${fmt(local)}` : undefined,
    listener,
    log,
    modules,
    reply: (code, reason) => (input.reply ? input.reply(code, reason) : Promise.reject(new XError('ERR_ROUTE_CANNOT_REPLY', `route "${route}" cannot reply: its message has no stateless reply (only SIP requests do)`))),
    drop() {
      dropped = true;
    },
    get dropped() {
      return dropped;
    },
    trace: (o) => (tracer ? tracer(input.message, o) : false),
  };
  if (input.fields) for (const [k, v] of Object.entries(input.fields)) if (!(k in ctx)) Object.defineProperty(ctx, k, { value: v, enumerable: true });
  return ctx;
}
