// (a) Kamailio 5.6 siptrace mirrors SIP as HEP v1/v2/v3 over UDP and v3 over TCP to a proto-hep
// listener while sipp sends OPTIONS to that Kamailio.
import { afterEach, describe, expect, it } from 'vitest';
import { freePort, runSipp, startKamailio, type KamailioPeer } from '@x/test-peers';
import { hepListener, RANGE, siptraceConfig, until } from './helpers.js';

let kam: KamailioPeer | undefined;
let listener: Awaited<ReturnType<typeof hepListener>> | undefined;
afterEach(async () => {
  await kam?.stop();
  kam = undefined;
  await listener?.close();
  listener = undefined;
});

const CALLS = 5;

describe('Kamailio siptrace -> proto-hep', () => {
  for (const [version, transport] of [[1, 'udp'], [2, 'udp'], [3, 'udp'], [3, 'tcp']] as const) {
    it(`HEPv${version} over ${transport}: every OPTIONS and 200 arrives with addresses, ports, time and capture id`, async () => {
      const hepPort = await freePort(RANGE, 'both');
      let sipPort = await freePort(RANGE, 'both');
      while (sipPort === hepPort) sipPort = await freePort(RANGE, 'both');
      listener = await hepListener(hepPort);
      kam = await startKamailio(siptraceConfig(sipPort, hepPort, version, transport), { port: sipPort, timeoutSec: 60 });
      const started = Date.now() / 1000;
      const r = await runSipp({ transport: 'u1', target: `127.0.0.1:${sipPort}`, rate: 10, calls: CALLS, timeoutSec: 30 });
      expect(r.successful, r.output).toBe(CALLS);
      expect(r.failed).toBe(0);
      const got = listener.got;
      await until(() => got.length >= 2 * CALLS, 5000);
      expect(got).toHaveLength(2 * CALLS);
      const options = got.filter((g) => g.payload.toString().startsWith('OPTIONS '));
      const replies = got.filter((g) => g.payload.toString().startsWith('SIP/2.0 200 Fixed Reply'));
      expect(options).toHaveLength(CALLS);
      expect(replies).toHaveLength(CALLS);
      for (const g of got) {
        const p = g.packet;
        expect(g.proto).toBe(transport === 'udp' ? 'hep_udp' : 'hep_tcp');
        expect(p.version).toBe(version);
        expect(p).toMatchObject({ family: 2, ipProto: 17, srcIp: '127.0.0.1', dstIp: '127.0.0.1' });
        if (version === 1) {
          expect(p.captureId).toBeUndefined();
        } else {
          expect(p.captureId).toBe(2001);
          expect(p.timestamp!.sec).toBeGreaterThanOrEqual(Math.floor(started) - 1);
          expect(p.timestamp!.sec).toBeLessThanOrEqual(Math.ceil(Date.now() / 1000) + 1);
          expect(p.timestamp!.usec).toBeLessThan(1_000_000);
        }
      }
      for (const g of options) expect(g.packet.dstPort).toBe(sipPort);
      for (const g of replies) expect(g.packet.srcPort).toBe(sipPort);
      // each reply goes back to the port its request came from
      const sippPorts = new Set(options.map((g) => g.packet.srcPort));
      for (const g of replies) expect(sippPorts.has(g.packet.dstPort!)).toBe(true);
      if (version === 3) expect(new Set(got.map((g) => g.packet.protoType))).toEqual(new Set([1]));
    });
  }
});
