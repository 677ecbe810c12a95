// x-server with proto_msrp (msrp, msrps) and proto_bins (bins) tracing to Kamailio 5.6's
// sipcapture, HEPv3 over UDP and over TCP: connect, exchange, close; `x-cli mi msrp_trace off`
// and `x-cli mi tls_trace off` (bins' legacy name, tracing.md §2) stop the next event; the msrp
// filter route that drops 127.0.0.2 traces only 127.0.0.1's connections.
//
// What sipcapture does with these packets, found by experiment and in its source (hep.c): every
// payload of a proto type other than 5, 32, 99, 100 goes to Kamailio's SIP parser. A transport
// event (proto type 0x59, "MSRP:ACCEPTED:SUCCESS:...") fails at the first line ("core parsing of
// SIP message failed") and an MSRP message is read as a non-SIP request: sip_capture() never
// runs, no row is stored. So Kamailio here demonstrably RECEIVES them instead: sipcapture's
// nonsip_hook hands every HEP packet (UDP, or TCP with tcp_accept_hep3) to
// event_route[sipcapture:request], which logs the fields sipcapture itself decoded ($hep(...))
// and the payload (base64); the test reads that log (@x/test-peers sipcaptureLogConfig).
import { once } from 'node:events';
import { connect } from 'node:net';
import { join } from 'node:path';
import { createEngine, type ConnectionInfo, type MessageEvent, type TraceSink } from '@x/core-conn';
import { attachHep, hepUdpSpec } from '@x/proto-hep';
import { attachTracing, createTracing, MSRP_PROTO_TYPE } from '@x/tracing';
import { BinBuilder } from '@x/proto-bins';
import { msrpSpec } from '@x/proto-msrp';
import { freePort, makeTempDir, parseHepLog, requireBinary, runBounded, sipcaptureLogConfig, startKamailio, SIP_CAPTURE_SCHEMA, type HepLogLine, type KamailioPeer } from '@x/test-peers';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, startX, writeFiles, xcli, type Running } from '../e2e/helpers.js';
import { serverTlsFiles, TLS_MGM_SERVER, tracePki, type TracePki } from '../support/trace-pki.js';
import { tracePeer, type TracePeer } from '../support/trace-peer.js';

const RANGE: readonly [number, number] = [18000, 19999];
const running: Array<{ stop(): unknown }> = [];
afterEach(async () => {
  for (const r of running.splice(0).reverse()) await r.stop();
});
let pki: TracePki;
beforeAll(async () => {
  ensureBuilt();
  pki = await tracePki();
});

