import { Writable } from 'node:stream';
import { createStatsRegistry } from '@x/core-conn';
import { describe, expect, it } from 'vitest';
import { createServerLogger, pinoLevelOf } from './logger.js';
import { createMetrics, metricName } from './metrics.js';
import { makeContext } from './routes.js';

describe('log_level -> pino', () => {
  it.each([[-3, 'fatal'], [-2, 'fatal'], [-1, 'error'], [0, 'error'], [1, 'warn'], [2, 'notice'], [3, 'info'], [4, 'debug']])('%i -> %s', (l, want) => {
    expect(pinoLevelOf(l)).toBe(want);
  });

  it('setLevel reaches children created before it', () => {
    const out: string[] = [];
    const destination = new Writable({ write(c: Buffer, _e, cb) { out.push(c.toString()); cb(); } });
    const log = createServerLogger({ logLevel: 3, destination });
    const child = log.child({ module: 'm' });
    child.debug('hidden');
    log.setLevel(4);
    child.debug('shown');
    log.setLevel(1);
    child.info('hidden too');
    child.warn('warned');
    expect(out.map((l) => (JSON.parse(l) as { msg: string }).msg)).toEqual(['shown', 'warned']);
    expect(log.level()).toBe(1);
  });

  it('pretty output puts each entry, its fields included, on one line', async () => {
    const out: string[] = [];
    const destination = new Writable({ write(c: Buffer, _e, cb) { out.push(c.toString()); cb(); } });
    const log = createServerLogger({ logLevel: 2, pretty: true, destination });
    log.child({ module: 'route' }).notice({ method: 'OPTIONS', si: '127.0.0.1', sp: 40112, nested: { a: 1 } }, 'OPTIONS sip:x@y from 127.0.0.1:40112');
    log.root.info('hidden at level 2');
    await new Promise((r) => setImmediate(r));
    const lines = out.join('').split('\n').filter((l) => l !== '');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/NOTICE .*: OPTIONS sip:x@y from 127\.0\.0\.1:40112 .*"sp":40112/);
    expect(lines[0]).toContain('"module":"route"');
    expect(() => JSON.parse(lines[0]!) as unknown).toThrow();
  });
});

describe('Prometheus view of the stats registry', () => {
  it('names counters with _total and reads values at scrape time, including stats registered later', async () => {
    const stats = createStatsRegistry();
    const c = stats.counter('core', 'rcv_requests', 'SIP requests received');
    let g = 3;
    stats.gauge('net', 'waiting_tcp', 'bytes queued', () => g);
    const m = createMetrics(stats);
    c.inc(2);
    let text = await m.render();
    expect(text).toContain('# TYPE x_core_rcv_requests_total counter\nx_core_rcv_requests_total 2\n');
    expect(text).toContain('x_net_waiting_tcp 3\n');
    expect(text).toMatch(/^process_cpu_user_seconds_total /m);
    c.inc();
    g = 9;
    stats.counter('hep-udp', 'rcv.msgs', 'late').inc(4);
    text = await m.render();
    expect(text).toContain('x_core_rcv_requests_total 3\n');
    expect(text).toContain('x_net_waiting_tcp 9\n');
    expect(text).toContain('x_hep_udp_rcv_msgs_total 4\n');
    c.reset();
    expect(await m.render()).toContain('x_core_rcv_requests_total 0\n');
  });
  it('metricName sanitises', () => {
    expect(metricName({ group: 'a-b', name: 'c.d', kind: 'non-incremental' })).toBe('x_a_b_c_d');
  });
});

describe('route context', () => {
  it('derives si/sp/proto/socket from the connection and delegates reply', async () => {
    const replies: Array<[number, string]> = [];
    const conn = { remote: { host: '10.0.0.5', port: 40112 }, local: { host: '127.0.0.1', port: 5060 }, proto: 'tcp', listener: { address: { host: '127.0.0.1', port: 5060 }, proto: 'tcp' } };
    const ctx = makeContext('request', { message: 'm', connection: conn as never, reply: async (c, r) => { replies.push([c, r]); } }, console as never);
    expect([ctx.si, ctx.sp, ctx.proto, ctx.socket]).toEqual(['10.0.0.5', 40112, 'tcp', 'tcp:127.0.0.1:5060']);
    await ctx.reply(200, 'OK');
    expect(replies).toEqual([[200, 'OK']]);
    expect(ctx.dropped).toBe(false);
    ctx.drop();
    expect(ctx.dropped).toBe(true);
    const noReply = makeContext('hep', { message: 1, remote: { host: '::1', port: 9 }, local: { host: '::1', port: 9060 }, proto: 'hep_udp' }, console as never);
    expect(noReply.socket).toBe('hep_udp:[::1]:9060');
    await expect(noReply.reply(200, 'OK')).rejects.toThrow('route "hep" cannot reply');
    await expect(noReply.reply(200, 'OK')).rejects.toMatchObject({ name: 'XError', code: 'ERR_ROUTE_CANNOT_REPLY' });
  });
});
