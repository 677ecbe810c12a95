// tcp_max_connections_per_ip (global) and tcp_mgm's attrs max_connections_per_ip=N, in an
// in-process server on real sockets from 127.0.0.2 / 127.0.0.3 / 127.0.0.4.
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { openRuleSource, tcpMgmCreateSql, versionTableSql } from '@x/tcp-mgm';
import { afterEach, describe, expect, it } from 'vitest';
import { startServer, type XServer } from './server.js';

const socks: Socket[] = [];
const servers: XServer[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const s of socks.splice(0)) s.destroy();
  for (const s of servers.splice(0)) await s.stop({ deadlineMs: 100 });
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function lines(): { dest: Writable; got: Array<Record<string, unknown>> } {
  const got: Array<Record<string, unknown>> = [];
  const dest = new Writable({
    write(c: Buffer, _e, cb) {
      for (const l of c.toString().split('\n')) if (l.trim() !== '') got.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { dest, got };
}

function clientFrom(port: number, from: string): Promise<{ sock: Socket; closed: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host: '127.0.0.1', port, localAddress: from });
    socks.push(sock);
    const closed = new Promise<void>((r) => sock.once('close', () => r()));
    sock.once('error', reject);
    sock.once('connect', () => {
      sock.removeListener('error', reject);
      sock.on('error', () => {});
      resolve({ sock, closed });
    });
  });
}

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; !cond(); i++) {
    if (i > 600) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('tcp_max_connections_per_ip', () => {
  it('the global caps each source address; a tcp_mgm rule with attrs max_connections_per_ip overrides it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'x-per-ip-'));
    dirs.push(dir);
    const src = await openRuleSource({ driver: 'sqlite', path: join(dir, 'tcp_mgm.sqlite') }, { create: true });
    await src.exec(
      versionTableSql('sqlite') +
        tcpMgmCreateSql('sqlite') +
        "INSERT INTO tcp_mgm (proto, remote_addr, attrs) VALUES ('tcp', '127.0.0.3', 'max_connections_per_ip=0');\n" +
        "INSERT INTO tcp_mgm (proto, remote_addr, attrs) VALUES ('tcp', '127.0.0.4', 'max_connections_per_ip=3');\n",
    );
    await src.close();
    const { dest, got } = lines();
    const s = await startServer({
      configText: [
        'tcp_max_connections_per_ip = 2',
        'socket = tcp:127.0.0.1:0',
        'loadmodule "proto_tcp.so"',
        'loadmodule "db_sqlite.so"',
        'loadmodule "tcp_mgm.so"',
        `modparam("tcp_mgm", "db_url", "sqlite://${join(dir, 'tcp_mgm.sqlite')}")`,
      ].join('\n'),
      logDestination: dest,
    });
    servers.push(s);
    const port = s.listeners[0]!.address.port;
    const from = (h: string) => s.engine.connections().filter((c) => c.remote.host === h).length;
    const refusedPerIp = () => s.stats.get('tcp:rejected_per_ip')!.value();

    // the global: two from 127.0.0.2, the third refused
    for (let i = 0; i < 2; i++) await clientFrom(port, '127.0.0.2');
    await until(() => from('127.0.0.2') === 2, 'two from 127.0.0.2');
    await (await clientFrom(port, '127.0.0.2')).closed;
    expect(refusedPerIp()).toBe(1);
    // a rule with 0: no cap for 127.0.0.3
    for (let i = 0; i < 4; i++) await clientFrom(port, '127.0.0.3');
    await until(() => from('127.0.0.3') === 4, 'four from 127.0.0.3');
    // a rule with 3 for 127.0.0.4
    for (let i = 0; i < 3; i++) await clientFrom(port, '127.0.0.4');
    await until(() => from('127.0.0.4') === 3, 'three from 127.0.0.4');
    await (await clientFrom(port, '127.0.0.4')).closed;
    expect(refusedPerIp()).toBe(2);
    expect(s.stats.get('tcp:rejected')!.value()).toBe(2);
    const warned = got.filter((l) => l.reason === 'per_ip');
    expect(warned.map((l) => l.msg)).toEqual([
      'connection refused: 127.0.0.2 already has 2 connections (tcp_max_connections_per_ip 2)',
      'connection refused: 127.0.0.4 already has 3 connections (tcp_max_connections_per_ip 3)',
    ]);
    expect(warned[0]).toMatchObject({ level: 40, module: 'core', proto: 'tcp' });
  });

  it('is off by default', async () => {
    const s = await startServer({ configText: 'socket = tcp:127.0.0.1:0\nloadmodule "proto_tcp.so"\n', logDestination: lines().dest });
    servers.push(s);
    const port = s.listeners[0]!.address.port;
    for (let i = 0; i < 20; i++) await clientFrom(port, '127.0.0.2');
    await until(() => s.engine.connections().length === 20, 'twenty from one address');
    expect(s.stats.get('tcp:rejected_per_ip')!.value()).toBe(0);
  });
});
