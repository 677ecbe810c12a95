import { join } from 'node:path';
import { freePort } from '@x/test-peers';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, startX, tempDir, writeFiles, xcheck, type Running } from './helpers.js';

const running: Running[] = [];
afterEach(() => {
  for (const r of running.splice(0)) r.kill();
});
beforeAll(() => {
  ensureBuilt();
});

/** mi-and-config.md §8, minus the modules @x does not have (proto_bins) */
const SEED_EXAMPLE = `socket = tcp:10.0.0.1:5060
socket = hep_udp:10.0.0.1:9060
tcp_connection_lifetime = 600
loadmodule "proto_tcp.so"
loadmodule "tls_openssl.so"
loadmodule "tls_mgm.so"
loadmodule "proto_hep.so"
loadmodule "httpd.so"
loadmodule "mi_http.so"
modparam("tls_mgm", "server_domain", "srv")
modparam("tls_mgm", "certificate", "[srv]/etc/opensips/tls/cert.pem")
modparam("tls_mgm", "private_key", "[srv]/etc/opensips/tls/key.pem")
modparam("tls_mgm", "ca_list", "[srv]/etc/opensips/tls/ca.pem")
modparam("tls_mgm", "client_domain", "cli")
modparam("tls_mgm", "certificate", "[cli]/etc/opensips/tls/cert.pem")
modparam("tls_mgm", "private_key", "[cli]/etc/opensips/tls/key.pem")
modparam("proto_hep", "hep_id", "[h1] 10.0.0.9:9060; transport=udp; version=3")
modparam("proto_tcp", "tcp_max_msg_chunks", 8)
`;

/** every core tcp_* global of sip-tcp.md §10 and every proto_tcp / proto_hep modparam of sip-tcp.md §10 and hep.md §1, as documented */
const REFERENCE_TABLES = `/* core */
tcp_workers = 8
tcp_threads = 2
tcp_connect_timeout = 100
tcp_connection_lifetime = 120
tcp_max_msg_time = 4
tcp_max_connections = 2048
tcp_socket_backlog = 10
tcp_accept_aliases = 0
tcp_keepalive = 1
tcp_keepcount = 0
tcp_keepidle = 0
tcp_keepinterval = 0
tcp_threshold = 0
tcpthreshold = 0
tcp_no_new_conn_bflag = TCP_NO_CONNECT
tcp_no_new_conn_rplflag = TCP_NO_CONNECT_RPL
log_level = 3
mpath = "/usr/lib/x86_64-linux-gnu/opensips/modules/"
socket = tcp:127.0.0.1:5060 as 203.0.113.5:5060 tag pub_tcp
listen = tcp:127.0.0.2
socket = hep_udp:127.0.0.1:9060
socket = hep_tcp:127.0.0.1
loadmodule "proto_tcp.so"
loadmodule "proto_hep.so"
// proto_tcp
modparam("proto_tcp", "tcp_port", 5060)
modparam("proto_tcp", "tcp_send_timeout", 100)
modparam("proto_tcp", "tcp_max_msg_chunks", 4)
modparam("proto_tcp", "tcp_crlf_pingpong", 1)
modparam("proto_tcp", "tcp_crlf_drop", 0)
modparam("proto_tcp", "tcp_async", 1)
modparam("proto_tcp", "tcp_async_max_postponed_chunks", 32)
modparam("proto_tcp", "tcp_async_local_write_timeout", 10)
modparam("proto_tcp", "trace_on", 0)
# proto_hep
modparam("proto_hep", "hep_port", 9060)
modparam("proto_hep", "hep_send_timeout", 100)
modparam("proto_hep", "hep_max_msg_chunks", 32)
modparam("proto_hep", "hep_async", 1)
modparam("proto_hep", "hep_async_max_postponed_chunks", 32)
modparam("proto_hep", "hep_async_local_write_timeout", 10)
modparam("proto_hep", "hep_capture_id", 1)
modparam("proto_hep", "compressed_payload", 0)
modparam("proto_hep", "hep_id", "[h1] 10.0.0.9:9060; transport=udp; version=3")
modparam("proto_hep", "homer5_on", 1)
modparam("proto_hep", "homer5_delim", ":")
modparam("proto_hep", "hep_max_retries", 5)
modparam("proto_hep", "hep_retry_cooldown", 3600)
modparam("proto_tcp", "trace_destination", "h1")
`;

/** every OpenSIPS 4.0 socket option (mi-and-config.md §6) and a bond over two lines; ports of 5 digits keep the columns */
const socketOptionsCfg = (p1: number, p2: number): string => `loadmodule "proto_tcp.so"
socket = tcp:127.0.0.1:${p1} as 203.0.113.5 use_workers 2 use_auto_scaling_profile PROF anycast frag reuse_port tos 184 tag pub
listen = "tcp:127.0.0.1:${p2} accept_subdomain proxy_protocol allow_proxy_protocol send_proxy_protocol"
socket = bond:ext { "tcp:127.0.0.1:${p1}",
                    "tcp:127.0.0.1:${p2}" }
`;

