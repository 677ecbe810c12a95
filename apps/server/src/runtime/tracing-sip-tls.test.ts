// x-server with proto_tls tracing (SIP over TLS) to an x HEP collector on 127.0.0.1: the
// handshake event with both certificates (Protocol TLS, ip proto 22, correlation = the
// connection's cid), the SIP request traced by ctx.trace() and its reply (proto type 1,
// correlation = Call-ID), CLOSED with the connection's real addresses; MI tls:trace shows and
// switches it; tls_trace, the legacy name of both tls:trace and bins:trace, is ambiguous with
// proto_bins loaded (OpenSIPS 4.0).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { connect, type TLSSocket } from 'node:tls';
import type { HepReceived } from '@x/proto-hep';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { handleRpc } from '../mi/jsonrpc.js';
import { serverTlsFiles, TLS_MGM_SERVER, tracePki, type TracePki } from '../../test/support/trace-pki.js';
import { hepCollector, until, type HepCollector } from '../../test/support/hep-collector.js';
import { startServer, type XServer } from './server.js';

const quiet = () => new Writable({ write(_c, _e, cb) { cb(); } });
const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});
let pki: TracePki;
beforeAll(async () => {
  pki = await tracePki();
});

async function collector(): Promise<HepCollector> {
  const c = await hepCollector();
  cleanup.push(() => c.stop());
  return c;
}

async function start(hepPort: number): Promise<XServer> {
  const d = mkdtempSync(join(tmpdir(), 'x-tracing-sip-tls-'));
  writeFileSync(join(d, 'routes.mjs'), 'export async function request(ctx) { ctx.trace(); await ctx.reply(200, "OK"); }\n');
  for (const [f, text] of Object.entries(serverTlsFiles(pki))) writeFileSync(join(d, f), text);
  const text = [
    'route_script = "./routes.mjs"',
    'socket = tls:127.0.0.1:0',
    'socket = bins:127.0.0.1:0',
    'socket = hep_udp:127.0.0.1:0',
    'loadmodule "proto_hep.so"',
    'loadmodule "proto_tls.so"',
    'loadmodule "proto_bins.so"',
    ...TLS_MGM_SERVER,
    `modparam("proto_hep", "hep_id", "[hep_dst] 127.0.0.1:${hepPort}; transport=udp")`,
    'modparam("proto_tls", "trace_destination", "hep_dst")',
    'modparam("proto_tls", "trace_on", 1)',
    '',
  ].join('\n');
  const s = await startServer({ configText: text, configName: join(d, 'x.cfg'), logDestination: quiet() });
  cleanup.push(() => s.stop({ deadlineMs: 0 }));
  return s;
}

async function rpc(s: XServer, method: string, params?: unknown): Promise<unknown> {
  const body = JSON.stringify({ jsonrpc: '2.0', method, id: 1, ...(params !== undefined ? { params } : {}) });
  return JSON.parse((await handleRpc(s.mi, body)).body) as unknown;
}

/** a SIP over TLS client with the client certificate; resolves once the handshake is done */
async function client(port: number): Promise<TLSSocket & { text: () => string }> {
  const s = connect({ host: '127.0.0.1', port, cert: pki.client.cert, key: pki.client.key, ca: pki.serverCa.cert });
  cleanup.push(() => s.destroy());
  let text = '';
  s.on('data', (d: Buffer) => (text += d.toString()));
  await new Promise<void>((resolve, reject) => {
    s.once('secureConnect', resolve);
    s.once('error', reject);
  });
  return Object.assign(s, { text: () => text });
}

const options = (callId: string): string =>
  `OPTIONS sip:a@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1;branch=z9hG4bK${callId}\r\nFrom: <sip:t@x>;tag=1\r\nTo: <sip:a@127.0.0.1>\r\nCall-ID: ${callId}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n`;

