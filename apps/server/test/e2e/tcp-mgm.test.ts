// x-server with the shipped config and rules in its SQLite file: connections from 127.0.0.2 and
// 127.0.0.3 get different profiles (list_tcp_conns, alias ports, and one is closed by its
// msg_read_timeout while the other is not); a row changes, `x-cli mi tcp_reload`, and the next
// connection gets the new profile.
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { openRuleSource, tcpMgmCreateSql, versionTableSql } from '@x/tcp-mgm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultCfgOnPort0, ensureBuilt, optionsRequest, startX, tempDir, writeFiles, xcli, type Running } from './helpers.js';

let x: Running;
let dir: string;
const socks: Socket[] = [];

async function sql(text: string): Promise<void> {
  const src = await openRuleSource({ driver: 'sqlite', path: join(dir, 'tcp_mgm.sqlite') }, { create: true });
  await src.exec(text);
  await src.close();
}

function clientFrom(from: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port, localAddress: from }, () => resolve(s));
    s.once('error', reject);
    socks.push(s);
  });
}

/** sends an OPTIONS whose top Via names port `viaPort` (5099), with `;alias` if asked, and waits for the 200 */
async function options(s: Socket, i: number, opts: { viaPort?: number; alias?: boolean } = {}): Promise<void> {
  const got = new Promise<string>((resolve) => {
    let buf = '';
    s.on('data', (d: Buffer) => {
      buf += d.toString();
      if (buf.includes('\r\n\r\n')) resolve(buf);
    });
  });
  const req = optionsRequest(i, opts.viaPort ?? 5099);
  s.write(opts.alias ? req.replace(';branch=', ';alias;branch=') : req);
  expect(await got).toMatch(/^SIP\/2\.0 200 OK/);
  s.removeAllListeners('data');
}

async function mi(...args: string[]): Promise<unknown> {
  const r = await xcli(['--url', x.miUrl, 'mi', ...args]);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout);
}

/** list_tcp_conns entries by remote IP (duplicate "Alias port" keys: JSON.parse keeps the last) */
async function conns(): Promise<Map<string, Record<string, unknown>>> {
  const l = (await mi('list_tcp_conns')) as { Connections: Array<Record<string, unknown>> };
  return new Map(l.Connections.map((c) => [String(c.Remote).split(':')[0]!, c]));
}