async function check(cfg: string, files: Record<string, string> = {}) {
  const dir = tempDir();
  writeFiles(dir, { 'x.cfg': cfg, ...files });
  const r = await xcheck(join(dir, 'x.cfg'));
  return { ...r, file: join(dir, 'x.cfg') };
}

describe('x-server -c', () => {
  it('accepts the seed example (sockets are not opened by a check)', async () => {
    const r = await check(SEED_EXAMPLE);
    expect(r.stderr).toBe('');
    expect(r).toMatchObject({ code: 0, stdout: 'config file ok, exiting (6 modules, 2 sockets)\n' });
  });

  it('accepts every core tcp_* global and every proto_tcp / proto_hep modparam of the reference tables', async () => {
    const r = await check(REFERENCE_TABLES);
    expect(r.stderr).toBe('');
    expect(r).toMatchObject({ code: 0, stdout: 'config file ok, exiting (2 modules, 4 sockets)\n' });
  });

  it('accepts every OpenSIPS 4.0 socket option and a bond, with one warning each naming file:line:col', async () => {
    const r = await check(socketOptionsCfg(15060, 15070));
    expect(r).toMatchObject({ code: 0, stdout: 'config file ok, exiting (1 modules, 2 sockets)\n' });
    expect(r.stderr.split('\n')).toEqual([
      `x-server: warning: ${r.file}:2:45: socket option "use_workers 2" accepted, has no effect in x-server: one Node.js process serves every socket from its event loop; there are no UDP worker processes`,
      `x-server: warning: ${r.file}:2:59: socket option "use_auto_scaling_profile PROF" accepted, has no effect in x-server: one Node.js process serves every socket; there are no worker processes to auto-scale`,
      `x-server: warning: ${r.file}:2:89: socket option "anycast" accepted, has no effect in x-server: there is no clustered transaction layer to make use of an anycast socket`,
      `x-server: warning: ${r.file}:2:97: socket option "frag" accepted, has no effect in x-server: Node.js cannot change the DF bit / path-MTU discovery (IP_MTU_DISCOVER) of a UDP socket`,
      `x-server: warning: ${r.file}:2:102: socket option "reuse_port" accepted, has no effect in x-server: Node.js 20 cannot set SO_REUSEPORT (net.Server.listen's reusePort exists from Node 22.12 / 23.1, dgram has reuseAddr only); the socket is bound without it`,
      `x-server: warning: ${r.file}:2:113: socket option "tos 184" accepted, has no effect in x-server: Node.js has no API to set IP_TOS on net or dgram sockets; packets keep the system default TOS`,
      `x-server: warning: ${r.file}:3:31: socket option "accept_subdomain" accepted, has no effect in x-server: x-server has no "myself" (is-local domain) check: routing is the JavaScript route script`,
      `x-server: warning: ${r.file}:3:48: socket option "proxy_protocol" accepted, has no effect in x-server: no PROXY protocol header is parsed: a connection that starts with one fails framing`,
      `x-server: warning: ${r.file}:3:63: socket option "allow_proxy_protocol" accepted, has no effect in x-server: no PROXY protocol header is parsed: a connection that starts with one fails framing`,
      `x-server: warning: ${r.file}:3:84: socket option "send_proxy_protocol" accepted, has no effect in x-server: no PROXY protocol header is sent on outgoing connections`,
      `x-server: warning: ${r.file}:4:15: socket bond "ext" accepted, has no effect in x-server: there is no outbound socket selection by bond (its 2 member socket(s) listen as declared)`,
      '',
    ]);
  });

  it('starts with those options: the sockets listen, and each warning is logged once at start-up', async () => {
    const dir = tempDir();
    const p1 = await freePort([14000, 15999]);
    let p2 = p1;
    while (p2 === p1) p2 = await freePort([14000, 15999]);
    writeFiles(dir, { 'x.cfg': socketOptionsCfg(p1, p2) });
    const x = await startX(join(dir, 'x.cfg'));
    running.push(x);
    const warns = x.lines.filter((l) => l.level === 40).map((l) => l.msg);
    expect(warns).toHaveLength(11);
    expect(new Set(warns).size).toBe(11);
    expect(warns[4]).toBe(`${join(dir, 'x.cfg')}:2:102: socket option "reuse_port" accepted, has no effect in x-server: Node.js 20 cannot set SO_REUSEPORT (net.Server.listen's reusePort exists from Node 22.12 / 23.1, dgram has reuseAddr only); the socket is bound without it`);
    expect(warns[10]).toMatch(/:4:15: socket bond "ext" accepted, has no effect in x-server/);
    expect(x.lines.filter((l) => l.msg.startsWith('listening on ')).map((l) => l.msg)).toEqual([`listening on tcp:127.0.0.1:${p1}`, `listening on tcp:127.0.0.1:${p2}`]);
    x.child.kill('SIGTERM');
    expect((await x.exited).code).toBe(0);
  });

  it('a TypeScript route script loads where Node strips types, else the error says what to do', async () => {
    const r = await check('route_script = "./routes.ts"\nloadmodule "proto_tcp.so"\n', {
      'routes.ts': 'import type { SipRequestContext } from "@x/server";\nexport function request(ctx: SipRequestContext): Promise<void> { return ctx.reply(200, "OK"); }\n',
    });
    const strips = Boolean((process.features as { typescript?: unknown }).typescript);
    if (strips) {
      expect([r.code, r.stderr]).toEqual([0, '']);
    } else {
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(`x-server: ${r.file}:1:16: route_script "${r.file.replace(/x\.cfg$/, 'routes.ts')}" is TypeScript, which Node ${process.version} cannot import: run x-server on a Node that strips types (>= 22.18 or >= 23.6), or compile the script to .mjs (its context types: import type { SipRequestContext } from '@x/server')\n`);
    }
  });

  it.each<[string, string, Record<string, string>, (f: string) => string]>([
    ['unknown module', 'loadmodule "proto_tcp.so"\nloadmodule "dialog.so"\n', {}, (f) => `${f}:2:12: unknown module "dialog"`],
    ['unknown param', 'loadmodule "proto_tcp.so"\nmodparam("proto_tcp", "tcp_max_msg_chunkz", 8)\n', {}, (f) => `${f}:2:23: unknown parameter "tcp_max_msg_chunkz" for module "proto_tcp"`],
    ['wrong type', 'loadmodule "proto_tcp.so"\nmodparam("proto_tcp", "tcp_max_msg_chunks", "eight")\n', {}, (f) => `${f}:2:45: proto_tcp: parameter "tcp_max_msg_chunks" expects an integer`],
    ['bad socket', 'loadmodule "proto_tcp.so"\nsocket = tcp:127.0.0.1:99999\n', {}, (f) => `${f}:2:24: bad socket spec "tcp:127.0.0.1:99999": port 99999 is out of range`],
    ['bad use_workers', 'loadmodule "proto_tcp.so"\nsocket = tcp:127.0.0.1 use_workers -1\n', {}, (f) => `${f}:2:36: bad socket spec "tcp:127.0.0.1 use_workers -1": "use_workers" needs a positive integer, found "-1"`],
    ['bad tos', 'loadmodule "proto_tcp.so"\nsocket = tcp:127.0.0.1 tos 0x1ff\n', {}, (f) => `${f}:2:28: bad socket spec "tcp:127.0.0.1 tos 0x1ff": "tos" needs an integer 0..255`],
    ['unknown socket option', 'loadmodule "proto_tcp.so"\nsocket = tcp:127.0.0.1 reuseport\n', {}, (f) => `${f}:2:24: bad socket spec "tcp:127.0.0.1 reuseport": unknown option "reuseport" (expected as host[:port], tag name, use_workers N,`],
    ['bond member with no socket of its own', 'loadmodule "proto_tcp.so"\nsocket = tcp:127.0.0.1\nsocket = bond:b { "tcp:127.0.0.1:5099" }\n', {}, (f) => `${f}:3:19: bond:b member "tcp:127.0.0.1:5099" is not a declared socket`],
    ['protocol nobody serves', 'loadmodule "proto_tcp.so"\nsocket = msrp:127.0.0.1:2855\n', {}, (f) => `${f}:2:10: listeners found for protocol msrp, but no module can handle it`],
    ['route block', 'loadmodule "proto_tcp.so"\nroute {\n  sl_send_reply(200, "OK");\n}\n', {}, (f) => `${f}:2:1: "route" blocks are not supported`],
    ['proto_hep without a HEP socket', 'socket = tcp:127.0.0.1:5060\nloadmodule "proto_tcp.so"\nloadmodule "proto_hep.so"\n', {}, (f) => `${f}:3:1: proto_hep: needs at least one hep_udp or hep_tcp socket`],
    ['route named by a modparam but not exported', 'route_script = "./r.mjs"\nloadmodule "proto_tcp.so"\nmodparam("proto_tcp", "trace_filter_route", "tf")\n', { 'r.mjs': 'export function request() {}' }, (f) => `${f}:3:45: proto_tcp: parameter "trace_filter_route" names route "tf", which the route script does not export (exports: request)`],
    ['route script that does not load', 'loadmodule "proto_tcp.so"\n  route_script = "./r.mjs"\n', { 'r.mjs': 'export function request( {' }, (f) => `${f}:2:18: route_script "${f.replace(/x\.cfg$/, 'r.mjs')}" cannot be loaded: `],
    ['error inside an included file', 'include_file "more.cfg"\n', { 'more.cfg': '\n\ntcp_keepalive = "maybe"\n' }, (f) => `${f.replace(/x\.cfg$/, 'more.cfg')}:3:17: core: parameter "tcp_keepalive" expects 0 or 1, got "maybe"`],
  ])('rejects %s with file:line:col', async (_n, cfg, files, want) => {
    const r = await check(cfg, files);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr.startsWith(`x-server: ${want(r.file)}`), r.stderr).toBe(true);
  });
});
