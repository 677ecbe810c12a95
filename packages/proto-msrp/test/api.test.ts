import { afterEach, describe, expect, it } from 'vitest';
import { decode, getHeader, toPath, type MsrpApi, type MsrpReceived, type MsrpRequest } from '../src/index.js';
import { collect, node, raw, stop, waitUntil, type Node } from './helpers.js';

let nodes: Node[] = [];
afterEach(async () => {
  await stop(...nodes);
  nodes = [];
});
async function mk(o: Parameters<typeof node>[0] = {}): Promise<Node> {
  const n = await node(o);
  nodes.push(n);
  return n;
}

/** A relay: AUTH answered 200, requests with a next hop forwarded, replies forwarded back. */
function relayHandler(r: Node): void {
  const port = r.listener!.address.port;
  const h = r.api.registerHandler(
    { host: '127.0.0.1', port, secured: false },
    (req, api) => {
      if (req.msg.method === 'AUTH' && req.toPath.length === 1) return api.sendReply(req, 200, 'OK', [{ name: 'Use-Path', value: `msrp://127.0.0.1:${port}/s1;tcp` }]);
      // a SEND is answered at once (msrp_relay); its far 200 is then swallowed
      if (req.msg.method === 'SEND') api.sendReply(req, 200, 'OK');
      void api.forwardRequest(req, h).catch(() => api.sendReply(req, 403));
    },
    (rpl, t, api) => {
      if (rpl && rpl.toPath.length > 1) api.forwardReply(rpl, t);
      else if (!rpl && t.method === 'AUTH') api.sendReplyOnTransaction(t, 408, 'Request Timeout');
      else if (!rpl) api.sendReport('000 408', t);
    },
  );
}

interface Client {
  n: Node;
  url: string;
  relayUrl: string;
  got: MsrpReceived<MsrpRequest>[];
  streams: { pieces: Buffer[]; flag?: string }[];
}
async function client(relay: Node, name: string, o: Parameters<typeof node>[0] = {}): Promise<Client> {
  const n = await mk(o);
  const dest = relay.listener!.address;
  const conn = await n.api.connect('msrp', dest);
  const url = `msrp://127.0.0.1:${conn.local.port}/${name};tcp`;
  const got: MsrpReceived<MsrpRequest>[] = [];
  const streams: Client['streams'] = [];
  n.api.registerHandler({ host: '127.0.0.1', port: conn.local.port, secured: false }, (req, api) => {
    got.push(req);
    if (req.stream) {
      const s: Client['streams'][number] = { pieces: [] };
      streams.push(s);
      req.stream.onPiece = (p) => void s.pieces.push(Buffer.from(p));
      req.stream.onEnd = (f) => {
        s.flag = f;
        api.sendReply(req, 200, 'OK');
      };
    } else if (req.msg.method === 'SEND') api.sendReply(req, 200, 'OK');
  });
  return { n, url, relayUrl: `msrp://127.0.0.1:${dest.port};tcp`, got, streams };
}

