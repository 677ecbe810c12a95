// (b) proto-hep sends HEP v1/v2/v3 to a Kamailio sipcapture collector storing into SQLite; the
// rows hold exactly what was sent. (c) tshark, with the Lua dissector shipped here, shows the
// encapsulated SIP in a live capture of that traffic. (d) v3 over TCP: Kamailio 5.6 frames HEP3
// on TCP only for event_route[sipcapture:request], so a second instance (peers.md §4(c)) takes
// the stream and relays each packet to the storing one.
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { capture, freePort, makeTempDir, requireBinary, runBounded, sipcaptureConfig, sipcaptureTcpFrontConfig, startKamailio, FIELD_ARGS, SIP_CAPTURE_SCHEMA, type KamailioPeer } from '@x/test-peers';
import { createEngine, type Engine } from '@x/core-conn';
import { attachHep, hepTcpSpec, hepUdpSpec, type HepApi } from '../../src/index.js';
import { RANGE, until } from './helpers.js';

let kam: KamailioPeer | undefined;
let front: KamailioPeer | undefined;
let engine: Engine | undefined;
let hep: HepApi | undefined;
afterEach(async () => {
  await front?.stop();
  front = undefined;
  await kam?.stop();
  kam = undefined;
  hep?.close();
  hep = undefined;
  await engine?.shutdown({ deadlineMs: 200 });
  engine = undefined;
});

const sipMsg = (v: number) =>
  `OPTIONS sip:bob@10.4.5.6:5080 SIP/2.0\r\nVia: SIP/2.0/UDP 10.1.2.3:5070;branch=z9hG4bK-x-${v}\r\n` +
  `From: <sip:alice@10.1.2.3>;tag=a${v}\r\nTo: <sip:bob@10.4.5.6>\r\nCall-ID: x-hep-v${v}@10.1.2.3\r\n` +
  `CSeq: ${v} OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n`;

interface Row {
  method: string; callid: string; source_ip: string; source_port: number; destination_ip: string; destination_port: number;
  micro_ts: number; node: string; proto: number; family: number; correlation_id: string; msg: string; type: number;
}

