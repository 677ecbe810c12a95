// (a) sipp as UAC (-t t1 one socket, -t tn one socket per call) against a proto-tcp responder
// built on the public API; tshark on lo checks the wire.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { capture, countValues, decode, decodeAsSip, freePort, malformedCount, requireBinary, runSipp, type Capture } from '@x/test-peers';
import { createSipTcp, type SipTcp } from '../../src/index.js';
import { RANGE_A } from './helpers.js';

const T1_CALLS = 200;
const TN_CALLS = 50;

describe('sipp UAC -> proto-tcp responder', () => {
  let sip: SipTcp;
  let port: number;
  let cap: Capture;
  let requests = 0;
  const replyErrors: Error[] = [];

  beforeAll(async () => {
    requireBinary('sipp');
    requireBinary('tshark');
    port = await freePort(RANGE_A);
    sip = await createSipTcp({ listen: [`tcp:127.0.0.1:${port}`] });
    sip.on('request', (msg) => {
      requests++;
      msg.reply(200, 'OK').catch((e: Error) => replyErrors.push(e));
    });
    cap = await capture({ ports: [port], durationSec: 90 });
  });

  afterAll(async () => {
    await cap?.stop();
    await sip?.close();
  });

  it(`-t t1: ${T1_CALLS} OPTIONS on one connection all get 200`, async () => {
    const r = await runSipp({ transport: 't1', target: `127.0.0.1:${port}`, rate: 200, calls: T1_CALLS });
    expect({ exit: r.exitCode, ok: r.successful, failed: r.failed }, r.output).toEqual({ exit: 0, ok: T1_CALLS, failed: 0 });
  });

  it(`-t tn: ${TN_CALLS} OPTIONS each on its own connection all get 200`, async () => {
    const r = await runSipp({ transport: 'tn', target: `127.0.0.1:${port}`, rate: 50, calls: TN_CALLS });
    expect({ exit: r.exitCode, ok: r.successful, failed: r.failed }, r.output).toEqual({ exit: 0, ok: TN_CALLS, failed: 0 });
    expect(requests).toBe(T1_CALLS + TN_CALLS);
    expect(replyErrors).toEqual([]);
  });

  it('tshark sees every request and 200, with the same Call-IDs, and nothing malformed', async () => {
    await cap.stop();
    const dec = decodeAsSip([port]);
    const rows = await decode(cap.pcap, dec, ['tcp.stream', 'sip.Method', 'sip.Status-Code', 'sip.Call-ID', 'sip.CSeq'], 'sip');
    expect(countValues(rows, 'sip.Method').get('OPTIONS')).toBe(T1_CALLS + TN_CALLS);
    expect(countValues(rows, 'sip.Status-Code').get('200')).toBe(T1_CALLS + TN_CALLS);
    // requests and replies all carry sipp's CSeq back unchanged
    expect(countValues(rows, 'sip.CSeq').get('1 OPTIONS')).toBe(2 * (T1_CALLS + TN_CALLS));
    const reqIds = new Set<string>();
    const repIds = new Set<string>();
    for (const r of rows) {
      const ids = r['sip.Call-ID']!.split(',');
      const methods = r['sip.Method']!.split(',').filter(Boolean);
      // a frame holds either requests (sipp -> us) or replies (us -> sipp) here
      for (const id of ids) (methods.length > 0 ? reqIds : repIds).add(id);
    }
    expect(reqIds.size).toBe(T1_CALLS + TN_CALLS);
    expect([...repIds].sort()).toEqual([...reqIds].sort());
    // t1 = one TCP stream, tn = one per call
    expect(new Set(rows.map((r) => r['tcp.stream'])).size).toBe(1 + TN_CALLS);
    expect(await malformedCount(cap.pcap, dec)).toBe(0);
  });
});
