// x-server with proto_tcp tracing (no loadmodule, as in OpenSIPS) to an x HEP collector on
// 127.0.0.1: the events arrive field by field, tcp_trace switches them, a filter route that drops
// 127.0.0.2 keeps its connections out; an unknown trace_destination is a config error.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { handleRpc } from '../mi/jsonrpc.js';
import { hepCollector, until, type HepCollector } from '../../test/support/hep-collector.js';
import { checkConfig, startServer, type XServer } from './server.js';

const quiet = () => new Writable({ write(_c, _e, cb) { cb(); } });
const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function collector(): Promise<HepCollector> {
  const c = await hepCollector();
  cleanup.push(() => c.stop());
  return c;
}

function cfg(hepPort: number, extra = ''): string {
  return [
    'route_script = "./routes.mjs"',
    'socket = tcp:127.0.0.1:0',
    'socket = hep_udp:127.0.0.1:0',
    'loadmodule "proto_tcp.so"',
    'loadmodule "proto_hep.so"',
    `modparam("proto_hep", "hep_id", "[hep_dst] 127.0.0.1:${hepPort}; transport=udp")`,
    'modparam("proto_tcp", "trace_destination", "hep_dst")',
    extra,
  ].join('\n');
}

function dir(): string {
  const d = mkdtempSync(join(tmpdir(), 'x-tracing-'));
  writeFileSync(
    join(d, 'routes.mjs'),
    [
      'export function trace_filter(ctx) { if (ctx.si === "127.0.0.2") ctx.drop(); }',
      'export const traced = [];',
      'export async function request(ctx) { if (ctx.message.raw.includes("X-Trace: yes")) traced.push(ctx.trace()); await ctx.reply(200, "OK"); }',
      '',
    ].join('\n'),
  );
  return d;
}

async function start(text: string): Promise<XServer> {
  const d = dir();
  const s = await startServer({ configText: text, configName: join(d, 'x.cfg'), logDestination: quiet() });
  cleanup.push(() => s.stop({ deadlineMs: 0 }));
  return s;
}

function open(s: XServer, from = '127.0.0.1'): Promise<Socket> {
  const l = s.listeners.find((x) => x.proto === 'tcp')!;
  return new Promise((resolve, reject) => {
    const c = connect({ host: '127.0.0.1', port: l.address.port, localAddress: from }, () => resolve(c));
    c.once('error', reject);
  });
}

async function rpc(s: XServer, method: string, params?: unknown): Promise<unknown> {
  const body = JSON.stringify({ jsonrpc: '2.0', method, id: 1, ...(params !== undefined ? { params } : {}) });
  return JSON.parse((await handleRpc(s.mi, body)).body) as unknown;
}

