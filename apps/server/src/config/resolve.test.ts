import { describe, expect, it } from 'vitest';
import { CfgError } from '../errors.js';
import { fakeImporter } from './fixtures.test-helpers.js';
import { parseCfg } from './parser.js';
import { moduleMatches, resolveConfig } from './resolve.js';

const load = (text: string) => resolveConfig(parseCfg(text, '/etc/x/a.cfg'), { importer: fakeImporter });

async function err(text: string): Promise<CfgError> {
  try {
    await load(text);
  } catch (e) {
    expect(e).toBeInstanceOf(CfgError);
    return e as CfgError;
  }
  throw new Error('expected a CfgError');
}

describe('modparam module regex (OpenSIPS: whole name, case-insensitive)', () => {
  it.each([
    ['proto_tcp', 'proto_tcp', true],
    ['PROTO_TCP', 'proto_tcp', true],
    ['proto_.*', 'proto_tcp', true],
    ['proto_.*', 'proto_hep', true],
    ['proto', 'proto_tcp', false],
    ['tcp', 'proto_tcp', false],
    ['proto_(tcp|hep)', 'proto_hep', true],
    ['proto_t', 'proto_tcp', false],
    ['.*_tcp|httpd', 'httpd', true],
  ])('%s vs %s -> %s', (re, name, want) => {
    expect(moduleMatches(re, name)).toBe(want);
  });

  it('sets a param on every matching module', async () => {
    const r = await load('socket = hep_tcp:127.0.0.1\nloadmodule "proto_tcp.so"\nloadmodule "proto_hep.so"\nmodparam("proto_.*", "trace_on", 1)\nmodparam("proto_tcp", "tcp_max_msg_chunks", 9)\nmodparam("PROTO_HEP", "hep_id", "[a] 1.2.3.4:9060")\nmodparam("proto_hep", "hep_id", "[b] 1.2.3.4:9061")');
    expect(r.modules.map((m) => [m.loaded.name, m.params])).toEqual([
      ['proto_tcp', { trace_on: 1, tcp_max_msg_chunks: 9, tcp_port: 5060, tcp_async: true }],
      ['proto_hep', { trace_on: 1, hep_id: ['[a] 1.2.3.4:9060', '[b] 1.2.3.4:9061'], hep_port: 9060 }],
    ]);
  });

  it('as OpenSIPS, every module the regex matches must have the param', async () => {
    const e = await err('loadmodule "proto_tcp.so"\nloadmodule "proto_hep.so"\nmodparam("proto_.*", "tcp_max_msg_chunks", 9)');
    expect(e.code).toBe('ERR_CFG_UNKNOWN_PARAM');
    expect(e.errors[0]!.message).toBe('/etc/x/a.cfg:3:22: unknown parameter "tcp_max_msg_chunks" for module "proto_hep" (matched by "proto_.*") (known: hep_id, hep_port, trace_on)');
  });
});

