export * from './errors.js';
// the public codec API (documented in the README); the framer's internals stay inside the package
export { HeaderScanner, scanHeaders, type ScanResult } from './scanner.js';
export {
  headerEnd,
  parseStartLine,
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
export type { ReplySource } from './reply.js';
