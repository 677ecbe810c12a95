/** One HEPv3 chunk as found on the wire (data excludes the 6-byte chunk header). */
export interface HepChunk {
  vendor: number;
  type: number;
  data: Buffer;
}

export interface HepTimestamp {
  sec: number;
  usec: number;
}

/**
 * A HEP packet of any version. Decoding fills what the packet carries; encoding writes what
 * is set. When `chunks` is present (every decoded v3 packet has it), `encode` writes exactly
 * those chunks in that order (byte-exact re-encoding); delete it to encode from the fields.
 */
export interface HepPacket {
  version: 1 | 2 | 3;
  /** 2 = AF_INET, 10 = AF_INET6 */
  family?: number;
  /** IP protocol id: 17 UDP, 6 TCP, 22 TLS (fake), 50 WS (fake), 132 SCTP */
  ipProto?: number;
  srcIp?: string;
  dstIp?: string;
  srcPort?: number;
  dstPort?: number;
  timestamp?: HepTimestamp;
  /** proto type (chunk 0x000B): 1 SIP, 5 RTCP, 100 log, 0x57 mi, 0x58 rest, 0x59 net, 0x60 control */
  protoType?: number;
  /** capture agent id: 32-bit in v3, 16-bit in v2 */
  captureId?: number;
  /** chunk 0x000D (uint16) */
  keepAliveTimer?: number;
  /** chunk 0x000E */
  authKey?: string;
  /** captured payload, never converted */
  payload: Buffer;
  /** true: the payload travels in chunk 0x0010 (compressed payload) */
  compressed?: boolean;
  /** chunk 0x0011 */
  correlationId?: string;
  /** chunk 0x0012 (uint16) */
  vlan?: number;
  /** chunk 0x0013 */
  nodeName?: string;
  /** chunk 101 (vendor 0): HOMER6 extra correlation JSON */
  extraCorrelation?: string;
  /** chunks with no field above (vendor chunks, unknown ids), in wire order */
  vendorChunks?: HepChunk[];
  /** v3: every chunk as received, in order; authoritative for `encode` when present */
  chunks?: HepChunk[];
  /** v2 only: the time block is 10 bytes (packed) or 12 (C struct padding, what Kamailio sends). Default 12. */
  v2TimeBlockLength?: 10 | 12;
}

export const ChunkType = {
  IP_FAMILY: 0x01,
  IP_PROTO: 0x02,
  IPV4_SRC: 0x03,
  IPV4_DST: 0x04,
  IPV6_SRC: 0x05,
  IPV6_DST: 0x06,
  SRC_PORT: 0x07,
  DST_PORT: 0x08,
  TS_SEC: 0x09,
  TS_USEC: 0x0a,
  PROTO_TYPE: 0x0b,
  CAPTURE_ID: 0x0c,
  KEEPALIVE: 0x0d,
  AUTH_KEY: 0x0e,
  PAYLOAD: 0x0f,
  COMPRESSED_PAYLOAD: 0x10,
  CORRELATION_ID: 0x11,
  VLAN: 0x12,
  NODE_NAME: 0x13,
  EXTRA_CORRELATION: 101,
} as const;

/** Proto type ids (chunk 0x000B) used by OpenSIPS. */
export const ProtoType = { SIP: 0x01, RTCP: 0x05, XLOG: 0x64, MI: 0x57, REST: 0x58, NET: 0x59, CONTROL: 0x60 } as const;

export const AF_INET = 2;
export const AF_INET6 = 10;