describe('x-server: proto_tcp tracing', () => {
  it('connect, exchange, close: ACCEPTED and CLOSED at the collector, field by field; counted in tracing:trace_sent', async () => {
    const c = await collector();
    const s = await start(cfg(c.port, 'modparam("proto_tcp", "trace_on", 1)'));
    const sock = await open(s);
    const peer = { host: sock.localAddress!, port: sock.localPort! };
    sock.write('OPTIONS sip:a@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1;branch=z9hG4bK1\r\nCall-ID: t1@x\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n');
    await until(() => s.engine.connections('tcp').length === 1, 'the connection');
    const conn = s.engine.connections('tcp')[0]!;
    sock.end();
    await until(() => c.got.length >= 2, 'ACCEPTED and CLOSED');
    const local = s.listeners.find((x) => x.proto === 'tcp')!.address;
    expect(c.got.map((r) => r.payload.toString())).toEqual(['TCP:ACCEPTED:SUCCESS:Connection accepted...', 'TCP:CLOSED:SUCCESS:EOF received']);
    for (const r of c.got) {
      expect(r.packet).toMatchObject({ version: 3, protoType: 0x59, ipProto: 6, captureId: 1, srcIp: peer.host, srcPort: peer.port, dstIp: local.host, dstPort: local.port, correlationId: conn.cid.toString() });
    }
    expect(s.stats.get('tracing:trace_sent')!.value()).toBe(2);
  });

  it('tcp_trace shows and switches it from the next event; the bad value errors as OpenSIPS', async () => {
    const c = await collector();
    const s = await start(cfg(c.port));
    expect(await rpc(s, 'tcp_trace')).toMatchObject({ result: { 'TCP tracing': 'off' } });
    const a = await open(s);
    await until(() => s.engine.connections('tcp').length === 1, 'the first connection');
    expect(await rpc(s, 'tcp:trace', ['on'])).toMatchObject({ result: 'OK' });
    expect(await rpc(s, 'tcp:trace', { trace_mode: 'maybe' })).toMatchObject({ error: { code: -32602, message: 'Invalid params', data: "trace_mode should be 'on' or 'off'" } });
    a.end();
    await until(() => c.got.length >= 1, 'the CLOSED of the connection accepted while off');
    expect(c.got.map((r) => r.payload.toString())).toEqual(['TCP:CLOSED:SUCCESS:EOF received']);
  });

  it('trace_filter_route: a connection from 127.0.0.2 is never traced, one from 127.0.0.1 is', async () => {
    const c = await collector();
    const s = await start(cfg(c.port, 'modparam("proto_tcp", "trace_on", 1)\nmodparam("proto_tcp", "trace_filter_route", "trace_filter")'));
    const dropped = await open(s, '127.0.0.2');
    await until(() => s.engine.connections('tcp').length === 1, 'the 127.0.0.2 connection');
    dropped.end();
    await until(() => s.engine.connections('tcp').length === 0, 'its close');
    const kept = await open(s, '127.0.0.1');
    await until(() => s.engine.connections('tcp').length === 1, 'the 127.0.0.1 connection');
    kept.end();
    await until(() => c.got.length >= 2, 'the 127.0.0.1 events');
    expect(c.got.map((r) => `${r.packet.srcIp} ${r.payload.toString()}`)).toEqual([
      '127.0.0.1 TCP:ACCEPTED:SUCCESS:Connection accepted...',
      '127.0.0.1 TCP:CLOSED:SUCCESS:EOF received',
    ]);
    expect(s.stats.get('tracing:trace_filtered')!.value()).toBe(1);
  });

  it('ctx.trace() in the request route: the request and its reply as HEP proto type 1, Call-ID as correlation; tcp_trace off stops it', async () => {
    const c = await collector();
    const s = await start(cfg(c.port, 'modparam("proto_tcp", "trace_on", 1)'));
    const sock = await open(s);
    let text = '';
    sock.on('data', (d: Buffer) => (text += d.toString()));
    const req = (callId: string, traceMe: boolean) =>
      `OPTIONS sip:a@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1;branch=z9hG4bK${callId}\r\nFrom: <sip:b@x>;tag=1\r\nTo: <sip:a@x>\r\nCall-ID: ${callId}\r\nCSeq: 1 OPTIONS\r\n${traceMe ? 'X-Trace: yes\r\n' : ''}Content-Length: 0\r\n\r\n`;
    const ask = async (callId: string, traceMe: boolean) => {
      sock.write(req(callId, traceMe));
      await until(() => text.includes(`Call-ID: ${callId}`), `the reply to ${callId}`);
    };
    await ask('plain-1', false);
    await ask('traced-2', true);
    expect(await rpc(s, 'tcp_trace', ['off'])).toMatchObject({ result: 'OK' });
    await ask('off-3', true);
    expect(await rpc(s, 'tcp_trace', ['on'])).toMatchObject({ result: 'OK' });
    await ask('traced-4', true);
    const sip = () => c.got.filter((r) => r.packet.protoType === 1);
    await until(() => sip().length >= 4, 'four SIP messages');
    const local = s.listeners.find((x) => x.proto === 'tcp')!.address;
    const me = `${sock.localAddress}:${sock.localPort}`;
    const srv = `${local.host}:${local.port}`;
    expect(sip().map((r) => [r.packet.correlationId, `${r.packet.srcIp}:${r.packet.srcPort}`, `${r.packet.dstIp}:${r.packet.dstPort}`, r.payload.toString().split('\r\n')[0]])).toEqual([
      ['traced-2', me, srv, 'OPTIONS sip:a@127.0.0.1 SIP/2.0'],
      ['traced-2', srv, me, 'SIP/2.0 200 OK'],
      ['traced-4', me, srv, 'OPTIONS sip:a@127.0.0.1 SIP/2.0'],
      ['traced-4', srv, me, 'SIP/2.0 200 OK'],
    ]);
    expect(sip()[0]!.payload.toString()).toBe(req('traced-2', true));
    expect(sip()[1]!.payload.toString()).toBe(text.slice(text.indexOf('SIP/2.0 200 OK', text.indexOf('Call-ID: plain-1'))).split(/(?=SIP\/2\.0 200)/)[0]);
  });

  it('a trace_destination naming no hep_id is a config error (-c and start); so is one without proto_hep', async () => {
    const d = dir();
    const bad = cfg(9, '').replace('"trace_destination", "hep_dst"', '"trace_destination", "homer"');
    await expect(checkConfig({ configText: bad, configName: join(d, 'x.cfg') })).rejects.toThrow(/:7:\d+: proto_tcp: trace_destination "homer" names no hep_id \(defined: hep_dst\)/);
    await expect(startServer({ configText: bad, configName: join(d, 'x.cfg'), logDestination: quiet() })).rejects.toThrow(/names no hep_id/);
    const noHep = 'socket = tcp:127.0.0.1:0\nloadmodule "proto_tcp.so"\nmodparam("proto_tcp", "trace_destination", "hep_dst")';
    await expect(checkConfig({ configText: noHep, configName: join(d, 'x.cfg') })).rejects.toThrow(/proto_tcp: trace_destination "hep_dst" needs proto_hep/);
  });
});

describe('x-server: tracing module order', () => {
  for (const where of ['before proto_hep', 'after proto_tcp'] as const) {
    it(`an explicit loadmodule "tracing.so" ${where}: the same events reach the collector`, async () => {
      const c = await collector();
      const base = cfg(c.port, 'modparam("proto_tcp", "trace_on", 1)').split('\n');
      const at = where === 'before proto_hep' ? base.indexOf('loadmodule "proto_tcp.so"') : base.indexOf('loadmodule "proto_hep.so"') + 1;
      base.splice(at, 0, 'loadmodule "tracing.so"');
      const s = await start(base.join('\n'));
      const sock = await open(s);
      await until(() => s.engine.connections('tcp').length === 1, 'the connection');
      sock.end();
      await until(() => c.got.length >= 2, 'ACCEPTED and CLOSED');
      expect(c.got.map((r) => r.payload.toString())).toEqual(['TCP:ACCEPTED:SUCCESS:Connection accepted...', 'TCP:CLOSED:SUCCESS:EOF received']);
      expect(await rpc(s, 'tcp_trace')).toMatchObject({ result: { 'TCP tracing': 'on' } });
    });
  }
});
