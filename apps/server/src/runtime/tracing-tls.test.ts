// x-server with proto_msrp (msrp, msrps) and proto_bins (bins) tracing to an x HEP collector on
// 127.0.0.1, checked field by field against the reference (tracing.md §4-§6): proto type 0x59,
// ip proto 6 (msrp) / 22 (msrps, bins), correlation id = the connection's cid, the payload parts
// in OpenSIPS's order (Protocol, client-subject, client-issuer, server-subject, server-issuer,
// Event, Status, Message) in HOMER5 and HOMER6 form; CLOSED with the connection's real addresses
// in the direction of its ACCEPTED / CONNECTED event; msrp_trace / bins:trace off stop the next
// event; the msrp filter route drops 127.0.0.2.
//
// The tap is process-wide: the test's own client engine (msrps, bins) is traced by the server's
// tracing too. Its outbound connections give the CONNECTED events ("client" = the peer's
// certificate, here the server's; "server" = ours, the client's), so both directions are checked.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { createEngine, type ConnectionInfo } from '@x/core-conn';
import type { HepReceived } from '@x/proto-hep';
import { BinBuilder } from '@x/proto-bins';
import { attachMsrp, msrpsSpec } from '@x/proto-msrp';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { handleRpc } from '../mi/jsonrpc.js';
import { clientDomain, serverTlsFiles, TLS_MGM_SERVER, tracePki, type TracePki } from '../../test/support/trace-pki.js';
import { tracePeer, type TracePeer } from '../../test/support/trace-peer.js';
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

async function start(hepPort: number, homer5: boolean): Promise<XServer> {
  const d = mkdtempSync(join(tmpdir(), 'x-tracing-tls-'));
  writeFileSync(join(d, 'routes.mjs'), 'export function trace_filter(ctx) { if (ctx.si === "127.0.0.2") ctx.drop(); }\n');
  for (const [f, text] of Object.entries(serverTlsFiles(pki))) writeFileSync(join(d, f), text);
  const text = [
    'route_script = "./routes.mjs"',
    'socket = msrp:127.0.0.1:0',
    'socket = msrps:127.0.0.1:0',
    'socket = bins:127.0.0.1:0',
    'socket = hep_udp:127.0.0.1:0',
    'loadmodule "proto_hep.so"',
    'loadmodule "proto_msrp.so"',
    'loadmodule "proto_bins.so"',
    ...TLS_MGM_SERVER,
    `modparam("proto_hep", "hep_id", "[hep_dst] 127.0.0.1:${hepPort}; transport=udp")`,
    `modparam("proto_hep", "homer5_on", ${homer5 ? 1 : 0})`,
    'modparam("proto_msrp", "trace_destination", "hep_dst")',
    'modparam("proto_msrp", "trace_on", 1)',
    'modparam("proto_msrp", "trace_filter_route", "trace_filter")',
    'modparam("proto_bins", "trace_destination", "hep_dst")',
    'modparam("proto_bins", "trace_on", 1)',
    '',
  ].join('\n');
  const s = await startServer({ configText: text, configName: join(d, 'x.cfg'), logDestination: quiet() });
  cleanup.push(() => s.stop({ deadlineMs: 0 }));
  return s;
}

/** the test's peer: msrp, msrps and bins with the client certificate */
async function peer(): Promise<TracePeer> {
  const p = await tracePeer(pki);
  cleanup.push(() => p.stop());
  return p;
}

async function rpc(s: XServer, method: string, params?: unknown): Promise<unknown> {
  const body = JSON.stringify({ jsonrpc: '2.0', method, id: 1, ...(params !== undefined ? { params } : {}) });
  return JSON.parse((await handleRpc(s.mi, body)).body) as unknown;
}

const port = (s: XServer, proto: string): number => s.listeners.find((x) => x.proto === proto)!.address.port;
const text = (r: HepReceived): string => r.payload.toString();
const ofCid = (got: HepReceived[], c: ConnectionInfo | bigint) => got.filter((r) => r.packet.correlationId === (typeof c === 'bigint' ? c : c.cid).toString());

