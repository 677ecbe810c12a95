import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createSipTls,
  protoTlsModule,
  PROTO_TLS_DEFAULTS,
  resolveTlsParams,
  type SipMessage,
  type SipTls,
} from '../src/index.js';
import { sipReq, until } from './helpers.js';

const CERT = readFileSync(new URL('./fixtures/tls/cert.pem', import.meta.url), 'utf8');
const KEY = readFileSync(new URL('./fixtures/tls/key.pem', import.meta.url), 'utf8');
const open: SipTls[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
});

async function tls(listen: string[]): Promise<SipTls> {
  const s = await createSipTls({
    listen,
    // generous: the machine running the suite may be loaded
    params: { tls_handshake_timeout: 10_000 },
    engineOptions: {
      tlsDomains: [
        { name: 'srv', side: 'server', certificate: CERT, privateKey: KEY, verifyCert: false, requireCert: false },
        { name: 'cli', side: 'client', caList: CERT, verifyCert: true },
      ],
    },
  });
  open.push(s);
  return s;
}

describe('proto_tls: the proto_tcp framer and API on the tls protocol', () => {
  it('has proto_tls parameters with OpenSIPS 3.6 defaults and builds a tls spec on tls_port', () => {
    expect(resolveTlsParams(undefined)).toEqual(PROTO_TLS_DEFAULTS);
    expect(Object.keys(protoTlsModule.params).sort()).toEqual(
      [
        'tls_port', 'tls_crlf_pingpong', 'tls_crlf_drop', 'tls_max_msg_chunks', 'tls_send_timeout', 'tls_handshake_timeout', 'tls_async',
        'tls_async_max_postponed_chunks', 'tls_async_local_connect_timeout', 'tls_async_handshake_timeout', 'cert_check_on_conn_reusage',
        'trace_destination', 'trace_on', 'trace_filter_route',
      ].sort(),
    );
    expect(protoTlsModule.name).toBe('proto_tls');
    const spec = protoTlsModule.protocols!(resolveTlsParams({ tls_port: 5071, tls_max_msg_chunks: 6, tls_async: false }))[0]!;
    expect(spec).toMatchObject({ name: 'tls', transport: 'tls', defaultPort: 5071, maxMsgChunks: 6, maxMsgBytes: 65535 });
    expect(spec.write).toMatchObject({ async: false, sendTimeout: 100 });
    expect(() => resolveTlsParams({ tls_port: 0 })).toThrow(/proto_tls: parameter "tls_port"/);
  });

  it("tls_async_max_postponed_chunks is passed as is (OpenSIPS's proto_tls; only proto_tcp forces >= 2); no tls_async_local_write_timeout: proto_tcp's 10 ms", () => {
    const write = (p: Parameters<typeof resolveTlsParams>[0]) => protoTlsModule.protocols!(resolveTlsParams(p))[0]!.write;
    expect(write({ tls_async_max_postponed_chunks: 1 })).toEqual({ async: true, sendTimeout: 100, maxPostponedChunks: 1, localConnectTimeout: 100, localWriteTimeout: 10 });
    expect(write({ tls_async_max_postponed_chunks: 0, tls_send_timeout: 7, tls_async_local_connect_timeout: 9 })).toMatchObject({ maxPostponedChunks: 0, sendTimeout: 7, localConnectTimeout: 9 });
  });

  it('a client and a server exchange OPTIONS over TLS (server and client domains); the reply carries received/rport', async () => {
    const server = await tls(['tls:127.0.0.1:0']);
    const client = await tls([]);
    const got: SipMessage[] = [];
    server.on('request', (m) => {
      got.push(m);
      m.replyNow(200, 'OK');
    });
    const replies: SipMessage[] = [];
    client.on('response', (m) => replies.push(m));
    const port = server.listeners[0]!.address.port;
    expect(server.listeners[0]!.transport).toBe('tls');
    const conn = await client.send(`sips:x@127.0.0.1:${port}`, sipReq('tls-1', { via: 'SIP/2.0/TLS 192.0.2.1:5061;branch=z9hG4bKtls1;rport' }));
    expect(conn.proto).toBe('tls');
    expect(conn.tls).toMatchObject({ domain: 'cli', authorized: true });
    expect(await until(() => replies.length === 1, 10_000)).toBe(true);
    expect(got[0]!.conn.tls?.domain).toBe('srv');
    expect(replies[0]!.status).toBe(200);
    expect(replies[0]!.header('via')).toBe(`SIP/2.0/TLS 192.0.2.1:5061;received=127.0.0.1;branch=z9hG4bKtls1;rport=${conn.local.port}`);
    expect(replies[0]!.conn.id).toBe(conn.id);
  });

  it('send targets: sips: and transport=tls are TLS targets, tls_port is the default port', async () => {
    const { parseTarget } = await import('../src/index.js');
    expect(parseTarget('sips:a@127.0.0.1', 5061, 'tls')).toEqual({ host: '127.0.0.1', port: 5061 });
    expect(parseTarget('sip:127.0.0.1:5070;transport=tls', 5061, 'tls')).toEqual({ host: '127.0.0.1', port: 5070 });
    expect(() => parseTarget('sip:127.0.0.1;transport=tcp', 5061, 'tls')).toThrow(/transport=tcp is not tls/);
    expect(() => parseTarget('sips:127.0.0.1', 5060)).toThrow(/sips needs TLS/);
  });
});
