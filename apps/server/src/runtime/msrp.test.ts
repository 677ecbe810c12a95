// A stock-style OpenSIPS msrp cfg (proto_msrp, msrp_relay, and the signaling/sl/auth lines it
// carries) loads, and an MSRP client AUTHs through the relay with the route script's msrp_auth.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { Writable } from 'node:stream';
import { createEngine } from '@x/core-conn';
import { attachMsrp, digestAuthorization, getHeader, msrpSpec } from '@x/proto-msrp';
import { describe, expect, it } from 'vitest';
import { startServer } from './server.js';

const quiet = () => new Writable({ write(_c, _e, cb) { cb(); } });

describe('msrp_relay in x-server', () => {
  it('loads as OpenSIPS is configured, notes signaling/sl/auth, and answers AUTH through msrp_auth', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'x-msrp-'));
    writeFileSync(join(dir, 'routes.mjs'), 'export function msrp_auth(ctx) { return ctx.username === "alice" && ctx.realm === "x-relay" ? "secret" : undefined; }\n');
    const port = await freeTcpPort();
    const s = await startServer({
      configText: [
        'route_script = "./routes.mjs"',
        `socket = msrp:127.0.0.1:${port}`,
        'loadmodule "signaling.so"',
        'loadmodule "sl.so"',
        'loadmodule "auth.so"',
        'loadmodule "proto_msrp.so"',
        'loadmodule "msrp_relay.so"',
        `modparam("msrp_relay", "my_uri", "msrp://127.0.0.1:${port};tcp")`,
        'modparam("msrp_relay", "auth_realm", "x-relay")',
        'modparam("msrp_relay", "calculate_ha1", 1)',
        '',
      ].join('\n'),
      configName: join(dir, 'x.cfg'),
      logDestination: quiet(),
    });
    const client = createEngine();
    client.registerProtocol(msrpSpec() as never);
    const api = attachMsrp(client);
    try {
      expect(s.config.notes.filter((n) => /module "(signaling|sl|auth)" accepted/.test(n))).toHaveLength(3);
      const relay = `msrp://127.0.0.1:${port};tcp`;
      const conn = await api.connect('msrp', { host: '127.0.0.1', port });
      const me = `msrp://127.0.0.1:${conn.local.port}/alice;tcp`;
      const first = await api.sendRequest({ method: 'AUTH', to: [relay], from: me, connectionId: conn.id });
      expect(first!.msg).toMatchObject({ status: 401 });
      const www = getHeader(first!.msg, 'WWW-Authenticate')!;
      expect(www).toMatch(/^Digest realm="x-relay", nonce="[^"]+", qop="auth", opaque="[^"]+"$/);
      const bad = await api.sendRequest({ method: 'AUTH', to: [relay], from: me, connectionId: conn.id, headers: [{ name: 'Authorization', value: digestAuthorization(www, { username: 'alice', password: 'wrong', uri: relay }) }] });
      expect(bad!.msg).toMatchObject({ status: 403 });
      const ok = await api.sendRequest({ method: 'AUTH', to: [relay], from: me, connectionId: conn.id, headers: [{ name: 'Authorization', value: digestAuthorization(www, { username: 'alice', password: 'secret', uri: relay }) }] });
      expect([ok!.msg.kind === 'response' ? ok!.msg.status : 0, ok!.msg.kind === 'response' ? ok!.msg.reason : '']).toEqual([200, 'OK']);
      expect(getHeader(ok!.msg, 'Use-Path')).toMatch(new RegExp(`^msrp://127\\.0\\.0\\.1:${port}/[^;]+;tcp$`));
    } finally {
      api.close();
      await client.shutdown({ deadlineMs: 100 });
      await s.stop();
    }
  });
});

function freeTcpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const p = (srv.address() as { port: number }).port;
      srv.close(() => resolve(p));
    });
  });
}
