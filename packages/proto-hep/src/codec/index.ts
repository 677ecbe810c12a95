export { decode, isHep3, type DecodeOptions } from './decode.js';
export { encode, encodeChunks } from './encode.js';
export { HepError, HepErrorCodes, type HepErrorCode } from './errors.js';
export { AF_INET, AF_INET6, ChunkType, ProtoType, type HepChunk, type HepPacket, type HepTimestamp } from './types.js';
export { buildHomer5Payload, buildHomer6Payload, buildCorrelation, cjsonPrint, type PayloadParts } from './payload.js';
export { writeTraceHep3, Hep3TraceEncoder, TRACE_UNENCODABLE, type Hep3TraceFields } from './trace.js';
