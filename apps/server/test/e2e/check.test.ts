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

  it.each<[string, string, Record<string, string>, (f: string) => string]>([
    ['unknown module', 'loadmodule "proto_tcp.so"\nloadmodule "dialog.so"\n', {}, (f) => `${f}:2:12: unknown module "dialog"`],
    ['unknown param', 'loadmodule "proto_tcp.so"\nmodparam("proto_tcp", "tcp_max_msg_chunkz", 8)\n', {}, (f) => `${f}:2:23: unknown parameter "tcp_max_msg_chunkz" for module "proto_tcp"`],
    ['wrong type', 'loadmodule "proto_tcp.so"\nmodparam("proto_tcp", "tcp_max_msg_chunks", "eight")\n', {}, (f) => `${f}:2:45: proto_tcp: parameter "tcp_max_msg_chunks" expects an integer`],
    ['bad socket', 'loadmodule "proto_tcp.so"\nsocket = tcp:127.0.0.1:99999\n', {}, (f) => `${f}:2:10: bad socket spec "tcp:127.0.0.1:99999": port 99999 is out of range`],
    ['protocol nobody serves', 'loadmodule "proto_tcp.so"\nsocket = msrp:127.0.0.1:2855\n', {}, (f) => `${f}:2:10: listeners found for protocol msrp, but no module can handle it`],
    ['route block', 'loadmodule "proto_tcp.so"\nroute {\n  sl_send_reply(200, "OK");\n}\n', {}, (f) => `${f}:2:1: "route" blocks are not supported`],
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
