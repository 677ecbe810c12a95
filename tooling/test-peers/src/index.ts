export {
  startProcess,
  requireBinary,
  freePort,
  childPids,
  tcpListening,
  udpListening,
  runBounded,
  makeTempDir,
  FATAL_LOG,
  type StartOptions,
  type PeerProcess,
  type ExitInfo,
  type PortSpec,
} from './process.js';
export { writeKamailioConfig, writeKamailioTlsConfig, startKamailio, kamailioModuleDir, type KamailioOptions, type KamailioPeer, type KamailioRecipe } from './kamailio.js';
export {
  kamailioCore,
  kamailioSiptraceParams,
  kamailioStatelessRoute,
  kamailioStatelessConfig,
  type KamailioCoreOptions,
  type SiptraceOptions,
  type StatelessOptions,
} from '../bench/kamailio.mjs';
export {
  runSipp,
  startSippUas,
  parseSippStatCsv,
  OPTIONS_UAC_XML,
  OPTIONS_UAS_XML,
  type RunSippOptions,
  type SippStats,
  type SippUas,
  type SippUasOptions,
  type SippTransport,
} from './sipp.js';
export { capture, decode, decodeAsSip, malformedCount, countValues, FIELD_ARGS, type Capture, type CaptureOptions } from './tshark.js';
export { sipcaptureConfig, sipcaptureTcpFrontConfig, sipcaptureLogConfig, parseHepLog, SIP_CAPTURE_SCHEMA, type HepLogLine } from './sipcapture.js';
export { testCa, testCert, type CertSubject, type Pem, type TestCertOptions } from './pki.js';