/** every "Alias port" of the connection from `remote`, from the raw MI answer (list_tcp_conns repeats the key as OpenSIPS does; JSON.parse would keep the last) */
async function aliasPorts(remote: string): Promise<number[]> {
  const r = await fetch(x.miUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', method: 'list_tcp_conns', id: 1 }) });
  const text = await r.text();
  const entry = text.split('}').find((e) => e.includes(`"Remote":"${remote}"`));
  expect(entry, text).toBeDefined();
  return [...entry!.matchAll(/"Alias port":(\d+)/g)].map((m) => Number(m[1]));
}

const closed = (s: Socket): Promise<void> => new Promise((r) => (s.destroyed ? r() : s.once('close', () => r())));

beforeAll(async () => {
  ensureBuilt();
  dir = tempDir();
  await sql(
    versionTableSql('sqlite') +
      tcpMgmCreateSql('sqlite') +
      "INSERT INTO tcp_mgm (proto, remote_addr, msg_read_timeout, alias_mode) VALUES ('tcp', '127.0.0.2', 1, 2);\n" +
      "INSERT INTO tcp_mgm (proto, remote_addr, msg_read_timeout, alias_mode) VALUES ('tcp', '127.0.0.3', 60, 0);\n" +
      // one source per alias_mode, for the alias_mode tests
      "INSERT INTO tcp_mgm (id, proto, remote_addr, alias_mode) VALUES (10, 'tcp', '127.0.0.10', 0), (11, 'tcp', '127.0.0.11', 1), (12, 'tcp', '127.0.0.12', 2);\n",
  );
  writeFiles(dir, { 'x.cfg': defaultCfgOnPort0().replace('route_script = "./routes.mjs"', `route_script = "${join(import.meta.dirname, '..', '..', 'config', 'routes.mjs')}"`) });
  x = await startX(join(dir, 'x.cfg'));
}, 60_000);

afterAll(async () => {
  for (const s of socks) s.destroy();
  x?.kill();
  await x?.exited;
});

describe('x-server + tcp_mgm (SQLite)', () => {
  it('loads the rules from the file the default config names', () => {
    expect(x.lines.some((l) => l.msg === '5 TCP paths loaded from tcp_mgm (version 2), 0 rows skipped')).toBe(true);
  });

  it('127.0.0.2 and 127.0.0.3 get their own profiles: list_tcp_conns, alias_mode, msg_read_timeout', async () => {
    const port = x.ports.get('tcp')!;
    const a = await clientFrom('127.0.0.2', port);
    const b = await clientFrom('127.0.0.3', port);
    await options(a, 1);
    await options(b, 2);
    const list = await conns();
    expect(list.get('127.0.0.2')).toMatchObject({ Type: 'tcp', Profile: 1, 'Alias port': 5099 }); // alias_mode 2: the Via port is an alias
    expect(list.get('127.0.0.3')).toMatchObject({ Type: 'tcp', Profile: 2, 'Alias port': b.localPort }); // alias_mode 0: only the real port
    a.write('OPTIONS sip:half');
    b.write('OPTIONS sip:half');
    await closed(a); // msg_read_timeout 1 s
    expect(b.destroyed).toBe(false);
    expect((await conns()).has('127.0.0.3')).toBe(true);
  });

  it('a row changes, x-cli mi tcp_reload, and the next connection gets the new profile', async () => {
    await sql("UPDATE tcp_mgm SET msg_read_timeout = 1, alias_mode = 2 WHERE remote_addr = '127.0.0.3';");
    expect(await mi('tcp_reload')).toBe('OK');
    expect(await mi('tcp_mgm:match', 'tcp', '127.0.0.3', '40000')).toMatchObject({ Matched: true, Rule: { id: 2, msg_read_timeout: 1, alias_mode: 2 } });
    const c = await clientFrom('127.0.0.3', x.ports.get('tcp')!);
    await options(c, 3);
    const entry = [...((await mi('list_tcp_conns')) as { Connections: Array<Record<string, unknown>> }).Connections].find((e) => e.Remote === `127.0.0.3:${c.localPort}`);
    expect(entry).toMatchObject({ Profile: 2, 'Alias port': 5099 });
    c.write('OPTIONS sip:half');
    await closed(c);
    const list = (await mi('tcp_mgm:list')) as { Rules: Array<{ id: number; msg_read_timeout: number }> };
    expect(list.Rules.map((r) => [r.id, r.msg_read_timeout])).toEqual([[1, 1], [2, 1], [10, 4], [11, 4], [12, 4]]);
  });
});

describe('alias_mode of a rule, on the connections it matches (RFC 5923 Via alias)', () => {
  it('0: never an alias, even with ;alias in the Via', async () => {
    const c = await clientFrom('127.0.0.10', x.ports.get('tcp')!);
    await options(c, 10, { alias: true });
    await options(c, 11);
    expect(await aliasPorts(`127.0.0.10:${c.localPort}`)).toEqual([c.localPort]);
  });

  it('1: an alias only for a Via with ;alias', async () => {
    const c = await clientFrom('127.0.0.11', x.ports.get('tcp')!);
    await options(c, 20, { viaPort: 5098 });
    expect(await aliasPorts(`127.0.0.11:${c.localPort}`)).toEqual([c.localPort]);
    await options(c, 21, { viaPort: 5099, alias: true });
    expect(await aliasPorts(`127.0.0.11:${c.localPort}`)).toEqual([c.localPort, 5099]);
  });

  it('2: always an alias, the top Via port, ;alias or not', async () => {
    const c = await clientFrom('127.0.0.12', x.ports.get('tcp')!);
    await options(c, 30, { viaPort: 5098 });
    expect(await aliasPorts(`127.0.0.12:${c.localPort}`)).toEqual([c.localPort, 5098]);
  });
});
