import { brandError, ProtocolError } from '@x/core-conn';

/** Stable codes of @x/proto-bins. Test `err.code`, never the message. */
export const BinErrorCodes = {
  /** the bytes do not start with the "P4CK" marker */
  MARKER: 'ERR_BIN_MARKER',
  /** a total length field < 17 or > 65515 (BIN_MAX_BUF_LEN) */
  LENGTH: 'ERR_BIN_LENGTH',
  /** fewer bytes than the header or the announced total length */
  TRUNCATED: 'ERR_BIN_TRUNCATED',
  /** the capability name length does not fit the packet (OpenSIPS drops such a packet) */
  CAPABILITY: 'ERR_BIN_CAPABILITY',
  /** a reader popped past the end of the body (OpenSIPS: pop error) */
  OVERRUN: 'ERR_BIN_OVERRUN',
  /** a reader popped at exactly the end of the body (OpenSIPS: status 1, "no more data") */
  NO_MORE_DATA: 'ERR_BIN_NO_MORE_DATA',
  /** a builder would grow past 65515 bytes */
  TOO_BIG: 'ERR_BIN_TOO_BIG',
  /** encode/build: a value that cannot be written (int out of int32, string >= 65536 bytes, empty capability) */
  INVALID: 'ERR_BIN_INVALID',
  /** a clusterer packet whose fields do not parse as its type says */
  CLUSTERER: 'ERR_BIN_CLUSTERER',
  /** a bad clusterer node definition (my_node_info / neighbor_node_info) or node url */
  NODE_INFO: 'ERR_BIN_NODE_INFO',
} as const;
export type BinErrorCode = (typeof BinErrorCodes)[keyof typeof BinErrorCodes];

/**
 * Every decode/encode failure of a BIN packet. A ProtocolError so that a framer throwing it
 * makes core-conn close the connection.
 */
export class BinError extends ProtocolError {
  constructor(code: BinErrorCode, message: string) {
    super(code, message);
  }
}
brandError(BinError, '@x/proto-bins:BinError');