describe('modparam("proto_tls", "bins_…"): the spelling of OpenSIPS\'s proto_bins documentation', () => {
  const real = (text: string) => resolveConfig(parseCfg(text, '/etc/x/a.cfg'));
  const bins = 'socket = bins:127.0.0.1\nloadmodule "tls_mgm.so"\nloadmodule "proto_bins.so"\n';

  it('sets proto_bins\'s parameter, with a note, and leaves proto_tls alone', async () => {
    const r = await real(`${bins}loadmodule "proto_tls.so"\nmodparam("proto_tls", "bins_handshake_timeout", 250)\nmodparam("PROTO_TLS", "bins_port", 5566)\nmodparam("proto_bins", "bins_max_msg_chunks", 8)\nmodparam("proto_tls", "tls_port", 5071)`);
    const params = (name: string) => r.modules.find((m) => m.loaded.name === name)!.params;
    expect(params('proto_bins')).toMatchObject({ bins_handshake_timeout: 250, bins_port: 5566, bins_max_msg_chunks: 8 });
    expect(params('proto_tls')).toMatchObject({ tls_port: 5071 });
    expect(params('proto_tls')).not.toHaveProperty('bins_port');
    expect(r.notes).toContain('/etc/x/a.cfg:5:1: modparam("proto_tls", "bins_handshake_timeout") sets proto_bins\'s "bins_handshake_timeout" (the spelling of OpenSIPS\'s proto_bins documentation)');
    // proto_tls need not be loaded at all
    const alone = await real(`${bins}modparam("proto_tls", "bins_send_timeout", 300)`);
    expect(alone.modules.find((m) => m.loaded.name === 'proto_bins')!.params).toMatchObject({ bins_send_timeout: 300 });
  });

  it('the value is checked against proto_bins\'s schema; without proto_bins loaded the error names it', async () => {
    await expect(real(`${bins}modparam("proto_tls", "bins_handshake_timeout", 0)`)).rejects.toMatchObject({ code: 'ERR_CFG_BAD_VALUE', message: expect.stringMatching(/proto_bins: parameter "bins_handshake_timeout" expects an integer >= 1, got 0/) });
    await expect(real(`${bins}modparam("proto_tls", "bins_nope", 1)`)).rejects.toMatchObject({ code: 'ERR_CFG_UNKNOWN_PARAM', message: expect.stringContaining('unknown parameter "bins_nope" for module "proto_bins" (matched by "proto_tls")') });
    await expect(real('loadmodule "proto_tls.so"\nmodparam("proto_tls", "bins_port", 5557)')).rejects.toMatchObject({
      code: 'ERR_CFG_NO_MODULE_MATCH',
      message: '/etc/x/a.cfg:2:10: "bins_port" is a proto_bins parameter (OpenSIPS\'s proto_bins documentation spells it modparam("proto_tls", "bins_port")): loadmodule "proto_bins.so" before it',
    });
  });
});