describe('x-server: proto_msrp and proto_bins tracing', () => {
  it('msrps and bins, HOMER5: ACCEPTED with both certificates, the peer CONNECTED mirrored, CLOSED with real addresses; correlation = cid', async () => {
    const c = await collector();
    const s = await start(c.port, true);
    const p = await peer();
    const n = pki.names;
    for (const [proto, label] of [['msrps', 'MSRPS'], ['bins', 'BINS']] as const) {
      const before = new Set(s.engine.connections(proto).map((x) => x.id));
      const out = proto === 'msrps'
        ? await p.msrp.connect('msrps', { host: '127.0.0.1', port: port(s, proto) })
        : (await p.bin.send(new BinBuilder('x-trace-test', 1, 1).pushInt(7).build(), `bins:127.0.0.1:${port(s, proto)}`))!;
      await until(() => s.engine.connections(proto).some((x) => !before.has(x.id)), `the ${proto} connection at the server`);
      const acc = s.engine.connections(proto).find((x) => !before.has(x.id))!;
      await until(() => ofCid(c.got, acc).length === 1 && ofCid(c.got, out).length === 1, `${proto}: ACCEPTED and CONNECTED`);
      const [a] = ofCid(c.got, acc);
      const [o] = ofCid(c.got, out);
      // the accepting side (x-server): "client" = the peer's certificate, "server" = its own
      expect(text(a!)).toBe(`${label}:${n.client}:${n.clientCa}:${n.server}:${n.serverCa}:ACCEPTED:SUCCESS:Connection accepted...`);
      // the connecting side (the peer engine): "client" = the peer's (the server's) certificate, "server" = its own
      expect(text(o!)).toBe(`${label}:${n.server}:${n.serverCa}:${n.client}:${n.clientCa}:CONNECTED:SUCCESS:Successfully connected...`);
      const client = { host: out.local.host, port: out.local.port };
      const server = { host: '127.0.0.1', port: port(s, proto) };
      expect(a!.packet).toMatchObject({ version: 3, protoType: 0x59, ipProto: 22, srcIp: client.host, srcPort: client.port, dstIp: server.host, dstPort: server.port, correlationId: acc.cid.toString() });
      // OpenSIPS's direction for an outbound connection too: remote -> local
      expect(o!.packet).toMatchObject({ version: 3, protoType: 0x59, ipProto: 22, srcIp: server.host, srcPort: server.port, dstIp: client.host, dstPort: client.port, correlationId: out.cid.toString() });

      p.engine.close(out.id);
      await until(() => ofCid(c.got, acc).length === 2 && ofCid(c.got, out).length === 2, `${proto}: both CLOSED`);
      const [, ac] = ofCid(c.got, acc);
      const [, oc] = ofCid(c.got, out);
      expect(text(ac!)).toBe(`${label}:CLOSED:SUCCESS:EOF received`);
      expect(text(oc!)).toMatch(new RegExp(`^${label}:CLOSED:SUCCESS:`));
      // CLOSED: the connection's real addresses, as its ACCEPTED / CONNECTED (OpenSIPS sends 127.0.0.2:0)
      for (const [closed, opened] of [[ac!, a!], [oc!, o!]] as const) {
        expect([closed.packet.srcIp, closed.packet.srcPort, closed.packet.dstIp, closed.packet.dstPort, closed.packet.ipProto]).toEqual([opened.packet.srcIp, opened.packet.srcPort, opened.packet.dstIp, opened.packet.dstPort, 22]);
      }
    }
    expect(s.stats.get('tracing:trace_sent')!.value()).toBe(8);
  });

  it('HOMER6: the handshake event as a JSON object with the reference keys in order', async () => {
    const c = await collector();
    const s = await start(c.port, false);
    const p = await peer();
    const out = await p.msrp.connect('msrps', { host: '127.0.0.1', port: port(s, 'msrps') });
    await until(() => s.engine.connections('msrps').length === 1, 'the msrps connection');
    const acc = s.engine.connections('msrps')[0]!;
    await until(() => ofCid(c.got, acc).length === 1, 'ACCEPTED');
    const json = JSON.parse(text(ofCid(c.got, acc)[0]!)) as Record<string, string>;
    expect(Object.entries(json)).toEqual([
      ['Protocol', 'MSRPS'],
      ['client-subject', pki.names.client],
      ['client-issuer', pki.names.clientCa],
      ['server-subject', pki.names.server],
      ['server-issuer', pki.names.serverCa],
      ['Event', 'ACCEPTED'],
      ['Status', 'SUCCESS'],
      ['Message', 'Connection accepted...'],
    ]);
    p.engine.close(out.id);
    await until(() => ofCid(c.got, acc).length === 2, 'CLOSED');
    expect(JSON.parse(text(ofCid(c.got, acc)[1]!))).toEqual({ Protocol: 'MSRPS', Event: 'CLOSED', Status: 'SUCCESS', Message: 'EOF received' });
  });

  it('a failed handshake (no client certificate where the domain requires one): ACCEPTED with status FAILURE and the error, then CLOSED', async () => {
    const c = await collector();
    const s = await start(c.port, true);
    const anon = createEngine({ tlsDomains: [{ ...clientDomain(pki), certificate: undefined, privateKey: undefined }] });
    anon.registerProtocol(msrpsSpec() as never);
    const api = attachMsrp(anon);
    cleanup.push(async () => { api.close(); await anon.shutdown({ deadlineMs: 0 }); });
    const sport = port(s, 'msrps');
    await api.connect('msrps', { host: '127.0.0.1', port: sport }).catch(() => undefined);
    const atServer = () => c.got.filter((r) => r.packet.dstPort === sport);
    await until(() => atServer().length === 2, 'the failure and the close');
    const [f, cl] = atServer();
    expect(text(f!)).toBe('MSRPS:ACCEPTED:FAILURE:TLS domain "srv" requires a client certificate');
    expect(text(cl!)).toBe('MSRPS:CLOSED:SUCCESS:TLS handshake failed');
    expect(f!.packet).toMatchObject({ protoType: 0x59, ipProto: 22, srcIp: '127.0.0.1', dstIp: '127.0.0.1', dstPort: sport, correlationId: cl!.packet.correlationId });
    expect(f!.packet.srcPort).toBe(cl!.packet.srcPort);
  });

  it('msrp: ACCEPTED / CLOSED; msrp_trace off stops the next event; 127.0.0.2 filtered out; bins:trace off stops bins', async () => {
    const c = await collector();
    const s = await start(c.port, true);
    const p = await peer();
    const mport = port(s, 'msrp');
    const atServer = () => c.got.filter((r) => r.packet.dstPort === mport && r.packet.ipProto === 6);

    // from 127.0.0.2: the filter route drops it, nothing of it is traced
    const dropped = await p.msrp.connect('msrp', { host: '127.0.0.1', port: mport }, { listenerId: p.from2 });
    expect(dropped.local.host).toBe('127.0.0.2');
    await until(() => s.engine.connections('msrp').length === 1, 'the 127.0.0.2 connection');
    p.engine.close(dropped.id);
    await until(() => s.engine.connections('msrp').length === 0, 'its close');
    expect(s.stats.get('tracing:trace_filtered')!.value()).toBe(1);

    // from 127.0.0.1: traced
    const a = await p.msrp.connect('msrp', { host: '127.0.0.1', port: mport }, { listenerId: p.from1 });
    expect(a.local.host).toBe('127.0.0.1');
    await until(() => s.engine.connections('msrp').length === 1, 'the 127.0.0.1 connection');
    const acc = s.engine.connections('msrp')[0]!;
    await until(() => atServer().length === 1, 'its ACCEPTED');
    expect(await rpc(s, 'msrp_trace')).toMatchObject({ result: { 'MSRP tracing': 'on' } });
    expect(await rpc(s, 'msrp_trace', ['off'])).toMatchObject({ result: 'OK' });
    p.engine.close(a.id);
    await until(() => s.engine.connections('msrp').length === 0, 'the close while off');
    const b = await p.msrp.connect('msrp', { host: '127.0.0.1', port: mport }, { listenerId: p.from1 });
    await until(() => s.engine.connections('msrp').length === 1, 'a connection while off');
    expect(await rpc(s, 'msrp:trace', { trace_mode: 'on' })).toMatchObject({ result: 'OK' });
    p.engine.close(b.id);
    await until(() => atServer().length === 2, 'the CLOSED once on again');
    expect(atServer().map((r) => `${r.packet.srcIp} ${r.packet.correlationId === acc.cid.toString() ? 'first' : 'second'} ${text(r)}`)).toEqual([
      '127.0.0.1 first MSRP:ACCEPTED:SUCCESS:Connection accepted...',
      '127.0.0.1 second MSRP:CLOSED:SUCCESS:EOF received',
    ]);
    expect(atServer().every((r) => r.packet.protoType === 0x59)).toBe(true);

    // bins: bins:trace off (its legacy alias is tls_trace), no event of the next connection
    expect(await rpc(s, 'bins:trace', ['off'])).toMatchObject({ result: 'OK' });
    expect(await rpc(s, 'bins:trace')).toMatchObject({ result: { 'BINS tracing': 'off' } });
    const bport = port(s, 'bins');
    const bc = (await p.bin.send(new BinBuilder('x-trace-test', 1, 1).pushInt(1).build(), `bins:127.0.0.1:${bport}`))!;
    await until(() => s.engine.connections('bins').length === 1, 'the bins connection');
    p.engine.close(bc.id);
    await until(() => s.engine.connections('bins').length === 0, 'its close');
    // a last msrp event proves the collector is still reached (and that nothing of bins came before it)
    const last = await p.msrp.connect('msrp', { host: '127.0.0.1', port: mport }, { listenerId: p.from1 });
    await until(() => atServer().length === 3, 'the last msrp ACCEPTED');
    p.engine.close(last.id);
    await until(() => atServer().length === 4, 'the last msrp CLOSED');
    expect(c.got.filter((r) => r.packet.ipProto === 22)).toEqual([]);
  });
});
