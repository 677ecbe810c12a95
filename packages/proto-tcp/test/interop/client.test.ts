// (b) proto-tcp as the client: OPTIONS to a Kamailio 5.6 stateless responder and to a sipp UAS,
// on one reused connection and then on new ones; tshark on lo checks the wire.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  capture,
  countValues,
  decode,
  decodeAsSip,
  freePort,
  malformedCount,
  requireBinary,
  startKamailio,
  startSippUas,
  writeKamailioConfig,
  type Capture,
  type KamailioPeer,
  type SippUas,
} from '@x/test-peers';
import { createSipTcp, type SipMessage, type SipTcp } from '../../src/index.js';
import { RANGE_B, newCallId, optionsRequest } from './helpers.js';

const REUSED = 100;
const FRESH = 5;
const HOST = '127.0.0.1';

describe('proto-tcp client -> Kamailio and sipp UAS', () => {
  let sip: SipTcp;
  let local: { host: string; port: number };
  let kam: KamailioPeer | undefined;
  let uas: SippUas | undefined;
  let kamPort: number;
  let uasPort: number;
  let cap: Capture;
  const waiting = new Map<string, (m: SipMessage) => void>();
  const responses: SipMessage[] = [];

  function expectReply(callId: string): Promise<SipMessage> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        waiting.delete(callId);
        reject(new Error(`no reply for ${callId} within 5 s`));
      }, 5000);
      waiting.set(callId, (m) => {
        clearTimeout(t);
        resolve(m);
      });
    });
  }

  /** n OPTIONS pipelined on whatever connection the engine reuses; returns the replies and connection ids */
  async function burst(port: number, n: number, tag: string): Promise<{ statuses: number[]; connIds: Set<number> }> {
    const connIds = new Set<number>();
    const pending: Promise<SipMessage>[] = [];
    for (let i = 0; i < n; i++) {
      const id = newCallId(tag, i);
      pending.push(expectReply(id));
      const c = await sip.send({ host: HOST, port }, optionsRequest({ host: HOST, port }, local, id, i + 1));
      connIds.add(c.id);
    }
    const replies = await Promise.all(pending);
    return { statuses: replies.map((r) => r.status!), connIds };
  }

  /** one OPTIONS per new connection: the previous one is closed first */
  async function freshConnections(port: number, n: number, tag: string): Promise<{ statuses: number[]; connIds: Set<number> }> {
    const connIds = new Set<number>();
    const statuses: number[] = [];
    for (let i = 0; i < n; i++) {
      for (const c of sip.engine.connections('tcp')) {
        if (c.remote.port === port) sip.engine.close(c.id);
      }
      const id = newCallId(tag, i);
      const p = expectReply(id);
      const c = await sip.send({ host: HOST, port }, optionsRequest({ host: HOST, port }, local, id));
      connIds.add(c.id);
      statuses.push((await p).status!);
    }
    return { statuses, connIds };
  }

  beforeAll(async () => {
    requireBinary('kamailio');
    requireBinary('sipp');
    requireBinary('tshark');
    const listenPort = await freePort(RANGE_B);
    kamPort = await freePort(RANGE_B, 'both');
    uasPort = await freePort(RANGE_B);
    sip = await createSipTcp({ listen: [`tcp:${HOST}:${listenPort}`] });
    local = { host: HOST, port: listenPort };
    sip.on('response', (m) => {
      responses.push(m);
      const cb = waiting.get(m.callId ?? '');
      if (cb) {
        waiting.delete(m.callId!);
        cb(m);
      }
    });
    cap = await capture({ ports: [kamPort, uasPort], durationSec: 90 });
    kam = await startKamailio(writeKamailioConfig('stateless', { port: kamPort }), { port: kamPort, timeoutSec: 100 });
    uas = await startSippUas({ port: uasPort, transport: 't1', calls: REUSED + FRESH, timeoutSec: 90 });
  });

  afterAll(async () => {
    await Promise.all([kam?.stop(), uas?.stop(), cap?.stop()]);
    await sip?.close();
  });

  it(`Kamailio: ${REUSED} OPTIONS on one reused connection all get 200 Fixed Reply`, async () => {
    const r = await burst(kamPort, REUSED, 'kam');
    expect(r.statuses).toEqual(Array<number>(REUSED).fill(200));
    expect(r.connIds.size).toBe(1);
    const fromKam = responses.filter((m) => m.conn.remote.port === kamPort);
    expect(fromKam.every((m) => m.reason === 'Fixed Reply')).toBe(true);
  });

  it(`Kamailio: ${FRESH} OPTIONS each on a new connection all get 200`, async () => {
    const r = await freshConnections(kamPort, FRESH, 'kamnew');
    expect(r.statuses).toEqual(Array<number>(FRESH).fill(200));
    expect(r.connIds.size).toBe(FRESH);
  });

  it(`sipp UAS: ${REUSED} on one connection, then ${FRESH} on new ones, all get 200; sipp counts them`, async () => {
    const a = await burst(uasPort, REUSED, 'uas');
    expect(a.statuses).toEqual(Array<number>(REUSED).fill(200));
    expect(a.connIds.size).toBe(1);
    const b = await freshConnections(uasPort, FRESH, 'uasnew');
    expect(b.statuses).toEqual(Array<number>(FRESH).fill(200));
    expect(b.connIds.size).toBe(FRESH);
    // sipp -m exits by itself once it has handled every call
    const exit = await Promise.race([uas!.exited, new Promise<undefined>((r) => setTimeout(() => r(undefined), 15_000))]);
    expect(exit?.code, uas!.log().slice(-2000)).toBe(0);
    const st = uas!.stats();
    expect({ ok: st.successful, failed: st.failed }).toEqual({ ok: REUSED + FRESH, failed: 0 });
  });

  it('Kamailio stops by PID within bounded time; tshark sees every request and 200, nothing malformed', async () => {
    const k = await kam!.stop();
    expect(k).toBeDefined();
    expect(kam!.log()).not.toMatch(/CRITICAL|ERROR/);
    await cap.stop();
    const dec = decodeAsSip([kamPort, uasPort]);
    const rows = await decode(cap.pcap, dec, ['tcp.dstport', 'sip.Method', 'sip.Status-Code', 'sip.Status-Line'], 'sip');
    const total = 2 * (REUSED + FRESH);
    expect(countValues(rows, 'sip.Method').get('OPTIONS')).toBe(total);
    expect(countValues(rows, 'sip.Status-Code').get('200')).toBe(total);
    expect(countValues(rows, 'sip.Status-Line').get('SIP/2.0 200 Fixed Reply')).toBe(REUSED + FRESH);
    expect(await malformedCount(cap.pcap, dec)).toBe(0);
  });
});
