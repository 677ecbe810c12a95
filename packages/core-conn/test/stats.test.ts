import { afterEach, describe, expect, it } from 'vitest';
import { createStatsRegistry } from '../src/stats.js';
import { toTcpListEntry, tcpListJson, formatLocalTime } from '../src/module/tcp-list.js';
import { lpEngine, rawClient, stopAll, until } from './helpers.js';
import { encode } from './lp-proto.js';

afterEach(stopAll);

describe('stats registry', () => {
  it('counters and gauges', () => {
    const r = createStatsRegistry();
    const c = r.counter('g', 'n', 'doc');
    expect(r.counter('g', 'n', 'other')).toBe(c);
    c.inc();
    c.inc(4);
    c.dec();
    expect(c.value()).toBe(4);
    c.reset();
    expect(c.value()).toBe(0);
    let x = 3;
    const g = r.gauge('g', 'live', 'doc', () => x);
    x = 9;
    expect(g.value()).toBe(9);
    expect(g.kind).toBe('non-incremental');
    expect(r.get('g:n')).toBe(c);
    expect(r.all().map((s) => `${s.group}:${s.name}`)).toEqual(['g:n', 'g:live']);
  });

  it('conn:records, conn:index_entries and conn:timers follow connections open and back to the idle figures once closed', async () => {
    const stats = createStatsRegistry();
    const server = lpEngine({ stats });
    const l = await server.listen('lp:127.0.0.1:0');
    const g = (n: string) => stats.get(`conn:${n}`)!.value();
    expect([g('records'), g('index_entries'), g('timers')]).toEqual([0, 0, 0]);
    const clients = await Promise.all(Array.from({ length: 20 }, () => rawClient(l)));
    await until(() => stats.get('lp:accepted')!.value() === 20);
    expect(g('records')).toBe(20);
    // 20 address entries (and a per-IP entry when the engine counts per IP)
    expect(g('index_entries')).toBeGreaterThanOrEqual(20);
    // each open connection has its deadline (read timeout / lifetime) in the wheel
    expect(g('timers')).toBeGreaterThanOrEqual(20);
    const cstats = createStatsRegistry();
    const client = lpEngine({ stats: cstats });
    await client.send('lp', l.address, encode('hello'));
    expect(cstats.get('conn:records')!.value()).toBe(1);
    for (const c of clients) c.destroy();
    await until(() => stats.get('lp:closed')!.value() === 20);
    expect(g('records')).toBe(1);
    for (const c of client.connections()) client.close(c.id);
    await until(() => cstats.get('conn:records')!.value() === 0 && g('records') === 0);
    expect([g('records'), g('index_entries'), g('timers')]).toEqual([0, 0, 0]);
  });

  it('the engine counts per protocol', async () => {
    const stats = createStatsRegistry();
    const server = lpEngine({ stats });
    const l = await server.listen('lp:127.0.0.1:0');
    expect(server.stats).toBe(stats);
    const client = lpEngine({ stats: createStatsRegistry() });
    server.on('message', (ev) => void server.send('lp', ev.conn.remote, encode('ok'), { connectionId: ev.conn.id }));
    for (let i = 0; i < 3; i++) await client.send('lp', l.address, encode('hello'));
    await until(() => stats.get('lp:snd_msgs')!.value() === 3);
    expect(stats.get('lp:accepted')!.value()).toBe(1);
    expect(stats.get('lp:rcv_msgs')!.value()).toBe(3);
    expect(stats.get('lp:rcv_bytes')!.value()).toBe(27);
    expect(stats.get('lp:snd_bytes')!.value()).toBe(18);
    expect(stats.get('lp:connections')!.value()).toBe(1);
    const bad = await rawClient(l);
    bad.write(Buffer.from([0xff, 1, 2, 3]));
    await until(() => stats.get('lp:proto_errors')!.value() === 1);
    await until(() => stats.get('lp:closed')!.value() === 1);
    expect(stats.get('lp:connections')!.value()).toBe(1);
    expect(stats.get('net:waiting_tcp')!.value()).toBe(0);
    bad.destroy();
  });
});

describe('tcp:list entries', () => {
  it('lists keys in OpenSIPS order with one Alias port per alias', async () => {
    const server = lpEngine();
    const l = await server.listen('lp:127.0.0.1:0');
    const s = await rawClient(l);
    await until(() => server.connections().length === 1);
    const conn = server.connections()[0]!;
    server.addAlias(conn.id, 5060);
    const e = toTcpListEntry(server.connection(conn.id)!);
    expect(e.map(([k]) => k)).toEqual(['ID', 'Type', 'State', 'Remote', 'Local', 'Lifetime', 'Alias port', 'Alias port']);
    expect(e[0]![1]).toBe(conn.id);
    expect(e[3]![1]).toBe(`127.0.0.1:${s.localPort}`);
    expect(e[4]![1]).toBe(`127.0.0.1:${l.address.port}`);
    expect(e[5]![1]).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
    expect(e.slice(6).map(([, v]) => v)).toEqual([s.localPort, 5060]);
    const json = tcpListJson([e]);
    expect(json).toMatch(new RegExp(`^\\{"Connections":\\[\\{"ID":${conn.id},"Type":"lp","State":0,"Remote":"127\\.0\\.0\\.1:${s.localPort}",.*"Alias port":${s.localPort},"Alias port":5060\\}\\]\\}$`));
    expect(tcpListJson(null)).toBe('null');
    expect(formatLocalTime(new Date(2026, 7, 20, 16, 20, 2).getTime())).toBe('2026-08-20 16:20:02');
    s.destroy();
  });
});
