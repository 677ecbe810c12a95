/**
 * The transport event model and OpenSIPS's "net" trace messages (net/trans_trace.c), as pure
 * functions: an event in, a proto-hep `TracePacket` out. No sockets, no timers.
 */
import type { TracePacket } from '@x/proto-hep';

/** HEP proto type (chunk 0x0B) of transport events: OpenSIPS's `get_message_id("net")`. */
export const NET_PROTO_TYPE = 0x59;
/** HEP proto type of SIP messages. */
export const SIP_PROTO_TYPE = 0x01;
/**
 * HEP proto type of traced MSRP messages: 0x5A, non-standard, like OpenSIPS's own `mi` 0x57,
 * `rest` 0x58 and `net` 0x59. The HEP specification (rev. 37) assigns MSRP no type and OpenSIPS
 * traces no MSRP message; type 1 would be wrong (HOMER's heplify-server parses type 1 as SIP and
 * drops what fails; it stores any other type with a payload and a correlation id generically).
 * See the README.
 */
export const MSRP_PROTO_TYPE = 0x5a;

/** The `Protocol` part of a net event. MSRP, MSRPS and BIN are ours: OpenSIPS cannot build them. */
export type NetProtocol = 'TCP' | 'TLS' | 'WS' | 'WSS' | 'BINS' | 'BIN' | 'MSRP' | 'MSRPS';
export type NetEventKind = 'ACCEPTED' | 'CONNECT_START' | 'CONNECTED' | 'CLOSED' | 'STATS';
export type NetStatus = 'SUCCESS' | 'FAILURE';

/**
 * The (partly fake) IP protocol ids of chunk 0x02 (trans_trace.c): TCP 6, TLS and BINS 22
 * (IPPROTO_IDP), WS and WSS 50 (IPPROTO_ESP). MSRP/BIN (6) and MSRPS (22) follow the same rule
 * for their transport.
 */
export const NET_IP_PROTO: Readonly<Record<NetProtocol, number>> = {
  TCP: 6,
  TLS: 22,
  WS: 50,
  WSS: 50,
  BINS: 22,
  BIN: 6,
  MSRP: 6,
  MSRPS: 22,
};

/** core-conn protocol names -> the `Protocol` text of their events. */
export const NET_PROTOCOL_OF: Readonly<Record<string, NetProtocol>> = {
  tcp: 'TCP',
  tls: 'TLS',
  ws: 'WS',
  wss: 'WSS',
  bins: 'BINS',
  bin: 'BIN',
  msrp: 'MSRP',
  msrps: 'MSRPS',
};

/** OpenSIPS's standard `Message` texts (trans_trace.c). CLOSED events carry the close reason instead. */
export const NET_TEXT = {
  ACCEPT_OK: 'Connection accepted...',
  ACCEPT_FAIL: 'Failed to accept connection...',
  AS_CONNECT_INIT: 'Async connect in progress...',
  CONNECT_OK: 'Successfully connected...',
  ASYNC_CONNECT_OK: 'Successfully connected asynchronously...',
  CONNECT_FAIL: 'Failed to connect...',
} as const;

export interface Endpoint {
  host: string;
  port: number;
}

/**
 * The certificate fields of a TLS handshake event (tls_trace_common.h). "client" is always the
 * peer's certificate (even when we are the client), "server" our own.
 */
export interface TlsHandshakeInfo {
  clientSubject?: string;
  clientIssuer?: string;
  serverSubject?: string;
  serverIssuer?: string;
  /** hex; OpenSIPS >= OpenSSL 1.1 writes raw bytes here, we write hex (usable by Wireshark) */
  masterKey?: string;
}

/** One transport event of one connection. */
export interface NetEvent {
  protocol: NetProtocol;
  event: NetEventKind;
  status: NetStatus;
  /** free text (standard texts in NET_TEXT, the close reason for CLOSED); omitted when empty */
  message?: string;
  /** the connection's 64-bit correlation id (core-conn `ConnectionInfo.cid`) */
  cid: bigint;
  /** the remote peer (HEP source) */
  remote: Endpoint;
  /** the local address (HEP destination) */
  local: Endpoint;
  /** TLS handshake events of tls/bins/msrps */
  tls?: TlsHandshakeInfo;
  timestamp?: { sec: number; usec: number };
}

