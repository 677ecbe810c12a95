// tcp_max_connections_per_ip: one source address cannot fill the connection table. Real sockets
// from 127.0.0.2 and 127.0.0.3 (Linux routes all of 127.0.0.0/8 to lo).
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { Logger } from '../src/module/contract.js';
import { makeProfile } from '../src/profile.js';
import { createStatsRegistry } from '../src/stats.js';
import type { ListenerInfo } from '../src/types.js';
import { lpEngine, stopAll, until } from './helpers.js';
import { encode } from './lp-proto.js';

const socks: Socket[] = [];
afterEach(async () => {
  for (const s of socks.splice(0)) s.destroy();
  await stopAll();
});

/** A client from `from`, resolved once connected, with a promise of its close. */
function clientFrom(l: ListenerInfo, from: string): Promise<{ sock: Socket; closed: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host: l.address.host, port: l.address.port, localAddress: from });
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

function lines(): { log: Logger; got: Array<{ level: string; obj: Record<string, unknown>; msg?: string }> } {
  const got: Array<{ level: string; obj: Record<string, unknown>; msg?: string }> = [];
  const at = (level: string) => (obj: unknown, msg?: string) => void got.push({ level, obj: obj as Record<string, unknown>, ...(msg !== undefined ? { msg } : {}) });
  const log: Logger = { trace: at('trace'), debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), fatal: at('fatal'), child: () => log };
  return { log, got };
}

describe('tcp_max_connections_per_ip', () => {
  it('refuses a source address past its cap, counts and logs it; other addresses are not affected', async () => {
    const stats = createStatsRegistry();
    const { log, got } = lines();
    const server = lpEngine({ maxConnectionsPerIp: 2, stats, logger: log });
    const l = await server.listen('lp:127.0.0.1:0');
    const fromHost = (h: string) => server.connections().filter((c) => c.remote.host === h).length;
    const a1 = await clientFrom(l, '127.0.0.2');
    const a2 = await clientFrom(l, '127.0.0.2');
    await until(() => fromHost('127.0.0.2') === 2, 3000, 'two accepted from 127.0.0.2');
    const a3 = await clientFrom(l, '127.0.0.2');
    await a3.closed; // refused: closed by the server at once
    expect(stats.get('lp:rejected_per_ip')!.value()).toBe(1);
    expect(stats.get('lp:rejected')!.value()).toBe(1);
    expect(fromHost('127.0.0.2')).toBe(2);
    const refused = got.find((x) => x.obj.reason === 'per_ip');
    expect(refused).toMatchObject({ level: 'warn', obj: { proto: 'lp', max: 2 } });
    expect(refused!.msg).toMatch(/^connection refused: 127\.0\.0\.2 already has 2 connections \(tcp_max_connections_per_ip 2\)$/);
    // another address still gets its own two
    await clientFrom(l, '127.0.0.3');
    await clientFrom(l, '127.0.0.3');
    await until(() => fromHost('127.0.0.3') === 2, 3000, 'two accepted from 127.0.0.3');
    // the accepted ones still work; closing one frees a slot for its address
    const msgs: string[] = [];
    server.on('message', (m) => msgs.push((m.message as Buffer).toString()));
    a1.sock.write(encode('still here'));
    await until(() => msgs.length === 1);
    a2.sock.destroy();
    await until(() => fromHost('127.0.0.2') === 1, 3000, 'one left from 127.0.0.2');
    await clientFrom(l, '127.0.0.2');
    await until(() => fromHost('127.0.0.2') === 2, 3000, 'the freed slot reused');
    expect(stats.get('lp:rejected_per_ip')!.value()).toBe(1);
  });

  it("a profile's maxConnectionsPerIp wins over the global (0: no cap for the addresses it matches)", async () => {
    const stats = createStatsRegistry();
    const server = lpEngine({ maxConnectionsPerIp: 1, stats });
    const trusted = makeProfile({ id: 7, attrs: { maxConnectionsPerIp: 0 } });
    const tight = makeProfile({ id: 8, attrs: { maxConnectionsPerIp: 2 } });
    server.setProfileResolver((q) => (q.remote.host === '127.0.0.3' ? { profile: trusted, matched: true } : q.remote.host === '127.0.0.4' ? { profile: tight, matched: true } : { profile: server.defaultProfile, matched: false }));
    const l = await server.listen('lp:127.0.0.1:0');
    const fromHost = (h: string) => server.connections().filter((c) => c.remote.host === h).length;
    for (let i = 0; i < 4; i++) await clientFrom(l, '127.0.0.3');
    await until(() => fromHost('127.0.0.3') === 4, 3000, 'four from the trusted address');
    await clientFrom(l, '127.0.0.4');
    await clientFrom(l, '127.0.0.4');
    await until(() => fromHost('127.0.0.4') === 2, 3000, 'two from 127.0.0.4');
    const over4 = await clientFrom(l, '127.0.0.4');
    await over4.closed;
    await clientFrom(l, '127.0.0.2');
    await until(() => fromHost('127.0.0.2') === 1, 3000, 'one from 127.0.0.2');
    const over2 = await clientFrom(l, '127.0.0.2');
    await over2.closed;
    expect(stats.get('lp:rejected_per_ip')!.value()).toBe(2);
    expect(fromHost('127.0.0.3')).toBe(4);
  });

  it('outbound connections do not count against the remote address', async () => {
    const target = lpEngine();
    const tl = await target.listen('lp:127.0.0.1:0');
    const server = lpEngine({ maxConnectionsPerIp: 1 });
    await server.listen('lp:127.0.0.1:0');
    // two outbound connections to 127.0.0.1 (different listeners of the target) and an inbound one from it
    const tl2 = await target.listen('lp:127.0.0.1:0');
    await server.send('lp', tl.address, encode('a'));
    await server.send('lp', tl2.address, encode('b'));
    expect(server.connections().filter((c) => !c.accepted)).toHaveLength(2);
    const l = server.listeners()[0]!;
    await clientFrom(l, '127.0.0.1');
    await until(() => server.connections().filter((c) => c.accepted).length === 1, 3000, 'the inbound one accepted');
  });

  it('validates the option and the profile attribute', () => {
    expect(() => lpEngine({ maxConnectionsPerIp: -1 })).toThrow(/maxConnectionsPerIp/);
    expect(() => lpEngine({ maxConnectionsPerIp: 1.5 })).toThrow(/maxConnectionsPerIp/);
    expect(() => makeProfile({ attrs: { maxConnectionsPerIp: -2 } })).toThrow(/attrs\.maxConnectionsPerIp/);
  });
});
