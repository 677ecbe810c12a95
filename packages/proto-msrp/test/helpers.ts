import { connect as netConnect, type Socket } from 'node:net';
import { createTestEngine, waitUntil } from '@x/core-conn/testing';
import type { ConnectionInfo, Engine, ListenerInfo, TlsDomainConfig } from '@x/core-conn';
import { generate } from 'selfsigned';
import { attachMsrp, msrpSpec, msrpsSpec, type AttachMsrpOptions, type MsrpApi } from '../src/index.js';

export interface Node {
  engine: Engine;
  api: MsrpApi;
  listener?: ListenerInfo;
  tlsListener?: ListenerInfo;
}

let pem: { cert: string; key: string } | undefined;
export async function selfSigned(): Promise<{ cert: string; key: string }> {
  if (!pem) {
    const r = await generate([{ name: 'commonName', value: '127.0.0.1' }], {
      keyType: 'ec',
      algorithm: 'sha256',
      extensions: [{ name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }, { type: 2, value: 'localhost' }] }],
    });
    pem = { cert: r.cert, key: r.private };
  }
  return pem;
}

export async function tlsDomains(): Promise<TlsDomainConfig[]> {
  const p = await selfSigned();
  return [
    { name: 'srv', side: 'server', certificate: p.cert, privateKey: p.key, verifyCert: false, requireCert: false },
    { name: 'cli', side: 'client', verifyCert: false },
  ];
}

/** An engine with msrp (and msrps when tls) registered, the MSRP layer attached, listening on 127.0.0.1:0 when asked. */
export async function node(o: { listen?: boolean; tls?: boolean; api?: AttachMsrpOptions; maxMsgChunks?: number; sendTimeout?: number } = {}): Promise<Node> {
  const params = { send_timeout: o.sendTimeout ?? 1000, max_msg_chunks: o.maxMsgChunks ?? 4, tls_handshake_timeout: 2000, cert_check_on_conn_reusage: false, trace_on: false };
  const engine = createTestEngine([msrpSpec(params) as never, msrpsSpec(params) as never], o.tls ? { tlsDomains: await tlsDomains(), tlsHandshakeTimeout: 2000 } : {});
  const api = attachMsrp(engine, o.api);
  const n: Node = { engine, api };
  if (o.listen) n.listener = await engine.listen('msrp:127.0.0.1:0');
  if (o.listen && o.tls) n.tlsListener = await engine.listen('msrps:127.0.0.1:0');
  return n;
}

export async function stop(...nodes: (Node | undefined)[]): Promise<void> {
  for (const n of nodes) {
    if (!n) continue;
    n.api.close();
    await n.engine.shutdown({ deadlineMs: 200 });
  }
}

export function raw(l: ListenerInfo): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = netConnect({ host: l.address.host, port: l.address.port }, () => resolve(s));
    s.once('error', reject);
  });
}

/** Collects what a raw socket receives; `closed` turns true at its end. */
export function collect(s: Socket): { data: () => string; closed: () => boolean } {
  let buf = '';
  let closed = false;
  s.on('data', (d: Buffer) => (buf += d.toString('latin1')));
  s.on('close', () => (closed = true));
  s.on('error', () => {});
  return { data: () => buf, closed: () => closed };
}

export { waitUntil };
export type { ConnectionInfo };
