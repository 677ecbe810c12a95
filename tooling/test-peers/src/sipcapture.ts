// Kamailio 5.6's sipcapture as a HEP collector storing into SQLite (peers.md §4(c)): its
// configurations and the sip_capture table. The tests start it with startKamailio and create
// the table with sqlite3.
import { kamailioCore } from '../bench/kamailio.mjs';

/** peers.md §4(c): Kamailio sipcapture storing HEP into SQLite, one worker. */
export function sipcaptureConfig(port: number, dbFile: string): string {
  return `${kamailioCore({ listen: [`udp:127.0.0.1:${port}`, `tcp:127.0.0.1:${port}`], modules: ['db_sqlite', 'sipcapture'] })}
${sipcaptureParams(dbFile, 0)}modparam("sipcapture", "capture_node", "kamcap")
modparam("sipcapture", "capture_bad_msgs", 1)
modparam("sipcapture", "insert_retries", 200)
modparam("sipcapture", "insert_retry_timeout", 5)

request_route {
  sip_capture();
  drop;
}
onreply_route {
  sip_capture();
  drop;
}
`;
}

/** sipcapture's modparams every config here shares: the SQLite table, SIP and HEP capture on, `nonsip_hook` */
function sipcaptureParams(dbFile: string, nonsipHook: 0 | 1): string {
  return `modparam("sipcapture", "db_url", "sqlite:///${dbFile}")
modparam("sipcapture", "table_name", "sip_capture")
modparam("sipcapture", "capture_on", 1)
modparam("sipcapture", "hep_capture_on", 1)
modparam("sipcapture", "nonsip_hook", ${nonsipHook})
`;
}

/**
 * The head of a sipcapture that receives HEP over UDP and TCP (tcp_accept_hep3) on `port` and
 * hands every packet to event_route[sipcapture:request] (nonsip_hook); the module needs a
 * database even though such an instance stores nothing.
 */
function hepHookHead(port: number, dbFile: string): string {
  const core = kamailioCore({
    globals: { tcp_accept_hep3: 'yes', tcp_accept_no_cl: 'yes' },
    // sip_capture_forward (sipcaptureTcpFrontConfig) sends from the udp socket
    listen: [`udp:127.0.0.1:${port}`, `tcp:127.0.0.1:${port}`],
    modules: ['db_sqlite', 'sipcapture'],
  });
  return `${core}\n${sipcaptureParams(dbFile, 1)}`;
}

/**
 * peers.md §4(c) "HEP over TCP": Kamailio 5.6 frames HEP3 on TCP (tcp_accept_hep3) but only
 * hands it to event_route[sipcapture:request]; this front logs the HEP fields it decoded and
 * relays the packet unchanged over UDP to the storing instance.
 */
export function sipcaptureTcpFrontConfig(port: number, storePort: number, dbFile: string): string {
  return `${hepHookHead(port, dbFile)}
event_route[sipcapture:request] {
  xlog("L_INFO", "HEPTCP version=$hep(version) capture=$hep(0x00c) src=$hep(0x003):$hep(0x007) dst=$hep(0x004):$hep(0x008) corr=$hep(0x011)\n");
  sip_capture_forward("sip:127.0.0.1:${storePort};transport=udp");
  drop;
}

request_route {
  drop;
}
`;
}

const COLS = [
  'date', 'micro_ts', 'method', 'reply_reason', 'ruri', 'ruri_user', 'ruri_domain', 'from_user', 'from_domain', 'from_tag',
  'to_user', 'to_domain', 'to_tag', 'pid_user', 'contact_user', 'auth_user', 'callid', 'callid_aleg', 'via_1', 'via_1_branch',
  'cseq', 'diversion', 'reason', 'content_type', 'auth', 'user_agent', 'source_ip', 'source_port', 'destination_ip',
  'destination_port', 'contact_ip', 'contact_port', 'originator_ip', 'originator_port', 'correlation_id', 'custom_field1',
  'custom_field2', 'custom_field3', 'proto', 'family', 'rtp_stat', 'type', 'node', 'msg',
];

/** The sip_capture table, every column nullable (NULLs are inserted), WAL journal. */
export const SIP_CAPTURE_SCHEMA = `PRAGMA journal_mode=WAL;
CREATE TABLE sip_capture (id INTEGER PRIMARY KEY AUTOINCREMENT, ${COLS.map((c) => `${c} ${c === 'msg' ? 'TEXT' : c.endsWith('_port') || ['micro_ts', 'proto', 'family', 'type'].includes(c) ? 'INTEGER' : 'TEXT'} DEFAULT NULL`).join(', ')});
`;

/**
 * Kamailio 5.6 sipcapture as a HEP receiver that logs every packet it gets and stores nothing:
 * with `nonsip_hook` the whole HEP packet, over UDP or TCP (`tcp_accept_hep3`), reaches
 * event_route[sipcapture:request] before any SIP parsing, which logs the fields sipcapture
 * decoded (`$hep(...)`) and the payload in base64, one line per packet (`parseHepLog`).
 *
 * For what `sip_capture()` cannot store: sipcapture hands every payload whose proto type is not
 * 5, 32, 99 or 100 to Kamailio's SIP parser (hep.c `receive_msg`), so a transport event (proto
 * type 0x59, `TCP:ACCEPTED:...`) fails at the first line and an MSRP message is read as a non-SIP
 * request; neither reaches a route nor a row.
 */
export function sipcaptureLogConfig(port: number, dbFile: string): string {
  return `${hepHookHead(port, dbFile)}
event_route[sipcapture:request] {
  xlog("L_INFO", "HEPLOG v=$hep(version) type=$hep(0x00b) ipproto=$hep(0x002) capture=$hep(0x00c) src=$hep(0x003):$hep(0x007) dst=$hep(0x004):$hep(0x008) corr=$hep(0x011) payload=$(hep(0x00f){s.encode.base64})\\n");
  drop;
}

request_route {
  drop;
}
`;
}

/** One packet as sipcaptureLogConfig's Kamailio logged it. */
export interface HepLogLine {
  version: number;
  protoType: number;
  ipProto: number;
  captureId: number;
  srcIp: string;
  srcPort: number;
  dstIp: string;
  dstPort: number;
  correlationId: string;
  payload: Buffer;
}

/** The packets in a sipcaptureLogConfig Kamailio's log, in the order it logged them. */
export function parseHepLog(log: string): HepLogLine[] {
  const out: HepLogLine[] = [];
  const re = /HEPLOG v=(\d+) type=(\d+) ipproto=(\d+) capture=(\d+) src=([^ ]*):(\d+) dst=([^ ]*):(\d+) corr=(\S*) payload=(\S*)/g;
  for (const m of log.matchAll(re)) {
    out.push({
      version: Number(m[1]),
      protoType: Number(m[2]),
      ipProto: Number(m[3]),
      captureId: Number(m[4]),
      srcIp: m[5]!,
      srcPort: Number(m[6]),
      dstIp: m[7]!,
      dstPort: Number(m[8]),
      correlationId: m[9] === '<null>' ? '' : m[9]!,
      payload: Buffer.from(m[10]!, 'base64'),
    });
  }
  return out;
}