describe('x-server: proto_tls tracing', () => {
  it('handshake event with both certificates, the SIP request and its reply by ctx.trace(), CLOSED; tls:trace off stops it; tls_trace is ambiguous with proto_bins', async () => {
    const c = await collector();
    const s = await start(c.port);
    const tlsPort = s.listeners.find((x) => x.proto === 'tls')!.address.port;
    const text = (r: HepReceived): string => r.payload.toString();
    const atServer = () => c.got.filter((r) => r.packet.dstPort === tlsPort || r.packet.srcPort === tlsPort);

    const cl = await client(tlsPort);
    cl.write(options('tls-call-1'));
    await until(() => cl.text().includes('SIP/2.0 200 OK'), 'the 200');
    await until(() => atServer().length === 3, 'ACCEPTED, the request and the reply');
    const acc = s.engine.connections('tls')[0]!;
    const me = { host: cl.localAddress!, port: cl.localPort! };
    const [a, req, rep] = atServer();
    const n = pki.names;
    expect(text(a!)).toBe(`TLS:${n.client}:${n.clientCa}:${n.server}:${n.serverCa}:ACCEPTED:SUCCESS:Connection accepted...`);
    expect(a!.packet).toMatchObject({ version: 3, protoType: 0x59, ipProto: 22, srcIp: me.host, srcPort: me.port, dstIp: '127.0.0.1', dstPort: tlsPort, correlationId: acc.cid.toString() });
    expect(text(req!)).toBe(options('tls-call-1'));
    expect(req!.packet).toMatchObject({ protoType: 1, ipProto: 22, srcIp: me.host, srcPort: me.port, dstPort: tlsPort, correlationId: 'tls-call-1' });
    expect(text(rep!)).toMatch(/^SIP\/2\.0 200 OK\r\n[\s\S]*Call-ID: tls-call-1\r\n/);
    expect(rep!.packet).toMatchObject({ protoType: 1, ipProto: 22, srcPort: tlsPort, dstIp: me.host, dstPort: me.port, correlationId: 'tls-call-1' });

    // MI: tls:trace shows the switch; the legacy tls_trace names bins:trace too
    expect(await rpc(s, 'tls:trace')).toMatchObject({ result: { 'TLS tracing': 'on' } });
    expect(await rpc(s, 'tls_trace')).toMatchObject({ error: { code: -32001, message: 'Method ambiguous' } });
    expect(await rpc(s, 'tls:trace', { trace_mode: 'maybe' })).toMatchObject({ error: { code: 500, message: 'Bad parameter value' } });

    cl.end();
    await until(() => atServer().length === 4, 'CLOSED');
    const closed = atServer()[3]!;
    expect(text(closed)).toBe('TLS:CLOSED:SUCCESS:EOF received');
    expect(closed.packet).toMatchObject({ protoType: 0x59, ipProto: 22, srcIp: me.host, srcPort: me.port, dstPort: tlsPort, correlationId: acc.cid.toString() });

    // switched off: the next connection and its messages are not traced
    expect(await rpc(s, 'tls:trace', { trace_mode: 'off' })).toMatchObject({ result: 'OK' });
    const cl2 = await client(tlsPort);
    cl2.write(options('tls-call-2'));
    await until(() => cl2.text().includes('SIP/2.0 200 OK'), 'the second 200');
    const port2 = cl2.localPort!;
    cl2.end();
    await until(() => s.engine.connections('tls').length === 0, 'the second connection closed');
    // on again: the third connection's ACCEPTED comes after anything the second could have sent (one UDP socket, in order)
    expect(await rpc(s, 'tls:trace', { trace_mode: 'on' })).toMatchObject({ result: 'OK' });
    const cl3 = await client(tlsPort);
    await until(() => atServer().some((r) => r.packet.srcPort === cl3.localPort), 'the third ACCEPTED');
    expect(atServer().filter((r) => r.packet.srcPort === port2 || r.packet.dstPort === port2)).toEqual([]);
    expect(atServer()).toHaveLength(5);
    expect(s.stats.get('tracing:trace_sent')!.value()).toBe(5);
  });
});
