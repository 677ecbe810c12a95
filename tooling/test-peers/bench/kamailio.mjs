// Kamailio 5.6 stateless OPTIONS responder for the benches (peers recipe (a)), optionally with siptrace (recipe 4(b)), written and started by the bench.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export function kamailioAvailable() {
  try { execFileSync('kamailio', ['-v'], { stdio: 'ignore' }); return true; } catch { return false; }
}

function moduleDir() {
  const help = execFileSync('kamailio', ['-h'], { encoding: 'utf8' });
  const m = /-L path\s+Modules search path \(default: ([^)]+)\)/.exec(help);
  if (!m) throw new Error('cannot find the Kamailio module dir in `kamailio -h`');
  return m[1];
}

/**
 * `siptrace`: { port, transport } mirrors every SIP message in and out (siptrace trace_mode 1:
 * core events) as HEPv3 to 127.0.0.1:port over 'tcp' or 'udp' (peers recipe 4(b)).
 */
export function kamailioConfig(port, { siptrace } = {}) {
  const trace = siptrace
    ? `loadmodule "tm.so"
loadmodule "siptrace.so"
modparam("siptrace", "duplicate_uri", "sip:127.0.0.1:${siptrace.port};transport=${siptrace.transport}")
modparam("siptrace", "hep_mode_on", 1)
modparam("siptrace", "hep_version", 3)
modparam("siptrace", "trace_on", 1)
modparam("siptrace", "trace_to_database", 0)
modparam("siptrace", "trace_mode", 1)
`
    : '';
  return `#!KAMAILIO
debug=1
log_stderror=yes
fork=yes
children=4
tcp_children=4
auto_aliases=no
disable_sctp=yes
listen=tcp:127.0.0.1:${port}
listen=udp:127.0.0.1:${port}
tcp_max_connections=16384
tcp_connection_lifetime=3605
tcp_accept_no_cl=no

loadmodule "pv.so"
loadmodule "xlog.so"
loadmodule "sl.so"
${trace}
request_route {
  if ($rm == "ACK") { exit; }
  sl_send_reply("200", "Fixed Reply");
  exit;
}
`;
}

/** Writes the config into dir, checks it with `kamailio -c`, returns the argv to run it. `opts`: kamailioConfig's. */
export function kamailioArgs(dir, port, opts) {
  const cfg = join(dir, 'kamailio.cfg');
  const run = join(dir, 'run');
  mkdirSync(run, { recursive: true });
  writeFileSync(cfg, kamailioConfig(port, opts));
  const L = moduleDir();
  execFileSync('kamailio', ['-c', '-f', cfg, '-L', L], { stdio: 'pipe' });
  return ['-f', cfg, '-L', L, '-DD', '-E', '-Y', run, '-P', join(run, 'k.pid'), '-w', dir, '-m', '64', '-M', '8'];
}
