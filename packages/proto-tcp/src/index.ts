export * from './codec/index.js';
export { SipFramer, createSipFramer, type SipFramerOptions } from './framer/framer.js';
export { protoTcpModule, protoTlsModule } from './module/module.js';
export { protoTcpParamSchema, tcpProtocolSpec, PROTO_TCP_DEFAULTS, SIP_MAX_MSG_BYTES, type ProtoTcpParams } from './module/params.js';
export { protoTlsParamSchema, tlsProtocolSpec, PROTO_TLS_DEFAULTS, type ProtoTlsParams } from './module/tls-params.js';
export { resolveParams, resolveTlsParams } from './module/resolve.js';
export { SipMessage } from './message.js';
export { createSipTcp, attachSipTcp, createSipTls, attachSipTls, parseTarget, type SipTcp, type SipTls, type SipStream, type SipTcpOptions, type SipTlsOptions, type SipTcpEvents, type SipTarget } from './sip-tcp.js';
export { protoTcpModule as default } from './module/module.js';