export type PayloadParts = Array<[key: string, value: string]>;

/**
 * The payload parts of a net event, in OpenSIPS's order: Protocol, the TLS fields
 * (client-subject, client-issuer, server-subject, server-issuer, master-key; each only when
 * known), Event, Status, Message. Empty values are left out, as `add_trace_data` does.
 */
export function netEventParts(ev: NetEvent): PayloadParts {
  const parts: PayloadParts = [['Protocol', ev.protocol]];
  const add = (k: string, v: string | undefined): void => {
    if (v) parts.push([k, v]);
  };
  if (ev.tls) {
    add('client-subject', ev.tls.clientSubject);
    add('client-issuer', ev.tls.clientIssuer);
    add('server-subject', ev.tls.serverSubject);
    add('server-issuer', ev.tls.serverIssuer);
    add('master-key', ev.tls.masterKey);
  }
  parts.push(['Event', ev.event], ['Status', ev.status]);
  add('Message', ev.message);
  return parts;
}

/**
 * The trace message of a net event: proto type 0x59, the protocol's IP proto id, src = remote,
 * dst = local (OpenSIPS's direction, for outbound connections too), correlation id = the cid in
 * decimal, the payload as named parts (the sink prints them HOMER5 or HOMER6).
 */
export function netTracePacket(ev: NetEvent): TracePacket {
  const tp: TracePacket = {
    protoType: NET_PROTO_TYPE,
    ipProto: NET_IP_PROTO[ev.protocol],
    src: { host: ev.remote.host, port: ev.remote.port },
    dst: { host: ev.local.host, port: ev.local.port },
    parts: netEventParts(ev),
    correlationId: BigInt.asUintN(64, ev.cid).toString(10),
  };
  if (ev.timestamp) tp.timestamp = ev.timestamp;
  return tp;
}

/** A SIP (or MSRP) message as traced: the raw bytes, its direction, the Call-ID as correlation. */
export interface MessageTrace {
  /** ip proto of the transport: 6 tcp, 22 tls... */
  ipProto: number;
  src: Endpoint;
  dst: Endpoint;
  payload: Buffer;
  /** the Call-ID (SIP) or the transaction/message id (MSRP); omitted when the message has none */
  correlationId?: string;
  protoType?: number;
  timestamp?: { sec: number; usec: number };
}

/** The trace message of a SIP message (tracer's `trace()`): proto type 1, Call-ID in chunk 0x11. */
export function messageTracePacket(m: MessageTrace): TracePacket {
  const tp: TracePacket = {
    protoType: m.protoType ?? SIP_PROTO_TYPE,
    ipProto: m.ipProto,
    src: { host: m.src.host, port: m.src.port },
    dst: { host: m.dst.host, port: m.dst.port },
    payload: m.payload,
  };
  if (m.correlationId) tp.correlationId = m.correlationId;
  if (m.timestamp) tp.timestamp = m.timestamp;
  return tp;
}

const ONELINE_ORDER = ['C', 'ST', 'L', 'O', 'OU', 'CN', 'emailAddress'];

/**
 * An X.509 name in OpenSSL's "oneline" form (`/C=RO/O=Example/CN=host`) from Node's
 * certificate subject/issuer object (`tls.PeerCertificate.subject`). Node's object loses the
 * original order, so the attributes go in the usual order (C, ST, L, O, OU, CN, emailAddress),
 * the rest after; multi-valued attributes repeat.
 */
export function x509Oneline(name: Readonly<Record<string, string | string[] | undefined>> | undefined): string | undefined {
  if (!name) return undefined;
  const keys = Object.keys(name);
  if (!keys.length) return undefined;
  const ordered = [...ONELINE_ORDER.filter((k) => keys.includes(k)), ...keys.filter((k) => !ONELINE_ORDER.includes(k))];
  let out = '';
  for (const k of ordered) {
    const v = name[k];
    if (v === undefined) continue;
    for (const one of Array.isArray(v) ? v : [v]) out += `/${k}=${one}`;
  }
  return out || undefined;
}