describe('proto-hep -> Kamailio sipcapture (SQLite) and tshark', () => {
  it('v1, v2 and v3 packets are stored with exactly the sent fields; tshark decodes the SIP inside', async () => {
    const sqlite = requireBinary('sqlite3');
    const dir = makeTempDir('x-hep-sqlite-');
    const db = join(dir, 'capture.db');
    const mk = await runBounded(sqlite, [db, SIP_CAPTURE_SCHEMA], 20);
    expect(mk.code, mk.stderr).toBe(0);
    const port = await freePort(RANGE, 'both');
    kam = await startKamailio(sipcaptureConfig(port, db), { port, timeoutSec: 60 });
    const cap = await capture({ ports: [port], durationSec: 40 });

    engine = createEngine({});
    engine.registerProtocol(hepUdpSpec() as never);
    engine.registerProtocol(hepTcpSpec() as never);
    await engine.listen('hep_udp:127.0.0.1:0');
    hep = attachHep(engine, { hep_capture_id: 2001 });
    const from = { host: '10.1.2.3', port: 5070 };
    const to = { host: '10.4.5.6', port: 5080 };
    const ts = { sec: 1_700_000_000 + 17, usec: 654_321 };
    const before = Date.now() * 1000;
    for (const v of [1, 2, 3] as const) {
      const s = hep.addDestination(`[v${v}] 127.0.0.1:${port}; transport=udp; version=${v}`);
      s.send(hep.packHep(from, to, 'udp', sipMsg(v), { version: v, timestamp: ts, ...(v === 3 ? { correlationId: 'corr-v3' } : {}) }));
      await until(() => s.stats().sent === 1, 3000);
      expect(s.stats()).toMatchObject({ sent: 1, dropped: 0 });
    }

    const query = async (): Promise<Row[]> => {
      const r = await runBounded(sqlite, ['-json', db, 'SELECT method, callid, source_ip, source_port, destination_ip, destination_port, micro_ts, node, proto, family, correlation_id, msg, type FROM sip_capture ORDER BY callid'], 20);
      return r.stdout.trim() ? (JSON.parse(r.stdout) as Row[]) : [];
    };
    let rows: Row[] = [];
    for (let i = 0; i < 50 && rows.length < 3; i++) {
      rows = await query();
      if (rows.length < 3) await new Promise((r) => setTimeout(r, 200));
    }
    expect(rows, kam.log().slice(-2000)).toHaveLength(3);
    for (const [i, row] of rows.entries()) {
      const v = i + 1;
      expect(row).toMatchObject({
        method: 'OPTIONS', callid: `x-hep-v${v}@10.1.2.3`, source_ip: '10.1.2.3', source_port: 5070,
        destination_ip: '10.4.5.6', destination_port: 5080, proto: 1, family: 2, type: 1,
        node: v === 1 ? 'kamcap' : 'kamcap:2001',
        correlation_id: v === 3 ? 'corr-v3' : `x-hep-v${v}@10.1.2.3`,
      });
      expect(row.msg).toBe(sipMsg(v));
      if (v === 1) {
        // v1 has no time: the collector's arrival time
        expect(row.micro_ts).toBeGreaterThanOrEqual(before - 2_000_000);
      } else {
        expect(row.micro_ts).toBe(ts.sec * 1_000_000 + ts.usec);
      }
    }

    await cap.stop();
    const lua = join(import.meta.dirname, 'hep.lua');
    const t = await runBounded(requireBinary('tshark'), [
      '-r', cap.pcap, '-X', `lua_script:${lua}`, '-d', `udp.port==${port},hep`, ...FIELD_ARGS,
      '-e', 'hep.version', '-e', 'hep.capture_id', '-e', 'hep.src_port', '-e', 'hep.dst_port', '-e', 'sip.Method', '-e', 'sip.Call-ID', '-Y', 'hep',
    ], 30);
    expect(t.code, t.stderr).toBe(0);
    const lines = t.stdout.trim().split('\n').slice(1).map((l) => l.split('\t'));
    expect(lines.map((l) => l[0])).toEqual(['1', '2', '3']);
    for (const [i, l] of lines.entries()) {
      expect(l[1]).toBe(i === 0 ? '' : '2001');
      expect(l.slice(2)).toEqual(['5070', '5080', 'OPTIONS', `x-hep-v${i + 1}@10.1.2.3`]);
    }
  });

  it('v3 over TCP (back-to-back packets on one connection) through a tcp_accept_hep3 front is stored with exactly the sent fields', async () => {
    const sqlite = requireBinary('sqlite3');
    const dir = makeTempDir('x-hep-sqlite-tcp-');
    const db = join(dir, 'capture.db');
    const mk = await runBounded(sqlite, [db, SIP_CAPTURE_SCHEMA], 20);
    expect(mk.code, mk.stderr).toBe(0);
    const port = await freePort(RANGE, 'both');
    kam = await startKamailio(sipcaptureConfig(port, db), { port, timeoutSec: 60 });
    let frontPort = await freePort(RANGE, 'both');
    while (frontPort === port) frontPort = await freePort(RANGE, 'both');
    front = await startKamailio(sipcaptureTcpFrontConfig(frontPort, port, db), { port: frontPort, timeoutSec: 60 });

    engine = createEngine({});
    engine.registerProtocol(hepUdpSpec() as never);
    engine.registerProtocol(hepTcpSpec() as never);
    await engine.listen('hep_tcp:127.0.0.1:0');
    hep = attachHep(engine, { hep_capture_id: 2001 });
    hep.checkListeners();
    const s = hep.addDestination(`[tcp] 127.0.0.1:${frontPort}`);
    expect(s.dest).toMatchObject({ transport: 'tcp', version: 3 });
    const from = { host: '10.1.2.3', port: 5070 };
    const to = { host: '10.4.5.6', port: 5080 };
    const N = 3;
    for (let i = 1; i <= N; i++) {
      s.send(hep.packHep(from, to, 'tcp', sipMsg(10 + i), { timestamp: { sec: 1_700_000_100, usec: i }, correlationId: `corr-tcp-${i}` }));
    }
    await until(() => s.stats().sent === N, 5000);
    expect(s.stats()).toMatchObject({ sent: N, dropped: 0 });
    expect(engine.connections('hep_tcp')).toHaveLength(1);

    const q = 'SELECT method, callid, source_ip, source_port, destination_ip, destination_port, micro_ts, node, proto, family, correlation_id, msg, type FROM sip_capture ORDER BY callid';
    let rows: Row[] = [];
    for (let i = 0; i < 50 && rows.length < N; i++) {
      const r = await runBounded(sqlite, ['-json', db, q], 20);
      rows = r.stdout.trim() ? (JSON.parse(r.stdout) as Row[]) : [];
      if (rows.length < N) await new Promise((r) => setTimeout(r, 200));
    }
    expect(rows, `${front.log().slice(-2000)}\n${kam.log().slice(-2000)}`).toHaveLength(N);
    for (const [k, row] of rows.entries()) {
      const i = k + 1;
      expect(row).toMatchObject({
        method: 'OPTIONS', callid: `x-hep-v${10 + i}@10.1.2.3`, source_ip: '10.1.2.3', source_port: 5070,
        destination_ip: '10.4.5.6', destination_port: 5080, proto: 2, family: 2, type: 1, node: 'kamcap:2001',
        correlation_id: `corr-tcp-${i}`, micro_ts: 1_700_000_100 * 1_000_000 + i,
      });
      expect(row.msg).toBe(sipMsg(10 + i));
    }
    // the front decoded each packet's HEP header off the TCP stream
    for (let i = 1; i <= N; i++) {
      expect(front.log()).toContain(`HEPTCP version=3 capture=2001 src=10.1.2.3:5070 dst=10.4.5.6:5080 corr=corr-tcp-${i}`);
    }
  });
});
