import { describe, expect, it } from 'vitest';
import { kamailioConfig, kamailioCore, kamailioSiptraceParams, kamailioStatelessConfig, kamailioStatelessRoute } from '../bench/kamailio.mjs';
import { writeKamailioConfig } from './kamailio.js';
import { sipcaptureConfig, sipcaptureLogConfig, sipcaptureTcpFrontConfig } from './sipcapture.js';

describe('kamailioCore', () => {
  it('writes the core header: globals, then listen lines and modules in the order given, pv and xlog first', () => {
    const text = kamailioCore({
      children: 2,
      tcpChildren: 3,
      debug: 1,
      globals: { enable_tls: 'yes', tcp_connection_lifetime: 1810 },
      listen: ['tls:127.0.0.1:5061', 'tcp:127.0.0.1:5060'],
      modules: ['sl', 'tls.so'],
    });
    expect(text).toBe(
      [
        '#!KAMAILIO',
        'debug=1',
        'log_stderror=yes',
        'fork=yes',
        'children=2',
        'tcp_children=3',
        'auto_aliases=no',
        'disable_sctp=yes',
        'enable_tls=yes',
        'tcp_connection_lifetime=1810',
        'listen=tls:127.0.0.1:5061',
        'listen=tcp:127.0.0.1:5060',
        '',
        'loadmodule "pv.so"',
        'loadmodule "xlog.so"',
        'loadmodule "sl.so"',
        'loadmodule "tls.so"',
        '',
      ].join('\n'),
    );
  });

  it('defaults: debug 2, one worker of each kind, pv and xlog only', () => {
    const text = kamailioCore({ listen: ['udp:127.0.0.1:9060'] });
    expect(text).toMatch(/^#!KAMAILIO\ndebug=2\n[\s\S]*\nchildren=1\ntcp_children=1\n[\s\S]*\nlisten=udp:127\.0\.0\.1:9060\n\nloadmodule "pv\.so"\nloadmodule "xlog\.so"\n$/);
  });

  it('rejects what Kamailio would not start with, naming it', () => {
    expect(() => kamailioCore({ listen: [] })).toThrow(/listen needs at least one/);
    expect(() => kamailioCore({ listen: ['127.0.0.1:5060'] })).toThrow(/listen "127\.0\.0\.1:5060" is not "proto:host:port"/);
    expect(() => kamailioCore({ listen: ['tcp:127.0.0.1:5060'], children: 1.5 })).toThrow(/children must be an integer/);
    expect(() => kamailioCore({ listen: ['tcp:127.0.0.1:5060'], modules: ['xlog'] })).toThrow(/module xlog listed twice/);
  });
});

describe('the configs built on it', () => {
  const head = (cfg: string) => cfg.slice(0, cfg.indexOf('\n\n'));

  it('every recipe starts with the one core header', () => {
    for (const cfg of [
      writeKamailioConfig('stateless', { port: 5060 }),
      kamailioConfig(5060, { siptrace: { port: 9060, transport: 'tcp' } }),
      sipcaptureConfig(9060, 'c.db'),
      sipcaptureTcpFrontConfig(9061, 9060, 'c.db'),
      sipcaptureLogConfig(9060, 'c.db'),
    ]) {
      expect(head(cfg)).toMatch(/^#!KAMAILIO\ndebug=\d\nlog_stderror=yes\nfork=yes\nchildren=\d\ntcp_children=\d\nauto_aliases=no\ndisable_sctp=yes\n/);
      expect(cfg.match(/^#!KAMAILIO$/gm)).toHaveLength(1);
    }
  });

  it('stateless: 2+2 workers, or 4+4 / 16384 / 3605 under load; the benches use load at debug 1, siptrace on request', () => {
    const plain = writeKamailioConfig('stateless', { port: 5060, logRequests: true });
    expect(plain).toContain('children=2\ntcp_children=2\n');
    expect(plain).toContain('tcp_max_connections=2048\ntcp_connection_lifetime=120\ntcp_accept_no_cl=no\nlisten=tcp:127.0.0.1:5060\nlisten=udp:127.0.0.1:5060\n');
    expect(plain).toContain('xlog("L_INFO", "REQ $rm $ci from $si:$sp proto $pr\\n");');
    expect(plain).not.toContain('siptrace');
    const bench = kamailioConfig(5070, { siptrace: { port: 9000, transport: 'udp' } });
    expect(bench).toBe(kamailioStatelessConfig({ port: 5070, load: true, debug: 1, siptrace: { port: 9000, transport: 'udp' } }));
    expect(bench).toContain('debug=1\n');
    expect(bench).toContain('children=4\ntcp_children=4\n');
    expect(bench).toContain('tcp_max_connections=16384\ntcp_connection_lifetime=3605\n');
    expect(bench).toContain('loadmodule "sl.so"\nloadmodule "tm.so"\nloadmodule "siptrace.so"\n');
    expect(bench).toContain('modparam("siptrace", "duplicate_uri", "sip:127.0.0.1:9000;transport=udp")\nmodparam("siptrace", "hep_mode_on", 1)\nmodparam("siptrace", "hep_version", 3)\nmodparam("siptrace", "trace_on", 1)');
    expect(bench.endsWith(kamailioStatelessRoute())).toBe(true);
    expect(kamailioConfig(5070)).not.toContain('siptrace');
  });

  it('siptrace params: version and capture id when given', () => {
    expect(kamailioSiptraceParams({ port: 1, transport: 'tcp', version: 2, captureId: 2001 })).toContain('"hep_version", 2)\nmodparam("siptrace", "hep_capture_id", 2001)\n');
    expect(kamailioSiptraceParams({ port: 1, transport: 'tcp' })).not.toContain('hep_capture_id');
  });

  it('sipcapture: the storing one hooks nothing; the HEP-over-TCP front and the logger accept HEP3 on TCP and hook every packet', () => {
    const store = sipcaptureConfig(9060, 'c.db');
    expect(store).toContain('loadmodule "db_sqlite.so"\nloadmodule "sipcapture.so"\n\nmodparam("sipcapture", "db_url", "sqlite:///c.db")');
    expect(store).toContain('"nonsip_hook", 0)');
    expect(store).not.toContain('tcp_accept_hep3');
    for (const cfg of [sipcaptureTcpFrontConfig(9061, 9060, 'c.db'), sipcaptureLogConfig(9061, 'c.db')]) {
      expect(cfg).toContain('tcp_accept_hep3=yes\ntcp_accept_no_cl=yes\nlisten=udp:127.0.0.1:9061\nlisten=tcp:127.0.0.1:9061\n');
      expect(cfg).toContain('"nonsip_hook", 1)\n\nevent_route[sipcapture:request] {');
    }
  });
});