describe('MSRP API over TCP', () => {
  it('IPv6: a request to msrp://[::1]:port is forwarded (the brackets are not part of the address)', async () => {
    const r = await mk();
    const l = await r.engine.listen('msrp:[::1]:0');
    const h = r.api.registerHandler(
      { host: '*', port: 0, secured: false },
      (req, api) => {
        // as msrp_relay: a SEND is answered here, the far 200 is swallowed
        api.sendReply(req, 200, 'OK');
        void api.forwardRequest(req, h).catch(() => {});
      },
      () => {},
    );
    const b = await mk();
    const conn = await b.api.connect('msrp', { host: '::1', port: l.address.port });
    const got: string[] = [];
    b.api.registerHandler({ host: '*', port: 0, secured: false }, (req, api) => {
      got.push(getHeader(req.msg, 'To-Path')!);
      api.sendReply(req, 200, 'OK');
    });
    const a = await mk();
    const bobUrl = `msrp://[::1]:${conn.local.port}/bob;tcp`;
    const rpl = await a.api.sendRequest({
      method: 'SEND', to: [`msrp://[::1]:${l.address.port}/s;tcp`, bobUrl], from: 'msrp://[::1]:9/alice;tcp',
      headers: [{ name: 'Message-ID', value: 'v6' }], body: 'hi', contentType: 'text/plain',
    });
    expect(rpl!.msg.status).toBe(200);
    await waitUntil(() => got.length === 1, 5000, 'the SEND at bob');
    expect(got).toEqual([bobUrl]);
  });

  it('AUTH gets its 200 with Use-Path; the ids are OpenSIPS-shaped', async () => {
    const r = await mk({ listen: true });
    relayHandler(r);
    const a = await client(r, 'alice');
    const rpl = await a.n.api.sendRequest({ method: 'AUTH', to: [a.relayUrl], from: a.url });
    expect(rpl!.msg).toMatchObject({ kind: 'response', status: 200, reason: 'OK' });
    expect(rpl!.msg.tid).toMatch(/^[0-9a-f]+\.[0-9a-f]+\.[0-9a-f]+\.[0-9a-f]+$/);
    expect(rpl!.msg.tid.length).toBeLessThanOrEqual(20);
    expect(getHeader(rpl!.msg, 'To-Path')).toBe(a.url);
    expect(getHeader(rpl!.msg, 'From-Path')).toBe(a.relayUrl);
    expect(getHeader(rpl!.msg, 'Use-Path')).toMatch(/^msrp:\/\/127\.0\.0\.1:\d+\/s1;tcp$/);
    expect(a.n.api.transactions.size).toBe(0);
  });

  it('a SEND through the relay reaches bob on his inbound connection with the path rotated, and its 200 comes back', async () => {
    const r = await mk({ listen: true });
    relayHandler(r);
    const a = await client(r, 'alice');
    const b = await client(r, 'bob');
    const relaySess = `msrp://127.0.0.1:${r.listener!.address.port}/s1;tcp`;
    const rpl = await a.n.api.sendRequest({
      method: 'SEND',
      to: [relaySess, b.url],
      from: a.url,
      headers: [{ name: 'Message-ID', value: 'm1' }, { name: 'Byte-Range', value: '1-5/5' }],
      body: 'hello',
      contentType: 'text/plain',
    });
    expect(rpl!.msg).toMatchObject({ status: 200 });
    expect(getHeader(rpl!.msg, 'To-Path')).toBe(a.url);
    expect(getHeader(rpl!.msg, 'From-Path')).toBe(relaySess);
    await waitUntil(() => b.got.length === 1 && r.api.transactions.size === 0);
    const got = b.got[0]!.msg;
    expect(getHeader(got, 'To-Path')).toBe(b.url);
    expect(getHeader(got, 'From-Path')).toBe(`${relaySess} ${a.url}`);
    expect(got.body?.toString()).toBe('hello');
    // the relay gave it a new id of its own
    expect(got.tid).not.toBe(rpl!.msg.tid);
    expect(got.tid).toMatch(/^[0-9a-f]+\.[0-9a-f]+\.[0-9a-f]+\.[0-9a-f]+$/);
    // bob got it on the connection bob opened (the relay opened none)
    expect(b.n.engine.connections().length).toBe(1);
    expect(r.engine.connections().filter((c) => !c.accepted)).toHaveLength(0);
    expect(r.api.transactions.size).toBe(0);
  });

  it('a body over the whole-message bound streams through the relay, in pieces, byte for byte', async () => {
    const r = await mk({ listen: true, maxMsgChunks: 0 });
    relayHandler(r);
    const a = await client(r, 'alice');
    // max_msg_chunks counts every read of a message, streamed body included (OpenSIPS's meaning)
    const b = await client(r, 'bob', { maxMsgChunks: 0 });
    const big = Buffer.alloc(300_000);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7) & 0xff;
    big.write('\r\n------', 1000, 'latin1'); // six dashes: not an end-line
    const relaySess = `msrp://127.0.0.1:${r.listener!.address.port}/s1;tcp`;
    const rpl = a.n.api.sendRequest({
      method: 'SEND', to: [relaySess, b.url], from: a.url,
      headers: [{ name: 'Message-ID', value: 'big' }, { name: 'Byte-Range', value: `1-${big.length}/${big.length}` }],
      body: big, contentType: 'application/octet-stream', continuation: '+',
    });
    expect((await rpl)!.msg).toMatchObject({ status: 200 });
    await waitUntil(() => b.streams[0]?.flag !== undefined && r.api.transactions.size === 0);
    expect(b.streams[0]!.flag).toBe('+');
    expect(b.streams[0]!.pieces.length).toBeGreaterThan(1);
    const got = Buffer.concat(b.streams[0]!.pieces);
    expect(got.length).toBe(big.length);
    expect(got.equals(big)).toBe(true);
  });

  it('a request nobody answers times out: sendRequest rejects with ERR_MSRP_TIMEOUT, a relay answers 408 for it', async () => {
    const r = await mk({ listen: true, api: { transactionSlots: 2, tickMs: 50 } });
    relayHandler(r);
    const sink = await mk({ listen: true });
    const silent: MsrpReceived<MsrpRequest>[] = [];
    sink.api.registerHandler({ host: '*', port: 0, secured: false }, (req) => void silent.push(req));
    const a = await client(r, 'alice');
    // through the relay to a peer that never answers: the relay's transaction times out, alice gets 408
    const rpl = await a.n.api.sendRequest({
      method: 'AUTH', to: [a.relayUrl, `msrp://127.0.0.1:${sink.listener!.address.port}/x;tcp`], from: a.url,
    });
    expect(rpl!.msg).toMatchObject({ status: 408, reason: 'Request Timeout' });
    expect(getHeader(rpl!.msg, 'To-Path')).toBe(a.url);
    expect(silent).toHaveLength(1);
    // directly, with a short table: the promise rejects
    const d = await mk({ api: { transactionSlots: 2, tickMs: 50 } });
    await expect(
      d.api.sendRequest({ method: 'AUTH', to: [`msrp://127.0.0.1:${sink.listener!.address.port};tcp`], from: 'msrp://127.0.0.1:1/d;tcp' }),
    ).rejects.toMatchObject({ code: 'ERR_MSRP_TIMEOUT' });
  });

  it('sendReport builds OpenSIPS\'s REPORT; replies to REPORT are refused; REPORT makes no transaction', async () => {
    const r = await mk({ listen: true });
    let seen: MsrpReceived<MsrpRequest> | undefined;
    let api!: MsrpApi;
    r.api.registerHandler({ host: '127.0.0.1', port: 0, secured: false }, (req, a) => {
      seen = req;
      api = a;
    });
    const s = await raw(r.listener!);
    const out = collect(s);
    s.write(
      'MSRP abc SEND\r\nTo-Path: msrp://127.0.0.1:9/r;tcp\r\nFrom-Path: msrp://127.0.0.1:8/x;tcp msrp://127.0.0.1:7/y;tcp\r\n' +
        'Message-ID: mid7\r\nByte-Range: 1-3/3\r\nContent-Type: text/plain\r\n\r\nabc\r\n-------abc$\r\n',
    );
    await waitUntil(() => seen !== undefined);
    api.sendReport('000 481 No session', seen!);
    api.sendReply(seen!, 200, 'OK');
    await waitUntil(() => out.data().includes('-------abc$'));
    const [report, ok] = out.data().split(/(?<=\$\r\n)/);
    const rep = decode(Buffer.from(report!, 'latin1'));
    expect(rep).toMatchObject({ kind: 'request', method: 'REPORT' });
    expect(rep.headers.map((h) => `${h.name}: ${h.value}`)).toEqual([
      'To-Path: msrp://127.0.0.1:8/x;tcp msrp://127.0.0.1:7/y;tcp',
      'From-Path: msrp://127.0.0.1:9/r;tcp',
      'Message-ID: mid7',
      'Byte-Range: 1-3/3',
      'Status: 000 481 No session',
    ]);
    // a reply to a SEND goes to the first From-Path URL only
    expect(ok).toBe('MSRP abc 200 OK\r\nTo-Path: msrp://127.0.0.1:8/x;tcp\r\nFrom-Path: msrp://127.0.0.1:9/r;tcp\r\n-------abc$\r\n');
    const rep2 = { ...seen!, msg: { ...seen!.msg, method: 'REPORT' } };
    expect(() => api.sendReply(rep2, 200)).toThrow(/REPORT/);
    expect(r.api.transactions.size).toBe(0);
    s.destroy();
  });

  it('handlers: first match in registration order by host glob, port and scheme; no match = dropped, no reply', async () => {
    const r = await mk({ listen: true });
    const hits: string[] = [];
    r.api.registerHandler({ host: 'relay.*.com', port: 0, secured: false }, () => void hits.push('glob'));
    r.api.registerHandler({ host: '*', port: 2855, secured: true }, () => void hits.push('secured'));
    r.api.registerHandler({ host: '*', port: 2855, secured: false }, () => void hits.push('port'));
    const s = await raw(r.listener!);
    const out = collect(s);
    const req = (to: string, tid: string): string => `MSRP ${tid} AUTH\r\nTo-Path: ${to}\r\nFrom-Path: msrp://127.0.0.1:1/a;tcp\r\n-------${tid}$\r\n`;
    s.write(req('msrp://RELAY.example.com:1;tcp', 't1') + req('msrps://h:2855;tcp', 't2') + req('msrp://h:2855;tcp', 't3') + req('msrp://h:2856;tcp', 't4'));
    await waitUntil(() => r.api.stats.requestsIn === 4);
    expect(hits).toEqual(['glob', 'secured', 'port']);
    expect(r.api.stats.dropped).toBe(1);
    expect(out.data()).toBe('');
    expect(toPath(decode(Buffer.from(req('msrp://[::1]:5;tcp', 'x'))))[0]!.host).toBe('::1');
    s.destroy();
  });
});
