/**
 * One trace message (OpenSIPS's trace_api message) a proto_hep destination (a `TraceSink` of
 * core-conn) takes: fixed HEP fields, a payload, a correlation.
 */
export interface TracePacket {
  /** HEP proto type (chunk 0x0B): 1 SIP, 0x59 net (transport events), ... */
  protoType: number;
  src: { host: string; port: number };
  dst: { host: string; port: number };
  /** chunk 0x02: 6 TCP, 17 UDP, 22 TLS/BINS, 50 WS/WSS */
  ipProto: number;
  timestamp?: { sec: number; usec: number };
  /**
   * When `timestamp` is absent: the capture time in ms since the epoch (a fraction keeps the
   * µs), as core-conn's tap events carry it; without either, the time of sending.
   */
  at?: number;
  /** the raw payload (a SIP message); ignored when `parts` is given */
  payload?: Buffer | string;
  /**
   * Named payload parts (OpenSIPS's add_payload_part), in order: the sink builds the payload in
   * its own HOMER mode (HOMER5: values joined by its delimiter; HOMER6: a JSON object).
   */
  parts?: ReadonlyArray<readonly [key: string, value: string]>;
  /** chunk 0x11 (a Call-ID, a connection's cid as a decimal string) */
  correlationId?: string;
}
