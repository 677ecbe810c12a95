import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { CloseCount, Stat, StatsRegistry } from '@x/core-conn';

/** `core:rcv_requests` -> `x_core_rcv_requests` (+ `_total` for counters, Prometheus's convention). */
export function metricName(s: Pick<Stat, 'group' | 'name' | 'kind'>): string {
  const base = `x_${s.group}_${s.name}`.replace(/[^a-zA-Z0-9_]/g, '_');
  return s.kind === 'incremental' ? `${base}_total` : base;
}

export interface Metrics {
  contentType: string;
  /** the exposition text; statistics are read at scrape time */
  render(): Promise<string>;
}

/**
 * Prometheus view of the shared StatsRegistry. Statistics appear as modules register them, so
 * each scrape adds metrics for new ones; values are read in `collect`, never copied ahead.
 */
export function createMetrics(stats: StatsRegistry, sources: { closes?: () => CloseCount[] } = {}): Metrics {
  const statsReg = new Registry();
  const closes = sources.closes;
  if (closes) {
    new Counter({
      name: 'x_conn_closes_total',
      help: 'connections closed, by protocol and reason (eof, eof_partial, read_timeout, lifetime, protocol_error, max_chunks, msg_too_big, queue_full, write_timeout, read_error, write_error, tls_handshake, connect_failed, mi, proto_layer, shutdown, other)',
      labelNames: ['proto', 'reason'],
      registers: [statsReg],
      collect() {
        this.reset();
        for (const c of closes()) this.inc({ proto: c.proto, reason: c.reason }, c.count);
      },
    });
  }
  const processReg = new Registry();
  collectDefaultMetrics({ register: processReg });
  const known = new Set<string>();
  const sync = (): void => {
    for (const s of stats.all()) {
      const key = `${s.group}:${s.name}`;
      if (known.has(key)) continue;
      known.add(key);
      const name = metricName(s);
      if (statsReg.getSingleMetric(name)) continue;
      const help = `${s.doc || key} (${key})`;
      if (s.kind === 'incremental') {
        new Counter({ name, help, registers: [statsReg], collect() { this.reset(); const v = s.value(); if (v > 0) this.inc(v); } });
      } else {
        new Gauge({ name, help, registers: [statsReg], collect() { this.set(s.value()); } });
      }
    }
  };
  return {
    contentType: statsReg.contentType,
    async render() {
      sync();
      // two registries, not Registry.merge: merge snapshots the metric list, and ours grows
      return `${await statsReg.metrics()}\n${await processReg.metrics()}`;
    },
  };
}
