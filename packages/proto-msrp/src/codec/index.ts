export { decode, decodeAll, type DecodeOptions } from './decode.js';
export { encode, encodeHeadText, endLine, headerLine } from './encode.js';
export { MsrpError, MsrpErrorCodes, type MsrpErrorCode } from './errors.js';
export { parseHead, parseHeaderLine, methodId, SINGLE_HEADERS, MAX_TID_LENGTH } from './head.js';
export { MsrpParser, type MsrpParserSink, type MsrpParserOptions } from './parser.js';
export { parseUrl, parsePath, topUrl, formatUrl } from './url.js';
export { parseByteRange, formatByteRange, parseStatus, formatStatus, parseExpires } from './values.js';
export { getHeader, msgMethodId, toPath, fromPath, byteRange, status, expires } from './message.js';
export { buildTid, parseTid, reverseHex, parseReverseHex, coreHash, md5Strings, TID_HASH_SIZE, TID_SLOTS, TID_MAX_LENGTH } from './tid.js';
export type {
  ContinuationFlag,
  MsrpMethodId,
  MsrpHeader,
  MsrpRequest,
  MsrpResponse,
  MsrpMessage,
  ByteRange,
  MsrpStatus,
  MsrpUrl,
} from './types.js';
