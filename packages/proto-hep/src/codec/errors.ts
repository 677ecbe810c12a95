import { brandError, ProtocolError } from '@x/core-conn';

/** Stable codes of @x/proto-hep. Test `err.code`, never the message. */
export const HepErrorCodes = {
  /** the bytes start neither with "HEP3" nor with a v1/v2 version byte (TCP: anything but "HEP3") */
  MAGIC: 'ERR_HEP_MAGIC',
  /** "HEP" followed by another version digit, or a v1/v2/v3 packet where that version is not accepted */
  VERSION: 'ERR_HEP_VERSION',
  /** v3 total length < 6, or a v1/v2 header length that is not 16 (IPv4) / 40 (IPv6) */
  LENGTH: 'ERR_HEP_LENGTH',
  /** a chunk length < 6, past the end of the packet, or not the exact size of a fixed-size chunk */
  CHUNK_LENGTH: 'ERR_HEP_CHUNK_LENGTH',
  /** fewer bytes than a header or the announced total length */
  TRUNCATED: 'ERR_HEP_TRUNCATED',
  /** a v3 packet with no payload chunk (0x000F / 0x0010) */
  NO_PAYLOAD: 'ERR_HEP_NO_PAYLOAD',
  /** a v1/v2 address family other than 2 (AF_INET) or 10 (AF_INET6) */
  FAMILY: 'ERR_HEP_FAMILY',
  /** encode: a packet that cannot be written (missing field, value out of range, > 65535 bytes) */
  INVALID: 'ERR_HEP_INVALID',
  /** a bad hep_id destination definition */
  BAD_HEP_ID: 'ERR_HEP_BAD_ID',
  /** `checkListeners()`: no hep_udp/hep_tcp socket at all, or a udp hep_id with no hep_udp socket to send from */
  NO_LISTENER: 'ERR_HEP_NO_LISTENER',
} as const;
export type HepErrorCode = (typeof HepErrorCodes)[keyof typeof HepErrorCodes];

/**
 * Every decode/encode failure. A ProtocolError so that a framer throwing it makes core-conn
 * close the connection.
 */
export class HepError extends ProtocolError {
  constructor(code: HepErrorCode, message: string) {
    super(code, message);
  }
}
brandError(HepError, '@x/proto-hep:HepError');
