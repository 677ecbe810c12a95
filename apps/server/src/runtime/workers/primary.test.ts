import { describe, expect, it } from 'vitest';
import { createMetrics } from '../metrics.js';
import { aggregateStats, snapshotRegistry } from './primary.js';
import { shardBits } from './protocol.js';

const st = (group: string, name: string, value: number, kind: 'incremental' | 'non-incremental' = 'incremental') => ({ group, name, kind, doc: '', value });

describe('workers: statistics of all workers as one', () => {
  it('sums counters and gauges, averages load, keeps the largest uptime, shows each worker\'s load as load-proc-N', () => {
    const w0 = [st('core', 'rcv_requests', 5), st('tcp', 'connections', 3, 'non-incremental'), st('load', 'load', 40, 'non-incremental'), st('load', 'load-proc-0', 40, 'non-incremental'), st('load', 'processes_number', 1, 'non-incremental'), st('server', 'uptime', 100, 'non-incremental')];
    const w1 = [st('core', 'rcv_requests', 7), st('tcp', 'connections', 2, 'non-incremental'), st('load', 'load', 20, 'non-incremental'), st('load', 'load-proc-0', 20, 'non-incremental'), st('load', 'processes_number', 1, 'non-incremental'), st('server', 'uptime', 3, 'non-incremental')];
    const out = aggregateStats([{ index: 0, pid: 10, stats: w0, closes: [] }, { index: 1, pid: 11, stats: w1, closes: [] }], [st('httpd', 'refused_auth', 1)]);
    const v = Object.fromEntries(out.map((s) => [`${s.group}:${s.name}`, s.value]));
    expect(v).toEqual({
      'core:rcv_requests': 12,
      'tcp:connections': 5,
      'load:load': 30,
      'load:processes_number': 3,
      'server:uptime': 100,
      'load:load-proc-1': 40,
      'load:load-proc-2': 20,
      'httpd:refused_auth': 1,
    });
    expect(out.find((s) => s.name === 'load-proc-2')!.doc).toContain('worker 1, PID 11');
  });

  it('kernel drops of the shared UDP sockets count once: every worker reports the same socket\'s counter', () => {
    const w = (drops: number, rcv: number) => [st('hep_udp', 'kernel_drops', drops, 'non-incremental'), st('hep_udp', 'rcv_msgs', rcv)];
    const out = aggregateStats([{ index: 0, pid: 10, stats: w(7, 100), closes: [] }, { index: 1, pid: 11, stats: w(7, 50), closes: [] }]);
    const v = Object.fromEntries(out.map((s) => [`${s.group}:${s.name}`, s.value]));
    expect(v).toMatchObject({ 'hep_udp:kernel_drops': 7, 'hep_udp:rcv_msgs': 150 });
  });

  it('/metrics over the workers\' snapshots shows each scrape\'s figures, not the first scrape\'s', async () => {
    let snap = [st('hep_udp', 'rcv_msgs', 100), st('tcp', 'connections', 3, 'non-incremental')];
    const m = createMetrics(snapshotRegistry(() => snap));
    expect(await m.render()).toMatch(/^x_hep_udp_rcv_msgs_total 100$/m);
    snap = [st('hep_udp', 'rcv_msgs', 250), st('tcp', 'connections', 1, 'non-incremental')];
    const text = await m.render();
    expect(text).toMatch(/^x_hep_udp_rcv_msgs_total 250$/m);
    expect(text).toMatch(/^x_tcp_connections 1$/m);
  });

  it('shard bits: the smallest power of two holding every worker index', () => {
    expect([1, 2, 3, 4, 5, 8, 9, 256].map(shardBits)).toEqual([0, 1, 2, 2, 3, 3, 4, 8]);
  });
});