async function until(cond: () => boolean | Promise<boolean>, what: string, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function ports(n: number): Promise<number[]> {
  const out: number[] = [];
  while (out.length < n) {
    const p = await freePort(RANGE, 'both');
    if (!out.includes(p)) out.push(p);
  }
  return out;
}

/** the test's MSRP / BIN peer: msrp from 127.0.0.1 or 127.0.0.2, msrps and bins with the client certificate */
async function peer(): Promise<TracePeer> {
  const p = await tracePeer(pki);
  running.push(p);
  return p;
}

const text = (r: HepLogLine): string => r.payload.toString('latin1');
const from = (lines: HepLogLine[], c: ConnectionInfo) => lines.filter((r) => r.srcIp === c.local.host && r.srcPort === c.local.port);

describe('x-server msrp / msrps / bins tracing to Kamailio sipcapture', () => {
  for (const transport of ['udp', 'tcp'] as const) {
    it(`HEPv3 over ${transport}: ACCEPTED (with certificates) and CLOSED received as sent; msrp_trace / tls_trace off stop them; 127.0.0.2 filtered out`, async () => {
      const sqlite = requireBinary('sqlite3');
      const dir = makeTempDir('x-trace-msrp-bins-');
      const db = join(dir, 'capture.db');
      const mk = await runBounded(sqlite, [db, SIP_CAPTURE_SCHEMA], 20);
      expect(mk.code, mk.stderr).toBe(0);
      const [capPort, msrpPort, msrpsPort] = await ports(3);
      const kam: KamailioPeer = await startKamailio(sipcaptureLogConfig(capPort!, db), { port: capPort!, timeoutSec: 120 });
      running.push(kam);
      writeFiles(dir, {
        ...serverTlsFiles(pki),
        'routes.mjs': [
          'export function trace_filter(ctx) { if (ctx.si === "127.0.0.2") ctx.drop(); }',
          'export function msrp_auth(ctx) { return ctx.username === "alice" ? "secret" : undefined; }',
          '',
        ].join('\n'),
        'x.cfg': [
          'route_script = "./routes.mjs"',
          `socket = msrp:127.0.0.1:${msrpPort}`,
          `socket = msrps:127.0.0.1:${msrpsPort}`,
          'socket = bins:127.0.0.1:0',
          'socket = hep_udp:127.0.0.1:0',
          'socket = hep_tcp:127.0.0.1:0',
          'loadmodule "proto_hep.so"',
          'loadmodule "proto_msrp.so"',
          'loadmodule "msrp_relay.so"',
          'loadmodule "proto_bins.so"',
          ...TLS_MGM_SERVER,
          'loadmodule "httpd.so"',
          'loadmodule "mi_http.so"',
          'modparam("httpd", "ip", "127.0.0.1")',
          'modparam("httpd", "port", 0)',
          'modparam("mi_http", "root", "mi")',
          `modparam("msrp_relay", "my_uri", "msrp://127.0.0.1:${msrpPort};tcp")`,
          `modparam("msrp_relay", "my_uri", "msrps://127.0.0.1:${msrpsPort};tcp")`,
          'modparam("msrp_relay", "auth_realm", "x-relay")',
          `modparam("proto_hep", "hep_id", "[kam] 127.0.0.1:${capPort}; transport=${transport}")`,
          'modparam("proto_msrp", "trace_destination", "kam")',
          'modparam("proto_msrp", "trace_on", 1)',
          'modparam("proto_msrp", "trace_filter_route", "trace_filter")',
          'modparam("proto_bins", "trace_destination", "kam")',
          'modparam("proto_bins", "trace_on", 1)',
          '',
        ].join('\n'),
      });
      const x: Running = await startX(join(dir, 'x.cfg'));
      running.push({ stop: () => x.kill() });
      const binsPort = x.ports.get('bins')!;
      const p = await peer();
      const got = (): HepLogLine[] => parseHepLog(kam.log());
      const mi = async (...args: string[]) => {
        const r = await xcli(['--url', x.miUrl, 'mi', ...args]);
        expect(r.code, r.stderr).toBe(0);
      };
      /** connect, exchange (an AUTH and its 401), close */
      const msrpSession = async (proto: 'msrp' | 'msrps', listenerId?: number): Promise<ConnectionInfo> => {
        const port = proto === 'msrp' ? msrpPort! : msrpsPort!;
        const c = await p.msrp.connect(proto, { host: '127.0.0.1', port }, listenerId !== undefined ? { listenerId } : {});
        const r = await p.msrp.sendRequest({ method: 'AUTH', to: [`${proto}://127.0.0.1:${port};tcp`], from: `${proto}://${c.local.host}:${c.local.port}/alice;tcp`, connectionId: c.id });
        expect(r!.msg).toMatchObject({ status: 401 });
        p.engine.close(c.id);
        return c;
      };
      const binSession = async (): Promise<ConnectionInfo> => {
        const c = (await p.bin.send(new BinBuilder('x-trace-test', 1, 1).pushInt(1).build(), `bins:127.0.0.1:${binsPort}`))!;
        p.engine.close(c.id);
        return c;
      };

      const dropped = await msrpSession('msrp', p.from2);
      const m1 = await msrpSession('msrp', p.from1);
      const s1 = await msrpSession('msrps');
      const b1 = await binSession();
      await until(() => from(got(), b1).length === 2, `the first bins events at Kamailio\n${kam.log().slice(-2000)}`);
      await mi('msrp_trace', 'off');
      await mi('tls_trace', 'off');
      const mOff = await msrpSession('msrp', p.from1);
      const bOff = await binSession();
      await mi('msrp_trace', 'on');
      await mi('tls_trace', 'on');
      const m2 = await msrpSession('msrp', p.from1);
      const b2 = await binSession();
      await until(() => from(got(), m2).length === 2 && from(got(), b2).length === 2, `the last events at Kamailio\n${kam.log().slice(-2000)}`);

      const lines = got();
      const n = pki.names;
      // the whole trace, in order per connection: only what was on and not filtered
      expect(from(lines, dropped)).toEqual([]);
      expect(from(lines, mOff)).toEqual([]);
      expect(from(lines, bOff)).toEqual([]);
      const want: Array<[ConnectionInfo, number, number, string[]]> = [
        [m1, msrpPort!, 6, ['MSRP:ACCEPTED:SUCCESS:Connection accepted...', 'MSRP:CLOSED:SUCCESS:EOF received']],
        [s1, msrpsPort!, 22, [`MSRPS:${n.client}:${n.clientCa}:${n.server}:${n.serverCa}:ACCEPTED:SUCCESS:Connection accepted...`, 'MSRPS:CLOSED:SUCCESS:EOF received']],
        [b1, binsPort, 22, [`BINS:${n.client}:${n.clientCa}:${n.server}:${n.serverCa}:ACCEPTED:SUCCESS:Connection accepted...`, 'BINS:CLOSED:SUCCESS:EOF received']],
        [m2, msrpPort!, 6, ['MSRP:ACCEPTED:SUCCESS:Connection accepted...', 'MSRP:CLOSED:SUCCESS:EOF received']],
        [b2, binsPort, 22, [`BINS:${n.client}:${n.clientCa}:${n.server}:${n.serverCa}:ACCEPTED:SUCCESS:Connection accepted...`, 'BINS:CLOSED:SUCCESS:EOF received']],
      ];
      const cids = new Set<string>();
      for (const [c, port, ipProto, texts] of want) {
        const evs = from(lines, c);
        expect(evs.map(text)).toEqual(texts);
        for (const e of evs) {
          // as sipcapture decoded them: HEPv3, proto type 0x59, ip proto, capture id 1, peer -> x-server (CLOSED too), cid
          expect(e).toMatchObject({ version: 3, protoType: 0x59, ipProto, captureId: 1, srcIp: '127.0.0.1', srcPort: c.local.port, dstIp: '127.0.0.1', dstPort: port });
          expect(e.correlationId).toMatch(/^\d{1,20}$/);
          expect(BigInt(e.correlationId) < 2n ** 64n).toBe(true);
        }
        expect(evs[1]!.correlationId).toBe(evs[0]!.correlationId);
        cids.add(evs[0]!.correlationId);
      }
      expect(cids.size).toBe(want.length); // one correlation id per connection
      // nothing else reached Kamailio: ten events, all from the connections above
      expect(lines).toHaveLength(10);
    });
  }

  it('MSRP messages (@x/tracing trace(), proto type 0x5A, correlation = transaction id) reach Kamailio byte for byte, with the connection\'s events', async () => {
    const sqlite = requireBinary('sqlite3');
    const dir = makeTempDir('x-trace-msrp-msg-');
    const db = join(dir, 'capture.db');
    expect((await runBounded(sqlite, [db, SIP_CAPTURE_SCHEMA], 20)).code).toBe(0);
    const [capPort] = await ports(1);
    const kam: KamailioPeer = await startKamailio(sipcaptureLogConfig(capPort!, db), { port: capPort!, timeoutSec: 120 });
    running.push(kam);
    // an MSRP endpoint whose "route" traces every request it gets (and so its response) and answers 200
    const engine = createEngine();
    engine.registerProtocol(msrpSpec() as never);
    engine.registerProtocol(hepUdpSpec());
    const sinks = new Map<string, TraceSink>();
    const hep = attachHep(engine, { hep_id: [`[kam] 127.0.0.1:${capPort}; transport=udp`] }, { registerSink: (x) => sinks.set(x.name, x) });
    await engine.listen('hep_udp:127.0.0.1:0');
    const tracing = createTracing({ modules: [{ module: 'proto_msrp', protocols: ['msrp', 'msrps'], destination: 'kam', on: true }], sinks: { get: (n) => sinks.get(n), names: () => [...sinks.keys()] } });
    const detach = attachTracing(tracing);
    running.push({ stop: async () => { detach(); hep.close(); await engine.shutdown({ deadlineMs: 0 }); } });
    const ok = (tid: string) => `MSRP ${tid} 200 OK\r\nTo-Path: msrp://127.0.0.1:1/c;tcp\r\nFrom-Path: msrp://127.0.0.1:2/s;tcp\r\n-------${tid}$\r\n`;
    engine.on('message', (ev: MessageEvent) => {
      const m = ev.message as { kind: string; tid: string };
      if (ev.conn.proto !== 'msrp' || m.kind !== 'request') return;
      tracing.trace(ev.message);
      engine.write(ev.conn.id, Buffer.from(ok(m.tid)));
    });
    const l = await engine.listen('msrp:127.0.0.1:0');
    const sock = connect({ host: '127.0.0.1', port: l.address.port });
    running.push({ stop: () => sock.destroy() });
    await once(sock, 'connect');
    let got = '';
    sock.on('data', (d: Buffer) => void (got += d.toString('latin1')));
    const send = `MSRP tr4ce1 SEND\r\nTo-Path: msrp://127.0.0.1:${l.address.port}/s;tcp\r\nFrom-Path: msrp://127.0.0.1:1/c;tcp\r\nMessage-ID: m1\r\nByte-Range: 1-5/5\r\nContent-Type: text/plain\r\n\r\nhello\r\n-------tr4ce1$\r\n`;
    sock.write(send);
    await until(() => got.includes('MSRP tr4ce1 200 OK'), 'the 200');
    const msgs = () => parseHepLog(kam.log()).filter((r) => r.protoType === MSRP_PROTO_TYPE);
    await until(() => msgs().length === 2, `two MSRP messages at Kamailio\n${kam.log().slice(-2000)}`);
    const me = { host: sock.localAddress!, port: sock.localPort! };
    expect(msgs().map((r) => [r.protoType, r.ipProto, r.correlationId, `${r.srcIp}:${r.srcPort}`, `${r.dstIp}:${r.dstPort}`, text(r)])).toEqual([
      [0x5a, 6, 'tr4ce1', `${me.host}:${me.port}`, `127.0.0.1:${l.address.port}`, send],
      [0x5a, 6, 'tr4ce1', `127.0.0.1:${l.address.port}`, `${me.host}:${me.port}`, ok('tr4ce1')],
    ]);
    // the connection's ACCEPTED came first, as a net event
    expect(text(parseHepLog(kam.log())[0]!)).toBe('MSRP:ACCEPTED:SUCCESS:Connection accepted...');
  });
});
