export * from './errors.js';
export * from './types.js';
export * from './module/contract.js';
export type * from './engine/types.js';
export { createEngine } from './engine/engine.js';
export { connectionIdShard } from './engine/table.js';
export { nofileLimit, openDescriptors, probeDescriptor } from './engine/fds.js';
export { CLOSE_REASON_CODES, closeCode, closeLevel, type CloseCount } from './engine/closes.js';
export { NOOP_LOGGER } from './engine/options.js';
export { parseSocketSpec, formatSocketSpec, formatAddress, normalizeHost, SocketSpecError, SOCKET_OPTIONS } from './address.js';
export {
  DEFAULT_PROFILE,
  makeProfile,
  keepaliveOn,
  profileFromOpenSips,
  profileFromGlobals,
  OPENSIPS_PROFILE_FIELDS,
  type OpenSipsProfileField,
  type OpenSipsProfileValues,
  type OpenSipsProfileGlobals,
  type OpenSipsProfileGlobalName,
} from './profile.js';
export { createStatsRegistry } from './stats.js';
export { LogLimiter, rateLimitedLogger, logSourceOf, OVERFLOW_KEY, type LogLimiterOptions, type LimitedLoggerOptions, type LogKeyOf } from './log-limit.js';
export {
  validateParams,
  defineModule,
  paramDefaults,
  writeParamSchema,
  writeOptionsOf,
  WRITE_DEFAULTS,
  type RawParam,
  type ParamValue,
  type ParamsOf,
  type WriteParamName,
  type WriteParamKey,
  type WriteParamDef,
  type WriteParamSchema,
  type WriteParams,
  type WriteParamDefaults,
  type WriteQuirks,
} from './module/params.js';
export { toTcpListEntry, tcpListJson, formatLocalTime, OPENSIPS_PROTOS, type TcpListEntry } from './module/tcp-list.js';
export { TapChannels, tap, subscribeTap, type TapConnEvent, type TapCloseEvent, type TapMessageEvent, type TapEvents, type TapSubscriber } from './tap.js';
