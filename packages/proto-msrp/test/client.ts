import type { Address, SendOptions } from '@x/core-conn';
import { digestAuthorization, getHeader, type MsrpHeader, type MsrpReceived, type MsrpRequest, type MsrpResponse } from '../src/index.js';
import { node, type Node } from './helpers.js';

/** An MSRP endpoint built on the x API, for tests: connects to a relay, AUTHs, SENDs, collects what it receives. */
export class Client {
  n!: Node;
  url = '';
  connId = 0;
  readonly got: MsrpReceived<MsrpRequest>[] = [];
  readonly streams: { pieces: Buffer[]; flag?: string }[] = [];
  /** reply status for received SENDs (0 = none) */
  answer = 200;

  constructor(readonly name: string, readonly proto: 'msrp' | 'msrps' = 'msrp') {}

  async start(relay: Address, sendOpts: SendOptions = {}, nodeOpts: Parameters<typeof node>[0] = {}): Promise<this> {
    this.n = await node({ tls: this.proto === 'msrps', ...nodeOpts });
    const c = await this.n.api.connect(this.proto, relay, sendOpts);
    this.connId = c.id;
    this.url = `${this.proto}://127.0.0.1:${c.local.port}/${this.name};tcp`;
    // any top To-Path URL: a relay's REPORT is addressed to the whole From-Path, the relay's hop first
    this.n.api.registerHandler({ host: '*', port: 0, secured: this.proto === 'msrps' }, (req, api) => {
      this.got.push(req);
      if (req.stream) {
        const s: { pieces: Buffer[]; flag?: string } = { pieces: [] };
        this.streams.push(s);
        req.stream.onPiece = (p) => void s.pieces.push(Buffer.from(p));
        req.stream.onEnd = (f) => {
          s.flag = f;
          if (this.answer) api.sendReply(req, this.answer, 'OK');
        };
      } else if (req.msg.method === 'SEND' && this.answer) api.sendReply(req, this.answer, this.answer === 200 ? 'OK' : 'Nope');
    });
    return this;
  }

  /** AUTH to `relayUrl`, answering a Digest challenge; resolves with the final reply. */
  async auth(relayUrl: string, cred?: { username: string; password: string }, headers: MsrpHeader[] = []): Promise<MsrpResponse> {
    const first = (await this.n.api.sendRequest({ method: 'AUTH', to: [relayUrl], from: this.url, connectionId: this.connId, headers }))!;
    if (first.msg.status !== 401 || !cred) return first.msg;
    const www = getHeader(first.msg, 'WWW-Authenticate')!;
    const authz = digestAuthorization(www, { ...cred, uri: relayUrl });
    const second = await this.n.api.sendRequest({ method: 'AUTH', to: [relayUrl], from: this.url, connectionId: this.connId, headers: [...headers, { name: 'Authorization', value: authz }] });
    return second!.msg;
  }

  async send(to: string[], from: string, body: Buffer | string, extra: MsrpHeader[] = [], continuation: '$' | '+' | '#' = '$'): Promise<MsrpResponse> {
    const len = Buffer.byteLength(body);
    const r = await this.n.api.sendRequest({
      method: 'SEND', to, from, connectionId: this.connId, body, contentType: 'text/plain', continuation,
      headers: [{ name: 'Message-ID', value: `m-${this.name}-${Date.now()}` }, { name: 'Byte-Range', value: `1-${len}/${len}` }, ...extra],
    });
    return r!.msg;
  }

  bodies(): string[] {
    return this.got.filter((r) => r.msg.method === 'SEND' && !r.stream).map((r) => r.msg.body?.toString() ?? '');
  }
}
