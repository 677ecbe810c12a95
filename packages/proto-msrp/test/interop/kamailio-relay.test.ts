// Two x MSRP clients AUTH to Kamailio 5.6's msrp relay (Debian, config written here), over
// TCP and over TLS (self-signed), and exchange a SEND through it: the far client gets the
// message, the sender its 200. tshark then decodes the TCP capture as MSRP, none malformed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { capture, decode as tsharkDecode, freePort, startKamailio, type Capture, type KamailioPeer } from '@x/test-peers';
import { getHeader } from '../../src/index.js';
import { Client } from '../client.js';
import { selfSigned, stop, waitUntil } from '../helpers.js';
import { kamailioMsrpConfig, RANGE } from './kamailio.js';

let kam: KamailioPeer | undefined;
let cap: Capture | undefined;
let tcpPort = 0;
let tlsPort = 0;
const clients: Client[] = [];

beforeAll(async () => {
  tcpPort = await freePort(RANGE);
  tlsPort = await freePort([tcpPort + 1, RANGE[1]]);
  cap = await capture({ ports: [tcpPort], durationSec: 100 });
  kam = await startKamailio(kamailioMsrpConfig(tcpPort, tlsPort, await selfSigned()), { port: tcpPort, timeoutSec: 110 });
}, 60_000);

afterAll(async () => {
  await stop(...clients.map((c) => c.n));
  await kam?.stop();
  await cap?.stop();
});

async function pair(proto: 'msrp' | 'msrps'): Promise<[Client, Client, string]> {
  const port = proto === 'msrp' ? tcpPort : tlsPort;
  const a = await new Client(`alice${proto}`, proto).start({ host: '127.0.0.1', port });
  const b = await new Client(`bob${proto}`, proto).start({ host: '127.0.0.1', port });
  clients.push(a, b);
  return [a, b, `${proto}://127.0.0.1:${port};tcp`];
}

describe.each(['msrp', 'msrps'] as const)('x clients through Kamailio\'s msrp relay over %s', (proto) => {
  it('AUTH gets 200 with Use-Path; a SEND reaches the far client, the sender gets its 200', async () => {
    const [a, b, relay] = await pair(proto);
    const okA = await a.auth(relay);
    const okB = await b.auth(relay);
    expect(okA).toMatchObject({ status: 200 });
    expect(okB).toMatchObject({ status: 200 });
    // Use-Path names the TCP port (one use_path_addr); over TLS the scheme is msrps (routing is by session)
    const fix = (u: string): string => (proto === 'msrps' ? u.replace(/^msrp:/, 'msrps:') : u);
    const ua = fix(getHeader(okA, 'Use-Path')!);
    const ub = fix(getHeader(okB, 'Use-Path')!);
    expect(getHeader(okA, 'Expires')).toMatch(/^\d+$/);
    const rpl = await a.send([ub, b.url], `${ua} ${a.url}`, `hello bob over ${proto} via kamailio`);
    expect(rpl).toMatchObject({ status: 200 });
    await waitUntil(() => b.got.length === 1, 10_000);
    const got = b.got[0]!.msg;
    expect(got.body?.toString()).toBe(`hello bob over ${proto} via kamailio`);
    expect(getHeader(got, 'To-Path')).toBe(b.url);
    expect(getHeader(got, 'From-Path')).toBe(`${ub} ${ua} ${a.url}`);
    // and back
    const back = await b.send([ua, a.url], `${ub} ${b.url}`, 'hi alice');
    expect(back).toMatchObject({ status: 200 });
    await waitUntil(() => a.got.some((r) => r.msg.method === 'SEND'), 10_000);
    expect(a.bodies()).toEqual(['hi alice']);
  });
});

describe('tshark', () => {
  it('decodes the TCP capture as MSRP with no malformed packet', async () => {
    await cap!.stop();
    const rows = await tsharkDecode(cap!.pcap, ['-d', `tcp.port==${tcpPort},msrp`], ['msrp.method', 'msrp.status.code', 'msrp.transaction.id', '_ws.malformed'], 'msrp');
    const methods = rows.flatMap((r) => (r['msrp.method'] ?? '').split(',')).filter(Boolean);
    const codes = rows.flatMap((r) => (r['msrp.status.code'] ?? '').split(',')).filter(Boolean);
    expect(methods.filter((m) => m === 'AUTH')).toHaveLength(2);
    expect(methods.filter((m) => m === 'SEND').length).toBeGreaterThanOrEqual(4);
    expect(codes.filter((c) => c === '200').length).toBeGreaterThanOrEqual(4);
    expect(rows.filter((r) => r['_ws.malformed'])).toEqual([]);
  });
});
