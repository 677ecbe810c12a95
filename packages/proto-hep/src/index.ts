export * from './codec/index.js';
export { HepFramer } from './framer/framer.js';
export { parseHepId, missingHepSocket, type HepDestination } from './hep-id.js';
export { packHep, nowTimestamp, timestampOf, transportOfIpProto, IP_PROTO_OF, type PackHepOptions, type HepEndpoint } from './pack.js';
export { HepSender, HEP_SENDER_SLAB, type HepSenderOptions, type HepSenderStats, type HepTransmit, type HepDatagramTransmit, type HepPacketWriter } from './sender.js';
export {
  attachHep,
  HEP_SCRIPT_SKIP,
  HEP_MAX_INFLATED_BYTES,
  type HepApi,
  type HepCallback,
  type HepReceived,
  type HepResult,
  type AttachHepOptions,
} from './hep.js';
export {
  protoHepParamSchema,
  PROTO_HEP_DEFAULTS,
  HEP_DEST_DEFAULT_PORT,
  MIN_DATAGRAM,
  hepUdpSpec,
  hepTcpSpec,
  type ProtoHepParams,
} from './module/params.js';
export { protoHepModule } from './module/module.js';
export type { TracePacket } from './trace-packet.js';
