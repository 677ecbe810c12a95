export * from './errors.js';
export { HeaderScanner, scanHeaders, MAX_CONTENT_LENGTH, type ScanResult } from './scanner.js';
export {
  headerEnd,
  parseStartLine,
  isSipStartLine,
  isResponse,
  parseHeaders,
  getHeader,
  splitCommas,
  parseVia,
  topVia,
  dialogIds,
  makeTag,
  buildResponse,
  type SipHeader,
  type StartLine,
  type ViaInfo,
  type DialogIds,
  type ExtraHeaders,
} from './headers.js';
export { replyTopVia, type ReplySource } from './reply.js';
