import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { connect } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { MODULE_PACKAGES } from '../config/catalog.js';
import { checkConfig, startServer } from './server.js';

const quiet = () => new Writable({ write(_c, _e, cb) { cb(); } });
const FIXTURES = new URL('../../test/fixtures/tls/', import.meta.url);

function tlsDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'x-tls-'));
  copyFileSync(new URL('cert.pem', FIXTURES), join(dir, 'cert.pem'));
  copyFileSync(new URL('key.pem', FIXTURES), join(dir, 'key.pem'));
  writeFileSync(join(dir, 'r.mjs'), 'export function request(ctx) { return ctx.reply(200, "OK"); }\n');
  return dir;
}

const TLS_CFG = `route_script = "./r.mjs"
socket = tls:127.0.0.1:0
loadmodule "proto_tls.so"
loadmodule "tls_mgm.so"
modparam("proto_tls", "tls_handshake_timeout", 10000)
modparam("tls_mgm", "server_domain", "srv")
modparam("tls_mgm", "certificate", "[srv]./cert.pem")
modparam("tls_mgm", "private_key", "[srv]./key.pem")
modparam("tls_mgm", "verify_cert", "[srv]0")
modparam("tls_mgm", "require_cert", "[srv]0")
`;

describe('proto_tls in x-server (socket = tls:..., tls_mgm domains)', () => {
  it('answers an OPTIONS over TLS through the route script, with received/rport and the Server header', async () => {
    const dir = tlsDir();
    const s = await startServer({ configText: TLS_CFG, configName: join(dir, 'x.cfg'), logDestination: quiet() });
    try {
      const l = s.listeners.find((x) => x.proto === 'tls')!;
      expect(l.transport).toBe('tls');
      const { reply, local } = await new Promise<{ reply: string; local: number }>((resolve, reject) => {
        const c = connect({ host: '127.0.0.1', port: l.address.port, rejectUnauthorized: false }, () => {
          c.write(
            `OPTIONS sip:x@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TLS 192.0.2.9:5061;branch=z9hG4bK-t1;rport\r\nFrom: <sip:a@b>;tag=1\r\n` +
              `To: <sip:x@127.0.0.1>\r\nCall-ID: tls-1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n`,
          );
        });
        let text = '';
        c.setEncoding('latin1');
        c.on('data', (d: string) => {
          text += d;
          if (text.includes('\r\n\r\n')) {
            const port = c.localPort!;
            c.destroy();
            resolve({ reply: text, local: port });
          }
        });
        c.once('error', reject);
      });
      expect(reply.startsWith('SIP/2.0 200 OK\r\n')).toBe(true);
      expect(reply).toContain(`\r\nVia: SIP/2.0/TLS 192.0.2.9:5061;received=127.0.0.1;branch=z9hG4bK-t1;rport=${local}\r\n`);
      expect(reply).toMatch(/\r\nServer: x-server \(/);
      expect(s.stats.get('core:rcv_requests')!.value()).toBe(1);
      expect(s.stats.get('tls:rcv_msgs')!.value()).toBe(1);
    } finally {
      await s.stop();
    }
  });

  it('a tls socket without a port takes proto_tls tls_port (5061 by default, as OpenSIPS)', async () => {
    const dir = tlsDir();
    const cfg = await checkConfig({ configText: TLS_CFG.replace('socket = tls:127.0.0.1:0', 'socket = tls:127.0.0.1'), configName: join(dir, 'x.cfg') });
    expect(cfg.sockets.map((x) => [x.spec.proto, x.spec.port])).toEqual([['tls', 5061]]);
    const moved = await checkConfig({ configText: `${TLS_CFG.replace('socket = tls:127.0.0.1:0', 'socket = tls:127.0.0.1')}modparam("proto_tls", "tls_port", 5071)\n`, configName: join(dir, 'x.cfg') });
    expect(moved.sockets[0]!.spec.port).toBe(5071);
  });

  it('advice names only modules x-server has: udp is not provided, tm is unknown with the list of loadable modules', async () => {
    await expect(checkConfig({ configText: 'socket = udp:127.0.0.1:5060\nloadmodule "proto_tcp.so"\n', configName: 'u.cfg' })).rejects.toThrow(
      /u\.cfg:1:10: listeners found for protocol udp, but no module can handle it: x-server does not provide SIP over UDP; protocols served: tcp$/,
    );
    const err = await checkConfig({ configText: 'loadmodule "tm.so"\n', configName: 't.cfg' }).catch((e: Error) => e);
    expect(String((err as Error).message)).toMatch(/t\.cfg:1:\d+: unknown module "tm" \(modules x-server can load: (.+)\)$/);
    const listed = /can load: (.+)\)$/.exec((err as Error).message)![1]!.split(', ');
    expect(listed).toEqual(expect.arrayContaining(['httpd', 'mi_http', 'proto_hep', 'proto_tcp', 'proto_tls', 'tls_mgm']));
    // a module whose package is not installed here is not offered
    for (const [name, pkg] of Object.entries(MODULE_PACKAGES)) {
      let installed = true;
      try {
        import.meta.resolve(pkg);
      } catch {
        installed = false;
      }
      expect(listed.includes(name), name).toBe(installed);
    }
  });
});
