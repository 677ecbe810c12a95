export {
  NET_PROTO_TYPE,
  SIP_PROTO_TYPE,
  MSRP_PROTO_TYPE,
  NET_IP_PROTO,
  NET_PROTOCOL_OF,
  NET_TEXT,
  netEventParts,
  netTracePacket,
  messageTracePacket,
  x509Oneline,
  type NetProtocol,
  type NetEventKind,
  type NetStatus,
  type NetEvent,
  type Endpoint,
  type TlsHandshakeInfo,
  type PayloadParts,
  type MessageTrace,
} from './events.js';
export { TraceSwitch, traceMiCommand, type TracedModule } from './switch.js';
export {
  createTracing,
  checkTraceDestinations,
  isTracedModule,
  tlsInfoOf,
  MESSAGE_FAMILY,
  FOLLOW_MAX,
  type Tracing,
  type TracingOptions,
  type ModuleTraceConfig,
  type SinkLookup,
  type TracedConnection,
} from './tracer.js';
export { attachTracing } from './tap.js';
export { sipCallId, msrpTransactionId } from './correlate.js';
export { tracingModule } from './module.js';
export { TracingError, TracingErrorCodes, type TracingErrorCode } from './errors.js';
