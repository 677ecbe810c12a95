// The observation tap: what the engine does, published on node:diagnostics_channel (the way
// undici publishes its request lifecycle). Nothing is built or published while a channel has
// no subscriber (`channel.hasSubscribers`).
import diagnostics_channel from 'node:diagnostics_channel';
import type { Address, CloseReason, ConnectionInfo, ListenerInfo, Transport } from './types.js';

/** The channel names. Stable: a tracer subscribes to them by name (two copies of core-conn share them). */
export const TapChannels = {
  /** a stream connection exists: accepted by a listener (before any TLS handshake) or being opened */
  open: 'x:conn:open',
  /** an accepted connection is ready (TLS: after the handshake), as the engine's 'accept' event */
  accept: 'x:conn:accept',
  /** an outbound connection is connected (TLS: after the handshake), as the engine's 'connect' event */
  connect: 'x:conn:connect',
  /** a stream connection closed, with OpenSIPS's reason */
  close: 'x:conn:close',
  /** a message arrived (stream or datagram), before any handler runs */
  messageIn: 'x:message:in',
  /** bytes left for the wire (send, write, a framer's reply, a datagram), in wire order */
  messageOut: 'x:message:out',
  /** a piece of the body of a streamed message (after its `x:message:in`), and its end (`last`) */
  messagePart: 'x:message:part',
} as const;

/** open / accept / connect */
export interface TapConnEvent {
  proto: string;
  transport: Transport;
  /** a live view: read what you need during the call */
  conn: ConnectionInfo;
}

export interface TapCloseEvent extends TapConnEvent {
  reason: CloseReason;
  error?: Error;
}

/** message in / message out */
export interface TapMessageEvent {
  proto: string;
  transport: Transport;
  /** the stream connection; undefined for a datagram */
  conn: ConnectionInfo | undefined;
  /** the listener: a datagram's, an accepted connection's or the one an outbound connection is bound to */
  listener: ListenerInfo | undefined;
  /** our side */
  local: Address;
  /** the peer */
  remote: Address;
  /**
   * The wire bytes: in, the framed message (for a streamed message, its head; see `streamed`);
   * out, exactly what was handed to the socket. A view that may be reused after the call:
   * copy it (`Buffer.from(bytes)`) to keep it.
   */
  bytes: Buffer;
  /** in: the decoded message the handlers get */
  message?: unknown;
  /** out: 'reply' for bytes a framer wrote back itself (a CRLF pong), else 'message' */
  kind?: 'message' | 'reply';
  /** in: the message's body is streamed: `x:message:in` carries its head, `x:message:part` the rest */
  streamed?: boolean;
  /** part: the message's end (`bytes`: its closing bytes, if the framer gave any) */
  last?: boolean;
  /** ms epoch */
  at: number;
}

export interface TapEvents {
  open: TapConnEvent;
  accept: TapConnEvent;
  connect: TapConnEvent;
  close: TapCloseEvent;
  messageIn: TapMessageEvent;
  messageOut: TapMessageEvent;
  messagePart: TapMessageEvent;
}

/**
 * The engine builds every message event with this one constructor, so all of them share one
 * shape (every field present, `undefined` when it does not apply): a subscriber's property reads
 * stay monomorphic, where object literals with optional fields gave it several shapes.
 * @internal
 */
export class MessageEvent implements TapMessageEvent {
  constructor(
    public proto: string,
    public transport: Transport,
    public conn: ConnectionInfo | undefined,
    public listener: ListenerInfo | undefined,
    public local: Address,
    public remote: Address,
    public bytes: Buffer,
    public message: unknown,
    public kind: 'message' | 'reply' | undefined,
    public streamed: boolean | undefined,
    public last: boolean | undefined,
    public at: number,
  ) {}
}

/** The channels themselves (the engine publishes on these; `diagnostics_channel.channel(name)` gives the same objects). */
export const tap = {
  open: diagnostics_channel.channel(TapChannels.open),
  accept: diagnostics_channel.channel(TapChannels.accept),
  connect: diagnostics_channel.channel(TapChannels.connect),
  close: diagnostics_channel.channel(TapChannels.close),
  messageIn: diagnostics_channel.channel(TapChannels.messageIn),
  messageOut: diagnostics_channel.channel(TapChannels.messageOut),
  messagePart: diagnostics_channel.channel(TapChannels.messagePart),
};

export interface TapSubscriber {
  /** protocols to leave out (a HEP tracer excludes its own output, e.g. ['hep_tcp', 'hep_udp']) */
  exclude?: readonly string[];
  /** protocols to keep (all when absent) */
  only?: readonly string[];
  onOpen?(ev: TapConnEvent): void;
  onAccept?(ev: TapConnEvent): void;
  onConnect?(ev: TapConnEvent): void;
  onClose?(ev: TapCloseEvent): void;
  onMessageIn?(ev: TapMessageEvent): void;
  onMessageOut?(ev: TapMessageEvent): void;
  onMessagePart?(ev: TapMessageEvent): void;
}

/**
 * Subscribes typed handlers to the tap, filtered by protocol; returns the unsubscribe
 * function. Only the channels with a handler are subscribed, so the others stay free.
 * A handler that throws is reported by Node as an uncaught exception (diagnostics_channel's
 * rule); keep handlers small and let them not throw.
 */
export function subscribeTap(s: TapSubscriber): () => void {
  const ex = s.exclude && s.exclude.length > 0 ? new Set(s.exclude) : undefined;
  const only = s.only ? new Set(s.only) : undefined;
  const keep = (proto: string): boolean => (ex === undefined || !ex.has(proto)) && (only === undefined || only.has(proto));
  const subs: [diagnostics_channel.Channel, (m: unknown) => void][] = [];
  const add = <E extends { proto: string }>(ch: diagnostics_channel.Channel, fn: ((ev: E) => void) | undefined): void => {
    if (!fn) return;
    const h = (m: unknown): void => {
      const ev = m as E;
      if (keep(ev.proto)) fn(ev);
    };
    ch.subscribe(h);
    subs.push([ch, h]);
  };
  add(tap.open, s.onOpen?.bind(s));
  add(tap.accept, s.onAccept?.bind(s));
  add(tap.connect, s.onConnect?.bind(s));
  add(tap.close, s.onClose?.bind(s));
  add(tap.messageIn, s.onMessageIn?.bind(s));
  add(tap.messageOut, s.onMessageOut?.bind(s));
  add(tap.messagePart, s.onMessagePart?.bind(s));
  return () => {
    for (const [ch, h] of subs.splice(0)) ch.unsubscribe(h);
  };
}
