import { afterEach, describe, expect, it } from 'vitest';
import { NOOP_LOGGER, validateParams, type RawParam } from '@x/core-conn';
import { createTestEngine } from '@x/core-conn/testing';
import { generate } from 'selfsigned';
import { attachMsrp, certMatches, msrpSpec, msrpsSpec, protoMsrpModule, type MsrpApi, type ProtoMsrpParams } from '../src/index.js';
import { selfSigned, stop, waitUntil, type Node } from './helpers.js';

// cert_check_on_conn_reusage: an outbound msrps connection is reused for a send only when its
// peer certificate names the destination; otherwise a new connection is made. Shown with a
// server whose certificate names 127.0.0.1 (matches) and one whose names other.example only.

let otherPem: { cert: string; key: string } | undefined;
async function otherCert(): Promise<{ cert: string; key: string }> {
  if (!otherPem) {
    const r = await generate([{ name: 'commonName', value: 'other.example' }], {
      keyType: 'ec',
      algorithm: 'sha256',
      extensions: [{ name: 'subjectAltName', altNames: [{ type: 2, value: 'other.example' }] }],
    });
    otherPem = { cert: r.cert, key: r.private };
  }
  return otherPem;
}

const params = (raw: Record<string, number> = {}): ProtoMsrpParams =>
  validateParams<ProtoMsrpParams>('proto_msrp', protoMsrpModule.params, new Map(Object.entries(raw).map(([k, v]) => [k, [{ value: v } as RawParam]])));

let nodes: Node[] = [];
afterEach(async () => {
  await stop(...nodes);
  nodes = [];
});

/** An msrps server presenting `pem`, answering every SEND 200; counts the connections it accepts. */
async function server(pem: { cert: string; key: string }, certCheckOnReuse = false): Promise<Node & { accepted: () => number }> {
  const p = { ...params(), send_timeout: 1000, tls_handshake_timeout: 5000 };
  const engine = createTestEngine([msrpSpec(p) as never, msrpsSpec(p) as never], {
    tlsDomains: [{ name: 'srv', side: 'server', certificate: pem.cert, privateKey: pem.key, verifyCert: false, requireCert: false }],
    tlsHandshakeTimeout: 5000,
  });
  const api = attachMsrp(engine, { certCheckOnReuse });
  let accepted = 0;
  engine.on('accept', () => accepted++);
  api.registerHandler({ host: '*', port: 0, secured: true }, (req, a) => a.sendReply(req, 200, 'OK'));
  const tlsListener = await engine.listen('msrps:127.0.0.1:0');
  const n = { engine, api, tlsListener, accepted: () => accepted };
  nodes.push(n);
  return n;
}

/** A client engine loaded through the proto_msrp module with cert_check_on_conn_reusage = `check`. */
async function client(check: 0 | 1): Promise<Node> {
  const p = { ...params({ cert_check_on_conn_reusage: check }), send_timeout: 1000, tls_handshake_timeout: 5000 };
  const engine = createTestEngine(protoMsrpModule.protocols!(p), {
    tlsDomains: [{ name: 'cli', side: 'client', verifyCert: false }],
    tlsHandshakeTimeout: 5000,
  });
  const inst = await protoMsrpModule.init({ engine, logger: NOOP_LOGGER, modules: new Map() } as never, p);
  const n = { engine, api: inst.api as MsrpApi };
  nodes.push(n);
  return n;
}

async function sendTwice(c: Node, s: Node): Promise<number[]> {
  const port = s.tlsListener!.address.port;
  const ids: number[] = [];
  for (let i = 0; i < 2; i++) {
    const rpl = await c.api.sendRequest({
      method: 'SEND',
      to: [`msrps://127.0.0.1:${port}/s${i};tcp`],
      from: `msrps://127.0.0.1:1/c;tcp`,
      headers: [{ name: 'Message-ID', value: `m${i}` }],
      body: 'hi',
      contentType: 'text/plain',
    });
    expect(rpl!.msg.status).toBe(200);
    ids.push(rpl!.conn.id);
  }
  return ids;
}

describe('proto_msrp cert_check_on_conn_reusage', () => {
  it('certMatches: IP SAN, DNS SAN, CN; nothing else', async () => {
    const good = await selfSigned();
    const { X509Certificate } = await import('node:crypto');
    const asPeer = (pem: string): unknown => {
      const x = new X509Certificate(pem);
      const cn = /CN=([^\n,]+)/.exec(x.subject)?.[1];
      return { subjectaltname: x.subjectAltName, subject: cn !== undefined ? { CN: cn } : {} };
    };
    expect(certMatches(asPeer(good.cert), '127.0.0.1')).toBe(true);
    expect(certMatches(asPeer(good.cert), 'localhost')).toBe(true);
    expect(certMatches(asPeer(good.cert), '127.0.0.2')).toBe(false);
    const other = await otherCert();
    expect(certMatches(asPeer(other.cert), '127.0.0.1')).toBe(false);
    expect(certMatches(asPeer(other.cert), 'OTHER.example')).toBe(true);
    expect(certMatches(undefined, '127.0.0.1')).toBe(false);
  });

  it.each([
    [1, 'matches', 1],
    [1, 'does not match', 2],
    [0, 'matches', 1],
    [0, 'does not match', 1],
  ] as const)('cert_check_on_conn_reusage=%i, peer certificate %s the destination: %i connection(s) for two SENDs', async (check, how, expected) => {
    const s = await server(how === 'matches' ? await selfSigned() : await otherCert());
    const c = await client(check);
    const ids = await sendTwice(c, s);
    expect(s.accepted()).toBe(expected);
    if (expected === 1) expect(ids[1]).toBe(ids[0]);
    else expect(ids[1]).not.toBe(ids[0]);
    // the refused connection stays open (it is only not reused)
    expect(c.engine.connections('msrps').length).toBe(expected);
  });

  it('with the check on, a connection the peer opened is still used to reach it (the relay delivering on the inbound connection of bob)', async () => {
    // the check is on connections this side made: an accepted one carries the peer's client
    // certificate (none here), and the peer's URL names its ephemeral port, where nothing listens
    const s = await server(await otherCert(), true);
    const c = await client(0);
    const got: string[] = [];
    c.api.registerHandler({ host: '*', port: 0, secured: true }, (req) => got.push(req.msg.method));
    const conn = await c.api.connect('msrps', s.tlsListener!.address);
    await s.api.sendRequest({
      method: 'REPORT',
      to: [`msrps://127.0.0.1:${conn.local.port}/c;tcp`],
      from: `msrps://127.0.0.1:${s.tlsListener!.address.port}/s;tcp`,
      headers: [{ name: 'Message-ID', value: 'r1' }, { name: 'Byte-Range', value: '1-2/2' }, { name: 'Status', value: '000 200 OK' }],
    });
    await waitUntil(() => got.length === 1, 5000, 'the REPORT on the inbound connection');
    expect(got).toEqual(['REPORT']);
    expect(s.engine.connections('msrps').map((x) => x.accepted)).toEqual([true]);
  });
});
