// Through the x relay (msrp_relay on proto_msrp, fixed ports): two x clients and a client
// built only from the codec exchange SEND and REPORT over TCP and over TLS; tshark decodes the
// TCP capture as MSRP with no malformed packet.
import { connect as tlsConnect } from 'node:tls';
import { connect as netConnect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { capture, decode as tsharkDecode, freePort, type Capture } from '@x/test-peers';
import { attachRelay, decodeAll, digestAuthorization, encode, getHeader, type MsrpMessage, type MsrpRelay } from '../../src/index.js';
import { Client } from '../client.js';
import { collect, node, stop, waitUntil, type Node } from '../helpers.js';
import { RANGE } from './kamailio.js';

let relayNode: Node;
let relay: MsrpRelay;
let cap: Capture | undefined;
let tcpPort = 0;
let tlsPort = 0;
const clients: Client[] = [];
const USERS: Record<string, string> = { alice: 'a-pw', bob: 'b-pw', raw: 'r-pw' };

beforeAll(async () => {
  tcpPort = await freePort(RANGE);
  tlsPort = await freePort([tcpPort + 1, RANGE[1]]);
  cap = await capture({ ports: [tcpPort], durationSec: 100 });
  relayNode = await node({ tls: true });
  await relayNode.engine.listen(`msrp:127.0.0.1:${tcpPort}`);
  await relayNode.engine.listen(`msrps:127.0.0.1:${tlsPort}`);
  relay = attachRelay(
    relayNode.api,
    { my_uri: [`msrp://127.0.0.1:${tcpPort};tcp`, `msrps://127.0.0.1:${tlsPort};tcp`], auth_route: 'msrp_auth', auth_expires: 1800, auth_min_expires: 0, auth_max_expires: 0, calculate_ha1: true, cleanup_interval: 60, nonce_expire: 30, hash_size: 10 },
    { auth: (ctx) => USERS[ctx.username.replace(/(msrps?)$/, '')] },
  );
}, 60_000);

afterAll(async () => {
  relay?.close();
  await stop(...clients.map((c) => c.n), relayNode);
  await cap?.stop();
});

function rawConnect(proto: 'msrp' | 'msrps', port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s: Socket =
      proto === 'msrp'
        ? netConnect({ host: '127.0.0.1', port }, () => resolve(s))
        : tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => resolve(s));
    s.once('error', reject);
  });
}

describe.each(['msrp', 'msrps'] as const)('the x relay over %s', (proto) => {
  it('two x clients and a codec-only client exchange SEND and REPORT', async () => {
    const port = proto === 'msrp' ? tcpPort : tlsPort;
    const relayUrl = `${proto}://127.0.0.1:${port};tcp`;
    const a = await new Client(`alice${proto}`, proto).start({ host: '127.0.0.1', port });
    const b = await new Client(`bob${proto}`, proto).start({ host: '127.0.0.1', port });
    clients.push(a, b);
    const ua = getHeader(await a.auth(relayUrl, { username: `alice${proto}`, password: 'a-pw' }), 'Use-Path')!;
    const ub = getHeader(await b.auth(relayUrl, { username: `bob${proto}`, password: 'b-pw' }), 'Use-Path')!;
    expect(ua.startsWith(`${proto}://`)).toBe(true);
    expect(await a.send([ub, b.url], `${ua} ${a.url}`, 'x to x')).toMatchObject({ status: 200 });
    await waitUntil(() => b.bodies().includes('x to x'), 10_000);

    // the codec-only client
    const s = await rawConnect(proto, port);
    const out = collect(s);
    const me = `${proto}://127.0.0.1:${s.localPort}/raw;tcp`;
    const msgs = (): MsrpMessage[] => decodeAll(Buffer.from(out.data(), 'latin1'));
    const put = (m: MsrpMessage): void => void s.write(encode(m));
    put({ kind: 'request', method: 'AUTH', tid: 'ra1', continuation: '$', headers: [{ name: 'To-Path', value: relayUrl }, { name: 'From-Path', value: me }] });
    await waitUntil(() => msgs().length === 1, 10_000);
    const authz = digestAuthorization(getHeader(msgs()[0]!, 'WWW-Authenticate')!, { username: 'raw', password: 'r-pw', uri: relayUrl });
    put({ kind: 'request', method: 'AUTH', tid: 'ra2', continuation: '$', headers: [{ name: 'To-Path', value: relayUrl }, { name: 'From-Path', value: me }, { name: 'Authorization', value: authz }] });
    await waitUntil(() => msgs().length === 2, 10_000);
    expect(msgs()[1]).toMatchObject({ kind: 'response', status: 200 });
    const ur = getHeader(msgs()[1]!, 'Use-Path')!;
    // raw -> alice, asking for a success REPORT
    put({
      kind: 'request', method: 'SEND', tid: 'rs1', continuation: '$', body: Buffer.from('raw to x'),
      headers: [
        { name: 'To-Path', value: `${ua} ${a.url}` }, { name: 'From-Path', value: `${ur} ${me}` }, { name: 'Message-ID', value: `raw-${proto}` },
        { name: 'Byte-Range', value: '1-8/8' }, { name: 'Success-Report', value: 'yes' }, { name: 'Content-Type', value: 'text/plain' },
      ],
    });
    await waitUntil(() => a.bodies().includes('raw to x') && msgs().some((m) => m.tid === 'rs1'), 10_000);
    const sendToAlice = a.got.find((r) => r.msg.body?.toString() === 'raw to x')!;
    await a.n.api.sendRequest({
      method: 'REPORT', to: getHeader(sendToAlice.msg, 'From-Path')!.split(' '), from: a.url, connectionId: a.connId,
      headers: [{ name: 'Message-ID', value: `raw-${proto}` }, { name: 'Byte-Range', value: '1-8/8' }, { name: 'Status', value: '000 200 OK' }],
    });
    await waitUntil(() => msgs().some((m) => m.kind === 'request' && m.method === 'REPORT'), 10_000);
    const rep = msgs().find((m) => m.kind === 'request' && m.method === 'REPORT')!;
    expect(getHeader(rep, 'Status')).toBe('000 200 OK');
    expect(getHeader(rep, 'To-Path')).toBe(me);
    // x -> raw
    expect(await b.send([ur, me], `${ub} ${b.url}`, 'x to raw')).toMatchObject({ status: 200 });
    await waitUntil(() => msgs().some((m) => m.body?.toString() === 'x to raw'), 10_000);
    const toRaw = msgs().find((m) => m.body?.toString() === 'x to raw')!;
    expect(getHeader(toRaw, 'To-Path')).toBe(me);
    s.destroy();
  });
});

describe('tshark', () => {
  it('decodes the x relay\'s TCP traffic as MSRP with no malformed packet', async () => {
    await cap!.stop();
    const rows = await tsharkDecode(cap!.pcap, ['-d', `tcp.port==${tcpPort},msrp`], ['msrp.method', 'msrp.status.code', '_ws.malformed'], 'msrp');
    const methods = rows.flatMap((r) => (r['msrp.method'] ?? '').split(',')).filter(Boolean);
    expect(methods.filter((m) => m === 'AUTH').length).toBeGreaterThanOrEqual(6);
    expect(methods).toContain('SEND');
    expect(methods).toContain('REPORT');
    expect(rows.filter((r) => r['_ws.malformed'])).toEqual([]);
  });
});
