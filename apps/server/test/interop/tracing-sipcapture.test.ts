// x-server with proto_tcp tracing (ctx.trace() in the request route) to Kamailio 5.6's
// sipcapture storing into SQLite, HEPv3 over UDP and over TCP. Kamailio's sipcapture stores SIP
// (HEP proto type 1) only: the transport events (0x59) are checked field by field against an x
// HEP listener in src/runtime/tracing.test.ts and in @x/tracing's tests. Here: the rows hold the
// request and the reply exactly as they crossed the wire; `x-cli mi tcp_trace off` stops it; a
// filter route that drops 127.0.0.2 keeps that peer's messages out.
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { freePort, makeTempDir, requireBinary, runBounded, sipcaptureConfig, sipcaptureTcpFrontConfig, startKamailio, SIP_CAPTURE_SCHEMA, type KamailioPeer } from '@x/test-peers';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, startX, writeFiles, xcli, type Running } from '../e2e/helpers.js';
import { optionsRequest, sipAsker, waitCaptureRows } from '../support/sip-capture.js';

const RANGE: readonly [number, number] = [16000, 17999];
const running: Array<{ stop(): unknown }> = [];
afterEach(async () => {
  for (const r of running.splice(0).reverse()) await r.stop();
});
beforeAll(() => {
  ensureBuilt();
});

const ROUTES = [
  'export function trace_filter(ctx) { if (ctx.si === "127.0.0.2") ctx.drop(); }',
  'export async function request(ctx) { ctx.trace(); await ctx.reply(200, "OK"); }',
  '',
].join('\n');

async function sipClient(port: number, from: string): Promise<{ s: Socket; ask(callId: string): Promise<string> }> {
  const s = connect({ host: '127.0.0.1', port, localAddress: from });
  running.push({ stop: () => s.destroy() });
  await once(s, 'connect');
  return { s, ask: sipAsker(s, port) };
}

describe('x-server tracing to Kamailio sipcapture', () => {
  for (const transport of ['udp', 'tcp'] as const) {
    it(`HEPv3 over ${transport}: request and reply stored as sent; tcp_trace off stops it; 127.0.0.2 filtered out`, async () => {
      const sqlite = requireBinary('sqlite3');
      const dir = makeTempDir('x-trace-cap-');
      const db = join(dir, 'capture.db');
      const mk = await runBounded(sqlite, [db, SIP_CAPTURE_SCHEMA], 20);
      expect(mk.code, mk.stderr).toBe(0);
      const storePort = await freePort(RANGE, 'both');
      const store: KamailioPeer = await startKamailio(sipcaptureConfig(storePort, db), { port: storePort, timeoutSec: 90 });
      running.push(store);
      let capPort = storePort;
      let front: KamailioPeer | undefined;
      if (transport === 'tcp') {
        capPort = await freePort(RANGE, 'both');
        while (capPort === storePort) capPort = await freePort(RANGE, 'both');
        front = await startKamailio(sipcaptureTcpFrontConfig(capPort, storePort, db), { port: capPort, timeoutSec: 90 });
        running.push(front);
      }
      writeFiles(dir, {
        'routes.mjs': ROUTES,
        'x.cfg': [
          'route_script = "./routes.mjs"',
          'socket = tcp:127.0.0.1:0',
          'socket = hep_udp:127.0.0.1:0',
          'socket = hep_tcp:127.0.0.1:0',
          'loadmodule "proto_tcp.so"',
          'loadmodule "proto_hep.so"',
          'loadmodule "httpd.so"',
          'loadmodule "mi_http.so"',
          'modparam("httpd", "ip", "127.0.0.1")',
          'modparam("httpd", "port", 0)',
          'modparam("mi_http", "root", "mi")',
          `modparam("proto_hep", "hep_id", "[kam] 127.0.0.1:${capPort}; transport=${transport}")`,
          'modparam("proto_tcp", "trace_destination", "kam")',
          'modparam("proto_tcp", "trace_on", 1)',
          'modparam("proto_tcp", "trace_filter_route", "trace_filter")',
          '',
        ].join('\n'),
      });
      const x: Running = await startX(join(dir, 'x.cfg'));
      running.push({ stop: () => x.kill() });
      const sipPort = x.ports.get('tcp')!;

      const a = await sipClient(sipPort, '127.0.0.1');
      const r1 = await a.ask('cap-1');
      const b = await sipClient(sipPort, '127.0.0.2');
      await b.ask('cap-dropped');
      expect((await xcli(['--url', x.miUrl, 'mi', 'tcp_trace', 'off'])).code).toBe(0);
      await a.ask('cap-off');
      expect((await xcli(['--url', x.miUrl, 'mi', 'tcp_trace', 'on'])).code).toBe(0);
      const r3 = await a.ask('cap-3');

      const rows = await waitCaptureRows(sqlite, db, (rs) => rs.filter((r) => r.callid === 'cap-3').length >= 2);
      expect(rows.map((r) => `${r.callid} ${r.method} ${r.reply_reason ?? ''}`.trim()), `${front?.log().slice(-1500) ?? ''}\n${store.log().slice(-1500)}`).toEqual([
        'cap-1 OPTIONS', 'cap-1 200 OK', 'cap-3 OPTIONS', 'cap-3 200 OK',
      ]);
      const me = { ip: '127.0.0.1', port: a.s.localPort! };
      const srv = { ip: '127.0.0.1', port: sipPort };
      const byCall = (id: string) => rows.filter((r) => r.callid === id);
      for (const [id, reply] of [['cap-1', r1], ['cap-3', r3]] as const) {
        const [req, rep] = byCall(id);
        expect(req).toMatchObject({ source_ip: me.ip, source_port: me.port, destination_ip: srv.ip, destination_port: srv.port, correlation_id: id, msg: optionsRequest(id, sipPort) });
        expect(rep).toMatchObject({ source_ip: srv.ip, source_port: srv.port, destination_ip: me.ip, destination_port: me.port, correlation_id: id, msg: reply });
      }
    });
  }
});
