import { afterEach, describe, expect, it } from 'vitest';
import { createStatsRegistry } from '../src/stats.js';
import { collect, lpEngine, rawClient, sleep, stopAll, until } from './helpers.js';
import { encode } from './lp-proto.js';

afterEach(stopAll);

describe('max connections', () => {
  it('closes accepts beyond the limit at once and fails outbound creation', async () => {
    const stats = createStatsRegistry();
    const server = lpEngine({ maxConnections: 3, stats });
    const l = await server.listen('lp:127.0.0.1:0');
    const got = collect(server);
    const socks = await Promise.all([1, 2, 3].map(() => rawClient(l)));
    await until(() => server.connections().length === 3);
    const extra = await rawClient(l);
    const ended = new Promise<void>((r) => extra.once('close', () => r()));
    await ended;
    expect(stats.get('lp:rejected')!.value()).toBe(1);
    expect(server.connections()).toHaveLength(3);
    await expect(server.send('lp', { host: '127.0.0.1', port: 9 }, encode('x'))).rejects.toMatchObject({ code: 'ERR_CONN_MAX_CONNECTIONS' });
    // the accepted ones still work
    socks[0]!.write(encode('ok'));
    await until(() => got.messages.length === 1);
    socks[1]!.destroy();
    await until(() => server.connections().length === 2);
    await sleep(10);
    const again = await rawClient(l);
    await until(() => server.connections().length === 3);
    for (const s of [...socks, again]) s.destroy();
  });

  it('connection ids wrap at 2^32', async () => {
    const server = lpEngine({ firstConnectionId: 2 ** 32 - 1 });
    const l = await server.listen('lp:127.0.0.1:0');
    const a = await rawClient(l);
    await until(() => server.connections().length === 1);
    const b = await rawClient(l);
    await until(() => server.connections().length === 2);
    expect(server.connections().map((c) => c.id)).toEqual([2 ** 32 - 1, 0]);
    a.destroy();
    b.destroy();
  });

  it('validates engine options', () => {
    expect(() => lpEngine({ firstConnectionId: 2 ** 32 })).toThrow(/firstConnectionId/);
    expect(() => lpEngine({ maxConnections: 0 })).toThrow(/maxConnections/);
    expect(() => lpEngine({ sweepInterval: -1 })).toThrow(/sweepInterval/);
    expect(() => lpEngine({ defaultProfile: { aliasMode: 5 as 0 } })).toThrow(/aliasMode/);
  });
});
