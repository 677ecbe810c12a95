export * from './codec/index.js';
export { SipFramer, createSipFramer, type SipFramerOptions } from './framer/framer.js';
export { protoTcpModule } from './module/module.js';
export { protoTcpParamSchema, tcpProtocolSpec, PROTO_TCP_DEFAULTS, SIP_MAX_MSG_BYTES, type ProtoTcpParams } from './module/params.js';
export { resolveParams } from './module/resolve.js';
export { SipMessage } from './message.js';
export { createSipTcp, attachSipTcp, parseTarget, type SipTcp, type SipTcpOptions, type SipTcpEvents, type SipTarget } from './sip-tcp.js';
export { protoTcpModule as default } from './module/module.js';
