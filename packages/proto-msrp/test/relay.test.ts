import { afterEach, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { attachRelay, decode, type AttachMsrpOptions, getHeader, parseDigest, type MsrpAuthContext, type MsrpRelay, type MsrpRelayParams } from '../src/index.js';
import { Client } from './client.js';
import { collect, node, raw, stop, waitUntil, type Node } from './helpers.js';

const PARAMS: MsrpRelayParams = {
  my_uri: [], auth_route: 'msrp_auth', auth_expires: 1800, auth_min_expires: 60, auth_max_expires: 3600,
  calculate_ha1: true, cleanup_interval: 60, nonce_expire: 30, hash_size: 10,
};
const USERS: Record<string, string> = { alice: 'alicepw', bob: 'bobpw' };

let relayNode: Node | undefined;
let relay: MsrpRelay | undefined;
let clients: Client[] = [];
const authCalls: MsrpAuthContext[] = [];
afterEach(async () => {
  relay?.close();
  await stop(relayNode, ...clients.map((c) => c.n));
  relayNode = undefined;
  clients = [];
  authCalls.length = 0;
});

async function startRelay(over: Partial<MsrpRelayParams> = {}, api: AttachMsrpOptions = {}): Promise<string> {
  relayNode = await node({ listen: true, api });
  const port = relayNode.listener!.address.port;
  relay = attachRelay(relayNode.api, { ...PARAMS, my_uri: [`msrp://127.0.0.1:${port};tcp`], ...over }, {
    auth: async (ctx) => {
      authCalls.push(ctx);
      return USERS[ctx.username];
    },
  });
  return `msrp://127.0.0.1:${port};tcp`;
}
async function cl(name: string): Promise<Client> {
  const c = await new Client(name).start(relayNode!.listener!.address);
  clients.push(c);
  return c;
}

describe('msrp_relay', () => {
  it('AUTH: 401 with qop="auth", then 200 with Use-Path, Expires and Authentication-Info; the route got the user and realm', async () => {
    const uri = await startRelay();
    const a = await cl('alice');
    const first = await a.n.api.sendRequest({ method: 'AUTH', to: [uri], from: a.url, connectionId: a.connId });
    expect(first!.msg).toMatchObject({ status: 401, reason: 'Unauthorized' });
    const www = parseDigest(getHeader(first!.msg, 'WWW-Authenticate')!)!;
    expect(www).toMatchObject({ realm: '127.0.0.1', qop: 'auth' });
    expect(www.nonce).toBeTruthy();
    const ok = await a.auth(uri, { username: 'alice', password: 'alicepw' });
    expect(ok).toMatchObject({ status: 200, reason: 'OK' });
    expect(getHeader(ok, 'Use-Path')).toMatch(new RegExp(`^${uri.replace(';tcp', '')}/[A-Za-z0-9_-]+;tcp$`));
    expect(getHeader(ok, 'Expires')).toBe('1800');
    expect(getHeader(ok, 'Authentication-Info')).toMatch(/^qop=auth, cnonce="[0-9a-f]+", nc=00000001, rspauth="[0-9a-f]{32}"$/);
    expect(authCalls[0]).toMatchObject({ username: 'alice', realm: '127.0.0.1', source: { host: '127.0.0.1' } });
    // the route also gets the AUTH request itself (x-server: ctx.message, which ctx.trace() traces)
    expect(authCalls[0]!.message).toMatchObject({ kind: 'request', method: 'AUTH' });
    expect(getHeader(authCalls[0]!.message, 'Authorization')).toMatch(/^Digest username="alice"/);
    expect(relay!.sessions.size).toBe(1);
  });

  it('a wrong password gets 403, never a 200; an unknown user too; HA1 mode takes the HA1', async () => {
    const uri = await startRelay();
    const a = await cl('alice');
    expect(await a.auth(uri, { username: 'alice', password: 'wrong' })).toMatchObject({ status: 403 });
    expect(await a.auth(uri, { username: 'mallory', password: 'x' })).toMatchObject({ status: 403 });
    expect(relay!.sessions.size).toBe(0);
    relay!.close();
    relay = attachRelay(relayNode!.api, { ...PARAMS, calculate_ha1: false, my_uri: [uri] }, {
      auth: (ctx) => createHash('md5').update(`${ctx.username}:${ctx.realm}:${USERS[ctx.username]}`).digest('hex'),
    });
    expect(await a.auth(uri, { username: 'alice', password: 'alicepw' })).toMatchObject({ status: 200 });
  });

  it('Expires out of bounds gets 423 with Min-Expires / Max-Expires; in bounds is echoed', async () => {
    const uri = await startRelay();
    const a = await cl('alice');
    const low = await a.auth(uri, { username: 'alice', password: 'alicepw' }, [{ name: 'Expires', value: '10' }]);
    expect(low).toMatchObject({ status: 423, reason: 'Interval Out-of-Bounds' });
    expect(getHeader(low, 'Min-Expires')).toBe('60');
    const high = await a.auth(uri, { username: 'alice', password: 'alicepw' }, [{ name: 'Expires', value: '7200' }]);
    expect(getHeader(high, 'Max-Expires')).toBe('3600');
    const ok = await a.auth(uri, { username: 'alice', password: 'alicepw' }, [{ name: 'Expires', value: '600' }]);
    expect(getHeader(ok, 'Expires')).toBe('600');
  });

  it('two clients AUTH and exchange SENDs through the relay: 200 at once, delivered on the far client\'s own connection, path rotated', async () => {
    const uri = await startRelay();
    const a = await cl('alice');
    const b = await cl('bob');
    const ua = getHeader(await a.auth(uri, { username: 'alice', password: 'alicepw' }), 'Use-Path')!;
    const ub = getHeader(await b.auth(uri, { username: 'bob', password: 'bobpw' }), 'Use-Path')!;
    const r1 = await a.send([ub, b.url], `${ua} ${a.url}`, 'hello bob');
    expect(r1).toMatchObject({ status: 200 });
    await waitUntil(() => b.got.length === 1);
    const got = b.got[0]!.msg;
    expect(getHeader(got, 'To-Path')).toBe(b.url);
    expect(getHeader(got, 'From-Path')).toBe(`${ub} ${ua} ${a.url}`);
    expect(got.body?.toString()).toBe('hello bob');
    const r2 = await b.send([ua, a.url], `${ub} ${b.url}`, 'hi alice');
    expect(r2).toMatchObject({ status: 200 });
    await waitUntil(() => a.got.length === 1);
    expect(a.bodies()).toEqual(['hi alice']);
    // the relay opened no connection of its own: both deliveries used the clients' connections
    expect(relayNode!.engine.connections().every((c) => c.accepted)).toBe(true);
    await waitUntil(() => relayNode!.api.transactions.size === 0);
  });

  it('REPORTs: 000 481 for an unknown session, 000 <code> for a failure reply; 501 for other methods', async () => {
    const uri = await startRelay();
    const a = await cl('alice');
    const b = await cl('bob');
    const ua = getHeader(await a.auth(uri, { username: 'alice', password: 'alicepw' }), 'Use-Path')!;
    const ub = getHeader(await b.auth(uri, { username: 'bob', password: 'bobpw' }), 'Use-Path')!;
    const bogus = ub.replace(/\/[^/;]+;tcp$/, '/nosuchsession;tcp');
    expect(await a.send([bogus, b.url], `${ua} ${a.url}`, 'x')).toMatchObject({ status: 200 });
    await waitUntil(() => a.got.some((r) => r.msg.method === 'REPORT'));
    const rep = a.got.find((r) => r.msg.method === 'REPORT')!.msg;
    expect(getHeader(rep, 'Status')).toBe('000 481');
    expect(getHeader(rep, 'To-Path')).toBe(`${ua} ${a.url}`);
    b.answer = 486;
    a.got.length = 0;
    expect(await a.send([ub, b.url], `${ua} ${a.url}`, 'y')).toMatchObject({ status: 200 });
    await waitUntil(() => a.got.some((r) => r.msg.method === 'REPORT'));
    expect(getHeader(a.got.find((r) => r.msg.method === 'REPORT')!.msg, 'Status')).toBe('000 486');
    // Failure-Report: no -> no 200 from the relay and no REPORT
    const s = await raw(relayNode!.listener!);
    const out = collect(s);
    s.write(`MSRP o1 FOO\r\nTo-Path: ${uri}\r\nFrom-Path: msrp://127.0.0.1:1/z;tcp\r\nMessage-ID: 1\r\n-------o1$\r\n`);
    await waitUntil(() => out.data().includes('-------o1$'));
    expect(decode(Buffer.from(out.data(), 'latin1'))).toMatchObject({ status: 501, reason: 'Unknown method' });
    s.destroy();
  });

  it('a codec-only client (raw socket, encode/decode) exchanges SEND and REPORT with an x client through the relay', async () => {
    const uri = await startRelay({ auth_min_expires: 0 });
    const b = await cl('bob');
    const ub = getHeader(await b.auth(uri, { username: 'bob', password: 'bobpw' }), 'Use-Path')!;
    const s = await raw(relayNode!.listener!);
    const out = collect(s);
    const me = `msrp://127.0.0.1:${s.localPort}/raw;tcp`;
    const { encode, decodeAll, digestAuthorization } = await import('../src/index.js');
    const send = (m: Parameters<typeof encode>[0]): boolean => s.write(encode(m));
    send({ kind: 'request', method: 'AUTH', tid: 'r1', continuation: '$', headers: [{ name: 'To-Path', value: uri }, { name: 'From-Path', value: me }] });
    await waitUntil(() => out.data().includes('-------r1$'));
    const ch = decodeAll(Buffer.from(out.data(), 'latin1'))[0]!;
    const authz = digestAuthorization(getHeader(ch, 'WWW-Authenticate')!, { username: 'alice', password: 'alicepw', uri });
    send({ kind: 'request', method: 'AUTH', tid: 'r2', continuation: '$', headers: [{ name: 'To-Path', value: uri }, { name: 'From-Path', value: me }, { name: 'Authorization', value: authz }] });
    await waitUntil(() => out.data().includes('-------r2$'));
    const ok = decodeAll(Buffer.from(out.data(), 'latin1'))[1]!;
    expect(ok).toMatchObject({ status: 200 });
    const ua = getHeader(ok, 'Use-Path')!;
    send({
      kind: 'request', method: 'SEND', tid: 'r3', continuation: '$', body: Buffer.from('from raw'),
      headers: [{ name: 'To-Path', value: `${ub} ${b.url}` }, { name: 'From-Path', value: `${ua} ${me}` }, { name: 'Message-ID', value: 'raw1' }, { name: 'Byte-Range', value: '1-8/8' }, { name: 'Success-Report', value: 'yes' }, { name: 'Content-Type', value: 'text/plain' }],
    });
    await waitUntil(() => b.got.length === 1 && out.data().includes('-------r3$'));
    expect(b.bodies()).toEqual(['from raw']);
    // bob sends the REPORT the Success-Report asked for, through the relay, back to the raw client
    const req = b.got[0]!;
    await b.n.api.sendRequest({
      method: 'REPORT', to: parsePathWholes(getHeader(req.msg, 'From-Path')!), from: b.url, connectionId: b.connId,
      headers: [{ name: 'Message-ID', value: 'raw1' }, { name: 'Byte-Range', value: '1-8/8' }, { name: 'Status', value: '000 200 OK' }],
    });
    await waitUntil(() => decodeAll(Buffer.from(out.data(), 'latin1')).some((m) => m.kind === 'request' && m.method === 'REPORT'));
    const rep = decodeAll(Buffer.from(out.data(), 'latin1')).find((m) => m.kind === 'request' && m.method === 'REPORT')!;
    expect(getHeader(rep, 'Status')).toBe('000 200 OK');
    expect(getHeader(rep, 'To-Path')).toBe(me);
    s.destroy();
  });
});


describe('msrp_relay timeouts', () => {
  it('a SEND with Failure-Report: yes that the far end never answers gets a REPORT 000 408', async () => {
    const uri = await startRelay({}, { transactionSlots: 2, tickMs: 50 });
    const a = await cl('alice');
    const b = await cl('bob');
    b.answer = 0; // bob never replies
    const ua = getHeader(await a.auth(uri, { username: 'alice', password: 'alicepw' }), 'Use-Path')!;
    const ub = getHeader(await b.auth(uri, { username: 'bob', password: 'bobpw' }), 'Use-Path')!;
    expect(await a.send([ub, b.url], `${ua} ${a.url}`, 'anyone?', [{ name: 'Failure-Report', value: 'yes' }])).toMatchObject({ status: 200 });
    await waitUntil(() => a.got.some((r) => r.msg.method === 'REPORT'));
    expect(getHeader(a.got.find((r) => r.msg.method === 'REPORT')!.msg, 'Status')).toBe('000 408');
    expect(b.got).toHaveLength(1);
  });
});

function parsePathWholes(v: string): string[] {
  return v.split(' ').filter(Boolean);
}
