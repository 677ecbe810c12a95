// Streaming framers: a test framer (not MSRP) that streams bodies passes the compliance suite
// over TCP and TLS, and the engine keeps OpenSIPS's meaning for a streamed message.
import fc from 'fast-check';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { subscribeTap, type TapMessageEvent } from '../src/tap.js';
import { runFramerCompliance } from '../src/testing/framer-compliance.js';
import { makePki } from './certs.js';
import { lpEngine, rawClient, stopAll, until, waitFor } from './helpers.js';
import { stAssemble, stEncode, stSpec, type StMsg } from './stream-proto.js';

const arbitraryMessage = fc.uint8Array({ maxLength: 3000 }).map((b): StMsg => ({ body: Buffer.from(b) }));
const streamedMessage: StMsg = { body: Buffer.alloc(200_000, 0x61).fill(0x62, 100_000) };
const equals = (a: StMsg, b: StMsg): boolean => a.body.equals(b.body);
const base = {
  spec: stSpec(),
  encode: stEncode,
  arbitraryMessage,
  equals,
  assemble: stAssemble,
  streamedMessage,
  incomplete: Buffer.from('LEN 123456', 'latin1'),
  numRuns: 100,
};

runFramerCompliance({ name: 'streaming test framer over tcp', ...base });

// TLS: the certificate is made before the suite's tests run (runFramerCompliance reads opts lazily)
const tls = { certificate: '', privateKey: '' };
beforeAll(async () => {
  const pki = await makePki();
  tls.certificate = pki.a.cert;
  tls.privateKey = pki.a.key;
});
runFramerCompliance({ name: 'streaming test framer over tls', ...base, transport: 'tls', tls, numRuns: 20 });

afterEach(stopAll);

describe('streamed messages on the engine', () => {
  it('emits messageStart, messagePart..., messageEnd, and publishes head and parts on the tap', async () => {
    const e = lpEngine({}, stSpec() as never);
    const l = await e.listen('st:127.0.0.1:0');
    const seen: string[] = [];
    let body = 0;
    e.on('messageStart', () => seen.push('start'));
    e.on('messagePart', (ev) => (body += ev.data.length));
    e.on('messageEnd', () => seen.push('end'));
    e.on('message', () => seen.push('message'));
    const tapIn: TapMessageEvent[] = [];
    let tapBody = 0;
    let tapLast = 0;
    const off = subscribeTap({ only: ['st'], onMessageIn: (ev) => tapIn.push(ev), onMessagePart: (ev) => (ev.last ? tapLast++ : (tapBody += ev.bytes.length)) });
    try {
      const sock = await rawClient(l);
      sock.write(stEncode({ body: Buffer.from('tiny') }));
      sock.write(stEncode(streamedMessage));
      sock.write(stEncode({ body: Buffer.from('after') }));
      await until(() => seen.length === 4, 10_000, 'three messages');
      expect(seen).toEqual(['message', 'start', 'end', 'message']);
      expect(body).toBe(streamedMessage.body.length);
      expect(tapIn.map((ev) => Boolean(ev.streamed))).toEqual([false, true, false]);
      expect(tapIn[1]!.bytes.toString('latin1')).toBe(`LEN ${streamedMessage.body.length}\r\n`);
      expect(tapBody).toBe(streamedMessage.body.length);
      expect(tapLast).toBe(1);
      expect(e.stats.get('st:rcv_msgs')!.value()).toBe(3);
      sock.destroy();
    } finally {
      off();
    }
  });

  it('a framer that calls part() outside a message closes its connection (Read error)', async () => {
    const spec = stSpec({ name: 'bad', createFramer: () => ({ pendingBytes: 0, push: (_c, sink) => sink.part(Buffer.from('x')) }) });
    const e = lpEngine({}, spec as never);
    const l = await e.listen('bad:127.0.0.1:0');
    const closed = waitFor(e, 'close');
    const sock = await rawClient(l);
    sock.write('x');
    const ev = await closed;
    expect(ev.reason).toBe('Read error');
    expect(ev.error!.message).toContain('part() outside');
    sock.destroy();
  });
});
