// Kamailio 5.6 configuration builders shared by the interop tests (through @x/test-peers) and the
// benches (as @x/test-peers/kamailio, plain ES module run without a build; types in kamailio.d.mts):
// the core header every test config starts with, the stateless OPTIONS responder (peers recipe
// (a)), optionally with siptrace (recipe 4(b)), and the benches' way to check and start it.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const LISTEN = /^(udp|tcp|tls|sctp|ws|wss):\S+:\d+$/;
const ALWAYS = ['pv', 'xlog'];

/**
 * The core header of a test's Kamailio config: `#!KAMAILIO`, debug, log to stderr, forked
 * workers (`children` UDP, `tcpChildren` TCP), no auto aliases, no SCTP, then `globals` (core
 * parameters, in order), the `listen` lines (in order), and the modules: pv and xlog always,
 * then `modules` (names without `.so`). Ends with a newline; modparams and routes follow it.
 */
export function kamailioCore({ listen, children = 1, tcpChildren = children, debug = 2, globals = {}, modules = [] }) {
  if (!Array.isArray(listen) || listen.length === 0) throw new Error('kamailioCore: listen needs at least one "proto:host:port"');
  for (const l of listen) {
    if (typeof l !== 'string' || !LISTEN.test(l)) throw new Error(`kamailioCore: listen "${String(l)}" is not "proto:host:port" (udp, tcp, tls, sctp, ws, wss)`);
  }
  for (const [k, n] of [['children', children], ['tcpChildren', tcpChildren], ['debug', debug]]) {
    if (!Number.isInteger(n)) throw new Error(`kamailioCore: ${k} must be an integer, got ${String(n)}`);
  }
  const mods = [...ALWAYS];
  for (const m of modules) {
    const name = String(m).replace(/\.so$/, '');
    if (mods.includes(name)) throw new Error(`kamailioCore: module ${name} listed twice (pv and xlog are always loaded)`);
    mods.push(name);
  }
  return [
    '#!KAMAILIO',
    `debug=${debug}`,
    'log_stderror=yes',
    'fork=yes',
    `children=${children}`,
    `tcp_children=${tcpChildren}`,
    'auto_aliases=no',
    'disable_sctp=yes',
    ...Object.entries(globals).map(([k, v]) => `${k}=${v}`),
    ...listen.map((l) => `listen=${l}`),
    '',
    ...mods.map((m) => `loadmodule "${m}.so"`),
    '',
  ].join('\n');
}

/**
 * siptrace's modparams (the config loads tm and siptrace): every SIP message in and out
 * (trace_mode 1: core events) mirrored as HEP `version` (default 3) to 127.0.0.1:port over
 * 'tcp' or 'udp', with `captureId` as its capture id when given (peers recipe 4(b)).
 */
export function kamailioSiptraceParams({ port, transport, version = 3, captureId }) {
  return [
    `modparam("siptrace", "duplicate_uri", "sip:127.0.0.1:${port};transport=${transport}")`,
    'modparam("siptrace", "hep_mode_on", 1)',
    `modparam("siptrace", "hep_version", ${version})`,
    ...(captureId !== undefined ? [`modparam("siptrace", "hep_capture_id", ${captureId})`] : []),
    'modparam("siptrace", "trace_on", 1)',
    'modparam("siptrace", "trace_to_database", 0)',
    'modparam("siptrace", "trace_mode", 1)',
    '',
  ].join('\n');
}

/** A request_route that answers every request but ACK statelessly `200 Fixed Reply` (sl); `logRequests` logs each one first. */
export function kamailioStatelessRoute({ logRequests = false } = {}) {
  return `request_route {
${logRequests ? '  xlog("L_INFO", "REQ $rm $ci from $si:$sp proto $pr\\n");\n' : ''}  if ($rm == "ACK") {
    exit;
  }
  sl_send_reply("200", "Fixed Reply");
  exit;
}
`;
}

/**
 * peers recipe (a): TCP and UDP on one port of `host` (127.0.0.1), every request but ACK
 * answered `200 Fixed Reply`. `load`: 4+4 workers, 16384 connections, lifetime 3605 (else 2+2,
 * 2048, 120). `siptrace`: kamailioSiptraceParams' options, every message mirrored as HEP.
 */
export function kamailioStatelessConfig({ port, host = '127.0.0.1', load = false, logRequests = false, debug = 2, siptrace }) {
  const core = kamailioCore({
    debug,
    children: load ? 4 : 2,
    tcpChildren: load ? 4 : 2,
    globals: { tcp_max_connections: load ? 16384 : 2048, tcp_connection_lifetime: load ? 3605 : 120, tcp_accept_no_cl: 'no' },
    listen: [`tcp:${host}:${port}`, `udp:${host}:${port}`],
    modules: ['sl', ...(siptrace ? ['tm', 'siptrace'] : [])],
  });
  return `${core}${siptrace ? kamailioSiptraceParams(siptrace) : ''}\n${kamailioStatelessRoute({ logRequests })}`;
}

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
 * The benches' responder: kamailioStatelessConfig under load, debug 1. `siptrace`: { port,
 * transport } mirrors every SIP message in and out as HEPv3 to 127.0.0.1:port over 'tcp' or 'udp'.
 */
export function kamailioConfig(port, { siptrace } = {}) {
  return kamailioStatelessConfig({ port, load: true, debug: 1, siptrace });
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
