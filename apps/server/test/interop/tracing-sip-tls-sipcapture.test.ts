// x-server with proto_tls tracing (SIP over TLS, ctx.trace() in the request route) to Kamailio
// 5.6's sipcapture storing into SQLite, HEPv3 over UDP: the rows hold the request and the reply
// exactly as they crossed the TLS connection (decrypted), with the connection's addresses and the
// Call-ID as correlation id; `x-cli mi tls:trace off` stops it. The packets carry ip proto 22
// (OpenSIPS's TLS), which this sipcapture stores as 0 in its proto column (TCP rows: 2), so the
// wire value, and the handshake events (0x59, not stored by sipcapture), are checked field by field
// against an x HEP listener in src/runtime/tracing-sip-tls.test.ts.
import { join } from 'node:path';
import { connect, type TLSSocket } from 'node:tls';
import { freePort, makeTempDir, requireBinary, runBounded, sipcaptureConfig, startKamailio, SIP_CAPTURE_SCHEMA, type KamailioPeer } from '@x/test-peers';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, startX, writeFiles, xcli, type Running } from '../e2e/helpers.js';
import { optionsRequest, sipAsker, waitCaptureRows } from '../support/sip-capture.js';
import { serverTlsFiles, TLS_MGM_SERVER, tracePki, type TracePki } from '../support/trace-pki.js';

const RANGE: readonly [number, number] = [16000, 17999];
const running: Array<{ stop(): unknown }> = [];
afterEach(async () => {
  for (const r of running.splice(0).reverse()) await r.stop();
});
let pki: TracePki;
beforeAll(async () => {
  ensureBuilt();
  pki = await tracePki();
});

async function tlsClient(port: number): Promise<{ s: TLSSocket; ask(callId: string): Promise<string> }> {
  const s = connect({ host: '127.0.0.1', port, cert: pki.client.cert, key: pki.client.key, ca: pki.serverCa.cert });
  running.push({ stop: () => s.destroy() });
  await new Promise<void>((resolve, reject) => {
    s.once('secureConnect', resolve);
    s.once('error', reject);
  });
  return { s, ask: sipAsker(s, port, 'TLS') };
}

describe('x-server proto_tls tracing to Kamailio sipcapture', () => {
  it('HEPv3 over udp: request and reply over TLS stored as sent; tls:trace off stops it', async () => {
    const sqlite = requireBinary('sqlite3');
    const dir = makeTempDir('x-trace-tls-cap-');
    const db = join(dir, 'capture.db');
    const mk = await runBounded(sqlite, [db, SIP_CAPTURE_SCHEMA], 20);
    expect(mk.code, mk.stderr).toBe(0);
    const capPort = await freePort(RANGE, 'both');
    const store: KamailioPeer = await startKamailio(sipcaptureConfig(capPort, db), { port: capPort, timeoutSec: 90 });
    running.push(store);
    writeFiles(dir, {
      ...serverTlsFiles(pki),
      'routes.mjs': 'export async function request(ctx) { ctx.trace(); await ctx.reply(200, "OK"); }\n',
      'x.cfg': [
        'route_script = "./routes.mjs"',
        'socket = tls:127.0.0.1:0',
        'socket = hep_udp:127.0.0.1:0',
        'loadmodule "proto_tls.so"',
        'loadmodule "proto_hep.so"',
        'loadmodule "httpd.so"',
        'loadmodule "mi_http.so"',
        ...TLS_MGM_SERVER,
        'modparam("httpd", "ip", "127.0.0.1")',
        'modparam("httpd", "port", 0)',
        'modparam("mi_http", "root", "mi")',
        `modparam("proto_hep", "hep_id", "[kam] 127.0.0.1:${capPort}; transport=udp")`,
        'modparam("proto_tls", "trace_destination", "kam")',
        'modparam("proto_tls", "trace_on", 1)',
        '',
      ].join('\n'),
    });
    const x: Running = await startX(join(dir, 'x.cfg'));
    running.push({ stop: () => x.kill() });
    const sipPort = x.ports.get('tls')!;

    const a = await tlsClient(sipPort);
    const r1 = await a.ask('tls-cap-1');
    expect((await xcli(['--url', x.miUrl, 'mi', 'tls:trace', 'off'])).code).toBe(0);
    await a.ask('tls-cap-off');
    expect((await xcli(['--url', x.miUrl, 'mi', 'tls:trace', 'on'])).code).toBe(0);
    const r3 = await a.ask('tls-cap-3');

    const rows = await waitCaptureRows(sqlite, db, (rs) => rs.filter((r) => r.callid === 'tls-cap-3').length >= 2);
    expect(rows.map((r) => `${r.callid} ${r.method} ${r.reply_reason ?? ''}`.trim()), store.log().slice(-1500)).toEqual(['tls-cap-1 OPTIONS', 'tls-cap-1 200 OK', 'tls-cap-3 OPTIONS', 'tls-cap-3 200 OK']);
    const me = { ip: '127.0.0.1', port: a.s.localPort! };
    const srv = { ip: '127.0.0.1', port: sipPort };
    for (const [id, reply] of [['tls-cap-1', r1], ['tls-cap-3', r3]] as const) {
      const [req, rep] = rows.filter((r) => r.callid === id);
      expect(req).toMatchObject({ source_ip: me.ip, source_port: me.port, destination_ip: srv.ip, destination_port: srv.port, correlation_id: id, msg: optionsRequest(id, sipPort, 'TLS') });
      expect(rep).toMatchObject({ source_ip: srv.ip, source_port: srv.port, destination_ip: me.ip, destination_port: me.port, correlation_id: id, msg: reply });
    }
  });
});