describe('resolveConfig', () => {
  it('maps globals, sockets with default ports, builtins and tls domains', async () => {
    const r = await load([
      'log_level = 4',
      'tcp_connection_lifetime = 600',
      'tcp_workers = 4',
      'tcp_no_new_conn_bflag = TCP_NO_CONNECT',
      'mpath = "/usr/lib/opensips/modules/"',
      'route_script = "routes/r.mjs"',
      'socket = tcp:127.0.0.1 as 10.0.0.1:5060 tag pub',
      'listen = hep_udp:127.0.0.1:9999',
      'loadmodule "proto_tcp.so"',
      'loadmodule "proto_hep.so"',
      'loadmodule "httpd.so"',
      'loadmodule "mi_http.so"',
      'loadmodule "tls_mgm.so"',
      'modparam("httpd", "port", 14001)',
      'modparam("mi_http", "root", "/json/")',
      'modparam("proto_tcp", "tcp_port", 5070)',
      'modparam("proto_tcp", "trace_filter_route", "tr")',
      'modparam("tls_mgm", "server_domain", "srv")',
      'modparam("tls_mgm", "certificate", "[srv]tls/cert.pem")',
      'modparam("tls_mgm", "verify_cert", "[srv]0")',
      'modparam("tls_mgm", "match_ip_address", "[srv]127.0.0.1:5061, 10.0.0.1:5061")',
    ].join('\n'));
    expect(r.globals).toMatchObject({ log_level: 4, tcp_connection_lifetime: 600, tcp_keepalive: true });
    // tcp_workers is acted upon (by the CLI): no "ignored" note
    expect(r.globals.tcp_workers).toBe(4);
    expect(r.notes.join('\n')).not.toMatch(/tcp_workers/);
    expect(r.notes.join('\n')).toMatch(/a\.cfg:4:1: tcp_no_new_conn_bflag accepted and ignored/);
    expect(r.globals.tcp_no_new_conn_bflag).toBe('TCP_NO_CONNECT');
    expect(r.routeScript).toBe('/etc/x/routes/r.mjs');
    expect(r.sockets.map((s) => s.spec)).toEqual([
      { proto: 'tcp', host: '127.0.0.1', port: 5070, advertised: { host: '10.0.0.1', port: 5060 }, tag: 'pub' },
      { proto: 'hep_udp', host: '127.0.0.1', port: 9999 },
    ]);
    expect(r.httpd).toEqual({ ip: '127.0.0.1', port: 14001, where: { file: '/etc/x/a.cfg', line: 14, col: 27 } });
    expect(r.mi).toEqual({ root: 'json' });
    expect(r.tlsDomains).toEqual([{ name: 'srv', side: 'server', certificate: '/etc/x/tls/cert.pem', verifyCert: false, matchIpAddress: ['127.0.0.1:5061', '10.0.0.1:5061'] }]);
    expect(r.routeRefs).toEqual([{ module: 'proto_tcp', param: 'trace_filter_route', route: 'tr', where: { file: '/etc/x/a.cfg', line: 17, col: 45 } }]);
  });

  it('accepts the usual opensips.cfg header globals, each ignored with a note', async () => {
    const r = await load([
      'log_level = 3', 'log_stderror = no', 'log_facility = LOG_LOCAL0', 'log_name = "opensips"', 'stderror_enabled = yes',
      'syslog_enabled = no', 'syslog_facility = LOG_LOCAL1', 'syslog_name = "os"', 'udp_workers = 4', 'children = 4',
    ].join('\n'));
    expect(r.notes).toEqual([
      '/etc/x/a.cfg:2:1: log_stderror accepted and ignored: logs are pino lines on stdout (--pretty for humans)',
      '/etc/x/a.cfg:3:1: log_facility accepted and ignored: logs are pino lines on stdout (--pretty for humans)',
      '/etc/x/a.cfg:4:1: log_name accepted and ignored: logs are pino lines on stdout (--pretty for humans)',
      '/etc/x/a.cfg:5:1: stderror_enabled accepted and ignored: logs are pino lines on stdout (--pretty for humans)',
      '/etc/x/a.cfg:6:1: syslog_enabled accepted and ignored: logs are pino lines on stdout (--pretty for humans)',
      '/etc/x/a.cfg:7:1: syslog_facility accepted and ignored: logs are pino lines on stdout (--pretty for humans)',
      '/etc/x/a.cfg:8:1: syslog_name accepted and ignored: logs are pino lines on stdout (--pretty for humans)',
      '/etc/x/a.cfg:10:1: children accepted and ignored: one Node event loop does all the I/O',
    ]);
    expect(r.globals).toMatchObject({ log_stderror: false, log_facility: 'LOG_LOCAL0', udp_workers: 4 });
    expect((await err('log_stderror = 2')).message).toBe('/etc/x/a.cfg:1:16: core: parameter "log_stderror" expects 0 or 1, got 2');
  });

  it('records every OpenSIPS 4.0 socket option and warns once per option (and per bond) at its file:line:col', async () => {
    const r = await load(
      [
        'loadmodule "proto_tcp.so"',
        'socket = tcp:127.0.0.1:5060 as 203.0.113.5:5060 tag pub use_workers 4 use_auto_scaling_profile PROF anycast frag',
        'listen = "tcp:127.0.0.1:5070 reuse_port tos 0x10 accept_subdomain"',
        'socket = tcp:127.0.0.1:5080 proxy_protocol allow_proxy_protocol send_proxy_protocol',
        'socket = tcp:127.0.0.1:5090',
        'socket = bond:ext { "tcp:127.0.0.1:5060", "tcp:127.0.0.1:5070" }',
      ].join('\n'),
    );
    expect(r.sockets.map((s) => s.spec)).toEqual([
      {
        proto: 'tcp', host: '127.0.0.1', port: 5060, advertised: { host: '203.0.113.5', port: 5060 }, tag: 'pub',
        options: { useWorkers: 4, autoScalingProfile: 'PROF', anycast: true, frag: true },
      },
      { proto: 'tcp', host: '127.0.0.1', port: 5070, options: { reusePort: true, tos: 16, acceptSubdomain: true } },
      { proto: 'tcp', host: '127.0.0.1', port: 5080, options: { proxyProtocol: true, allowProxyProtocol: true, sendProxyProtocol: true } },
      { proto: 'tcp', host: '127.0.0.1', port: 5090 },
    ]);
    expect(r.bonds).toEqual([{ name: 'ext', members: [r.sockets[0]!.spec, r.sockets[1]!.spec], where: { file: '/etc/x/a.cfg', line: 6, col: 1 } }]);
    expect(r.warnings.map((w) => w.replace(/ has no effect in x-server: .*/, ''))).toEqual([
      '/etc/x/a.cfg:2:57: socket option "use_workers 4" accepted,',
      '/etc/x/a.cfg:2:71: socket option "use_auto_scaling_profile PROF" accepted,',
      '/etc/x/a.cfg:2:101: socket option "anycast" accepted,',
      '/etc/x/a.cfg:2:109: socket option "frag" accepted,',
      '/etc/x/a.cfg:3:30: socket option "reuse_port" accepted,',
      '/etc/x/a.cfg:3:41: socket option "tos 16" accepted,',
      '/etc/x/a.cfg:3:50: socket option "accept_subdomain" accepted,',
      '/etc/x/a.cfg:4:29: socket option "proxy_protocol" accepted,',
      '/etc/x/a.cfg:4:44: socket option "allow_proxy_protocol" accepted,',
      '/etc/x/a.cfg:4:65: socket option "send_proxy_protocol" accepted,',
      '/etc/x/a.cfg:6:15: socket bond "ext" accepted,',
    ]);
    expect(r.warnings.find((w) => w.includes('"reuse_port"'))).toMatch(/has no effect in x-server: Node\.js 20 cannot set SO_REUSEPORT/);
    expect(r.warnings.find((w) => w.includes('"tos 16"'))).toMatch(/has no effect in x-server: Node\.js has no API to set IP_TOS/);
    expect((await load('loadmodule "proto_tcp.so"\nsocket = tcp:127.0.0.1 as 10.0.0.1 tag t')).warnings).toEqual([]);
  });

  it('httpd and mi_http default to 127.0.0.1:8888/mi, as OpenSIPS', async () => {
    const r = await load('\nloadmodule "httpd.so"\nloadmodule "mi_http.so"');
    expect(r.httpd).toEqual({ ip: '127.0.0.1', port: 8888, where: { file: '/etc/x/a.cfg', line: 2, col: 1 } });
    expect(r.mi).toEqual({ root: 'mi' });
    expect((await load('loadmodule "httpd.so"')).mi).toBeUndefined();
    expect((await load('loadmodule "proto_tcp.so"')).httpd).toBeUndefined();
  });

  const cases: Array<[string, string, string, string]> = [
    ['unknown module', 'log_level = 1\nloadmodule "dialog.so"', 'ERR_CFG_UNKNOWN_MODULE', '/etc/x/a.cfg:2:12: unknown module "dialog"'],
    ['module package missing', 'loadmodule "proto_msrp.so"', 'ERR_CFG_UNKNOWN_MODULE', '/etc/x/a.cfg:1:12: module "proto_msrp" needs package @x/proto-msrp, which cannot be loaded'],
    ['unknown global', 'loadmodule "proto_tcp.so"\n  auto_aliasess = no', 'ERR_CFG_UNKNOWN_GLOBAL', '/etc/x/a.cfg:2:3: unknown global parameter "auto_aliasess"'],
    ['global wrong type', 'log_level = "high"', 'ERR_CFG_BAD_VALUE', '/etc/x/a.cfg:1:13: core: parameter "log_level" expects an integer in -3..4, got "high"'],
    ['global out of range', 'tcp_accept_aliases = 3', 'ERR_CFG_BAD_VALUE', '/etc/x/a.cfg:1:22: core: parameter "tcp_accept_aliases" expects an integer in 0..2, got 3'],
    ['string global given a number', 'route_script = 5', 'ERR_CFG_BAD_VALUE', '/etc/x/a.cfg:1:16: core: parameter "route_script" expects a string, got 5'],
    ['modparam before loadmodule', 'modparam("proto_tcp", "tcp_port", 5070)\nloadmodule "proto_tcp.so"', 'ERR_CFG_NO_MODULE_MATCH', '/etc/x/a.cfg:1:10: no loaded module matches "proto_tcp"'],
    ['modparam regex matching nothing', 'loadmodule "proto_tcp.so"\nmodparam("tcp", "tcp_port", 5070)', 'ERR_CFG_NO_MODULE_MATCH', '/etc/x/a.cfg:2:10: no loaded module matches "tcp"'],
    ['bad regex', 'loadmodule "proto_tcp.so"\nmodparam("proto_(", "tcp_port", 1)', 'ERR_CFG_SYNTAX', '/etc/x/a.cfg:2:10: bad module regular expression "proto_("'],
    ['unknown param', 'loadmodule "proto_tcp.so"\nmodparam("proto_tcp", "tcp_bogus", 1)', 'ERR_CFG_UNKNOWN_PARAM', '/etc/x/a.cfg:2:23: unknown parameter "tcp_bogus" for module "proto_tcp" (known: tcp_port, tcp_max_msg_chunks, tcp_async, trace_filter_route, trace_on)'],
    ['int param given a string', 'loadmodule "proto_tcp.so"\nmodparam("proto_tcp", "tcp_max_msg_chunks", "eight")', 'ERR_CFG_BAD_VALUE', '/etc/x/a.cfg:2:45: proto_tcp: parameter "tcp_max_msg_chunks" expects an integer >= 0, got "eight"'],
    ['string param given an int', 'loadmodule "proto_tcp.so"\nmodparam("proto_tcp", "trace_filter_route", 3)', 'ERR_CFG_BAD_VALUE', '/etc/x/a.cfg:2:45: proto_tcp: parameter "trace_filter_route" expects a string, got 3'],
    ['bool param given 2', 'loadmodule "proto_tcp.so"\nmodparam("proto_tcp", "tcp_async", 2)', 'ERR_CFG_BAD_VALUE', '/etc/x/a.cfg:2:36: proto_tcp: parameter "tcp_async" expects 0 or 1, got 2'],
    ['bad socket', 'loadmodule "proto_tcp.so"\nsocket = tcp:127.0.0.1:99999', 'ERR_CFG_BAD_SOCKET', '/etc/x/a.cfg:2:24: bad socket spec "tcp:127.0.0.1:99999": port 99999 is out of range'],
    ['bad socket option', 'loadmodule "proto_tcp.so"\nsocket = tcp:127.0.0.1 via 1.2.3.4', 'ERR_CFG_BAD_SOCKET', '/etc/x/a.cfg:2:24: bad socket spec "tcp:127.0.0.1 via 1.2.3.4": unknown option "via" (expected as host[:port], tag name, use_workers N, use_auto_scaling_profile name, anycast, frag, reuse_port, tos N, accept_subdomain, proxy_protocol, allow_proxy_protocol, send_proxy_protocol)'],
    ['use_workers not a positive integer', 'loadmodule "proto_tcp.so"\nsocket = tcp:127.0.0.1 use_workers 0', 'ERR_CFG_BAD_SOCKET', '/etc/x/a.cfg:2:36: bad socket spec "tcp:127.0.0.1 use_workers 0": "use_workers" needs a positive integer, found "0"'],
    ['use_workers without its number', 'loadmodule "proto_tcp.so"\nsocket = tcp:127.0.0.1 use_workers   # workers', 'ERR_CFG_BAD_SOCKET', '/etc/x/a.cfg:2:35: bad socket spec "tcp:127.0.0.1 use_workers": "use_workers" needs a positive integer, found nothing'],
    ['tos out of range (quoted spec)', 'loadmodule "proto_tcp.so"\nsocket = "tcp:127.0.0.1 tag t tos 300"', 'ERR_CFG_BAD_SOCKET', '/etc/x/a.cfg:2:35: bad socket spec "tcp:127.0.0.1 tag t tos 300": "tos" needs an integer 0..255'],
    ['tos as a name', 'loadmodule "proto_tcp.so"\nlisten = tcp:127.0.0.1 tos IPTOS_LOWDELAY', 'ERR_CFG_BAD_SOCKET', '/etc/x/a.cfg:2:28: bad socket spec "tcp:127.0.0.1 tos IPTOS_LOWDELAY": "tos" needs an integer 0..255 (decimal or 0x hex, e.g. tos 0x10), found "IPTOS_LOWDELAY"'],
    ['socket option twice', 'loadmodule "proto_tcp.so"\nsocket = tcp:127.0.0.1 frag anycast frag', 'ERR_CFG_BAD_SOCKET', '/etc/x/a.cfg:2:37: bad socket spec "tcp:127.0.0.1 frag anycast frag": "frag" given twice'],
    ['bond member that does not parse', 'loadmodule "proto_tcp.so"\nsocket = tcp:127.0.0.1\nsocket = bond:b {\n  "tcp:127.0.0.1:x" }', 'ERR_CFG_BAD_SOCKET', '/etc/x/a.cfg:4:18: bad socket spec "tcp:127.0.0.1:x": port "x" is not a number'],
    ['bond member not declared', 'loadmodule "proto_tcp.so"\nsocket = tcp:127.0.0.1\nsocket = bond:b { "tcp:127.0.0.1", "tcp:127.0.0.1:5070" }', 'ERR_CFG_BAD_SOCKET', '/etc/x/a.cfg:3:36: bond:b member "tcp:127.0.0.1:5070" is not a declared socket: a bond groups sockets declared by their own socket = lines (declared: tcp:127.0.0.1:5060)'],
    ['bond member not declared (IPv6 sockets listed bracketed)', 'loadmodule "proto_tcp.so"\nsocket = tcp:[::1]:5070\nsocket = bond:b { "tcp:[::1]" }', 'ERR_CFG_BAD_SOCKET', '/etc/x/a.cfg:3:19: bond:b member "tcp:[::1]" is not a declared socket: a bond groups sockets declared by their own socket = lines (declared: tcp:[::1]:5070)'],
    ['bond defined twice', 'loadmodule "proto_tcp.so"\nsocket = tcp:127.0.0.1\nsocket = bond:b { "tcp:127.0.0.1" }\nsocket = bond:b { "tcp:127.0.0.1" }', 'ERR_CFG_BAD_SOCKET', '/etc/x/a.cfg:4:15: socket bond "b" is defined twice'],
    ['protocol without module', 'socket = msrps:127.0.0.1:2855\nloadmodule "proto_tcp.so"', 'ERR_CFG_NO_PROTO_MODULE', '/etc/x/a.cfg:1:10: listeners found for protocol msrps, but no module can handle it (load "proto_msrp.so"); protocols served: tcp'],
    ['bins socket without proto_bins (installed)', 'socket = bins:127.0.0.1\nloadmodule "proto_tcp.so"', 'ERR_CFG_NO_PROTO_MODULE', '/etc/x/a.cfg:1:10: listeners found for protocol bins, but no module can handle it (load "proto_bins.so")'],
    ['proto_hep without a HEP socket', 'socket = tcp:127.0.0.1\nloadmodule "proto_tcp.so"\n  loadmodule "proto_hep.so"', 'ERR_CFG_MODULE_REFUSED', '/etc/x/a.cfg:3:3: proto_hep: needs at least one hep_udp or hep_tcp socket (e.g. socket = hep_udp:127.0.0.1:9060), as OpenSIPS refuses to start without one'],
    ['udp hep_id without a hep_udp socket', 'socket = hep_tcp:127.0.0.1\nloadmodule "proto_hep.so"\nmodparam("proto_hep", "hep_id", "[h1] 10.0.0.9; transport=udp")', 'ERR_CFG_MODULE_REFUSED', '/etc/x/a.cfg:3:33: proto_hep: hep_id [h1] sends over udp: it needs a hep_udp socket to send from'],
    ['HEPv2 hep_id (udp only) without a hep_udp socket', 'socket = hep_tcp:127.0.0.1\nloadmodule "proto_hep.so"\nmodparam("proto_hep", "hep_id", "[h1] 10.0.0.9:9060")\nmodparam("proto_hep", "hep_id", "[h2] 10.0.0.9; version=2")', 'ERR_CFG_MODULE_REFUSED', '/etc/x/a.cfg:4:33: proto_hep: hep_id [h2] sends over udp'],
    ['mi_http without httpd', 'loadmodule "mi_http.so"', 'ERR_CFG_DEPENDENCY', '/etc/x/a.cfg:1:1: module "mi_http" depends on "httpd", which is not loaded'],
    ['tls param without domain prefix', 'loadmodule "tls_mgm.so"\nmodparam("tls_mgm", "certificate", "/c.pem")', 'ERR_CFG_BAD_VALUE', '/etc/x/a.cfg:2:36: tls_mgm: parameter "certificate" expects "[domain]value"'],
    ['tls param for undefined domain', 'loadmodule "tls_mgm.so"\nmodparam("tls_mgm", "ca_list", "[x]/c.pem")', 'ERR_CFG_BAD_VALUE', '/etc/x/a.cfg:2:32: tls_mgm: domain "x" is not defined'],
    ['httpd port out of range', 'loadmodule "httpd.so"\nmodparam("httpd", "port", 70000)', 'ERR_CFG_BAD_VALUE', '/etc/x/a.cfg:2:27: httpd: parameter "port" expects an integer in 0..65535, got 70000'],
  ];
  it.each(cases)('%s', async (_n, text, code, msg) => {
    const e = await err(text);
    expect(e.code).toBe(code);
    expect(e.message.startsWith(msg), `${e.message}\n  should start with\n${msg}`).toBe(true);
  });
});
