export * from './codec/index.js';
export { TransactionTable, type Transaction, type TransactionTableOptions, type NewTransaction } from './transactions.js';
export { MsrpFramer, type MsrpFramerOptions } from './framer/framer.js';
export {
  attachMsrp,
  certMatches,
  MSRP_FLOW_HIGH,
  MSRP_FLOW_LOW,
  MsrpApiError,
  MsrpApiErrorCodes,
  type MsrpApi,
  type MsrpReceived,
  type MsrpBodyStream,
  type MsrpHandle,
  type MsrpHandlerFilter,
  type MsrpRequestHandler,
  type MsrpReplyHandler,
  type SendRequestOptions,
  type ForwardOptions,
  type TransData,
  type AttachMsrpOptions,
} from './msrp.js';
export { globToRegExp } from './glob.js';
export { protoMsrpParamSchema, PROTO_MSRP_DEFAULTS, MSRP_MAX_HEAD, MSRP_MAX_BODY, MSRP_MAX_QUEUED_BYTES, msrpSpec, msrpsSpec, type ProtoMsrpParams } from './module/params.js';
export { protoMsrpModule } from './module/module.js';
export {
  attachRelay,
  parseMyUri,
  uriMatches,
  parseDigest,
  type MsrpRelay,
  type MsrpRelayParams,
  type MsrpAuthContext,
  type MsrpAuthCallback,
  type MsrpSession,
} from './relay/relay.js';
export { msrpRelayModule, msrpRelayParamSchema } from './relay/module.js';
export { digestAuthorization } from './relay/digest.js';
