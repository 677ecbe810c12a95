// A HEP collector (x HEP listener over TCP) killed and restarted mid-traffic: the traced SIP
// traffic loses nothing, the trace loss shows in the metrics (tracing:trace_dropped,
// proto_hep:hep_send_dropped), and tracing resumes once the collector is back. The sender's
// retry cooldown (OpenSIPS's hep_retry_cooldown, 3600 s by default) is 0.3 s here.
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createStatsRegistry, type Engine, type MessageEvent, type TraceSink } from '@x/core-conn';
import { createTestEngine, waitUntil } from '@x/core-conn/testing';
import { attachHep, hepTcpSpec, type HepApi, type HepReceived } from '@x/proto-hep';
import { PROTO_TCP_DEFAULTS, tcpProtocolSpec } from '@x/proto-tcp';
import { attachTracing, createTracing } from '../src/index.js';

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function collector(got: HepReceived[], port = 0): Promise<{ engine: Engine; hep: HepApi; port: number }> {
  const engine = createTestEngine([hepTcpSpec()]);
  const hep = attachHep(engine);
  hep.registerHepCallback((r) => void got.push({ ...r, payload: Buffer.from(r.payload) }));
  const l = await engine.listen(`hep_tcp:127.0.0.1:${port}`);
  const stop = async () => {
    hep.close();
    await engine.shutdown({ deadlineMs: 0 });
  };
  cleanup.push(stop);
  return { engine, hep, port: l.address.port };
}

const options = (id: string): string =>
  `OPTIONS sip:a@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1;branch=z9hG4bK${id}\r\nCall-ID: ${id}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n`;

describe('collector restart', () => {
  it('killed and restarted: SIP traffic loses nothing, trace loss is counted, tracing resumes', async () => {
    const got: HepReceived[] = [];
    const c1 = await collector(got);
    const stats = createStatsRegistry();
    const engine = createTestEngine([tcpProtocolSpec(PROTO_TCP_DEFAULTS), hepTcpSpec()]);
    cleanup.push(() => engine.shutdown({ deadlineMs: 0 }));
    const sinks = new Map<string, TraceSink>();
    const hep = attachHep(engine, { hep_id: [`[hep_dst] 127.0.0.1:${c1.port}; transport=tcp`] }, {
      stats,
      registerSink: (s) => sinks.set(s.name, s),
      sender: { backoffMs: 10, maxBackoffMs: 50, maxRetries: 3, retryCooldown: 0.3 },
    });
    cleanup.push(() => hep.close());
    const tracing = createTracing({ modules: [{ module: 'proto_tcp', protocols: ['tcp'], destination: 'hep_dst', on: true }], sinks: { get: (n) => sinks.get(n), names: () => [...sinks.keys()] }, stats });
    cleanup.push(attachTracing(tracing));
    // the route: trace every message, answer it
    engine.on('message', (ev: MessageEvent) => {
      if (ev.conn.proto !== 'tcp') return;
      tracing.trace(ev.message);
      const id = /Call-ID: (\S+)/.exec((ev.message as Buffer).toString())![1]!;
      engine.write(ev.conn.id, Buffer.from(`SIP/2.0 200 OK\r\nCall-ID: ${id}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n`));
    });
    const l = await engine.listen('tcp:127.0.0.1:0');
    const s: Socket = connect({ host: '127.0.0.1', port: l.address.port });
    cleanup.push(() => s.destroy());
    await once(s, 'connect');
    let replies = 0;
    let text = '';
    s.on('data', (d: Buffer) => {
      text += d.toString();
      const parts = text.split('SIP/2.0 200 OK');
      replies += parts.length - 1;
      text = parts[parts.length - 1]!;
    });
    let sent = 0;
    const ask = async (id: string): Promise<void> => {
      sent++;
      s.write(options(id));
      await waitUntil(() => replies === sent, 10_000, `the reply to ${id}`);
    };
    const sipAt = (prefix: string) => got.filter((r) => r.packet.protoType === 1 && r.packet.correlationId!.startsWith(prefix));

    // 1. collector up: every message and reply traced
    for (let i = 0; i < 10; i++) await ask(`up-${i}`);
    await waitUntil(() => sipAt('up-').length === 20, 10_000, 'phase 1 at the collector');

    // 2. collector killed: traffic goes on, traces are dropped and counted
    await c1.engine.shutdown({ deadlineMs: 0 });
    c1.hep.close();
    let i = 0;
    await waitUntil(() => {
      if (replies !== sent) return false;
      if (stats.get('tracing:trace_dropped')!.value() > 0) return true;
      if (i < 2000) {
        sent++;
        s.write(options(`down-${i++}`));
      }
      return false;
    }, 20_000, 'a dropped trace while the collector is down');
    expect(replies).toBe(sent); // the traced traffic lost nothing
    const down = i;
    expect(down).toBeGreaterThan(0);
    expect(stats.get('proto_hep:hep_send_dropped')!.value()).toBeGreaterThan(0);

    // 3. collector back on the same port: after the cooldown, traces arrive again
    await collector(got, c1.port);
    let j = 0;
    await waitUntil(() => {
      if (sipAt('back-').length > 0) return true;
      if (replies === sent && j < 2000) {
        sent++;
        s.write(options(`back-${j++}`));
      }
      return false;
    }, 20_000, 'a trace after the restart');
    await waitUntil(() => replies === sent, 10_000, 'every reply');
    expect(replies).toBe(sent);
    // every trace handed over is accounted for: sent by the sender, dropped (counted) or still queued
    const st = hep.sender('hep_dst')!.stats();
    const handed = tracing.counts().sent + tracing.counts().dropped;
    expect(handed).toBe(2 * sent + 1); // + the connection's ACCEPTED
    expect(st.sent + st.dropped + st.queued).toBe(handed);
    expect(stats.get('tracing:trace_dropped')!.value()).toBe(tracing.counts().dropped);
    // the collector got at most what was sent (a packet written into a dying connection is lost uncounted)
    expect(got.filter((r) => r.packet.protoType === 1).length).toBeLessThanOrEqual(st.sent);
  });
});
