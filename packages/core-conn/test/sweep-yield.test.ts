// The sweep closes at most 32 connections per event-loop turn, then yields to I/O: deadlines
// cluster (slowloris peers started together expire together) and hundreds of closes in one turn
// stall every other connection.
import { afterEach, describe, expect, it } from 'vitest';
import { lpEngine, rawClient, stopAll, until } from './helpers.js';

afterEach(stopAll);

describe('sweep', () => {
  it('closes 100 expired connections in turns of at most 32, I/O running between them', async () => {
    // lifetimes of 2 s and a sweep every 2 s: 100 connections accepted within one sweep period
    // expire together, at one sweep
    const server = lpEngine({ sweepInterval: 2000, socketBacklog: 128, defaultProfile: { conLifetime: 2 } });
    const l = await server.listen('lp:127.0.0.1:0');
    const socks = await Promise.all(Array.from({ length: 100 }, () => rawClient(l)));
    await until(() => server.connections().length === 100, 5000, '100 accepted');
    let closes = 0;
    let beforeYield = -1;
    server.on('close', () => {
      if (closes++ === 0) setImmediate(() => (beforeYield = closes));
    });
    await until(() => closes === 100, 10_000, 'all 100 closed by their lifetime');
    expect(beforeYield).toBeGreaterThan(0);
    expect(beforeYield).toBeLessThanOrEqual(32);
    expect(server.closeCounts()).toEqual([{ proto: 'lp', reason: 'lifetime', count: 100 }]);
    for (const s of socks) s.destroy();
  });
});
