import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, tempDir, writeFiles, xcheck } from './helpers.js';

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
listen = tcp:127.0.0.1
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
    ['bad socket', 'loadmodule "proto_tcp.so"\nsocket = tcp:127.0.0.1:99999\n', {}, (f) => `${f}:2:10: bad socket spec "tcp:127.0.0.1:99999": port 99999 is out of range`],
    ['protocol nobody serves', 'loadmodule "proto_tcp.so"\nsocket = msrp:127.0.0.1:2855\n', {}, (f) => `${f}:2:10: listeners found for protocol msrp, but no module can handle it`],
    ['route block', 'loadmodule "proto_tcp.so"\nroute {\n  sl_send_reply(200, "OK");\n}\n', {}, (f) => `${f}:2:1: "route" blocks are not supported`],
    ['proto_hep without a HEP socket', 'socket = tcp:127.0.0.1:5060\nloadmodule "proto_tcp.so"\nloadmodule "proto_hep.so"\n', {}, (f) => `${f}:3:1: proto_hep needs at least one hep_udp or hep_tcp socket`],
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
