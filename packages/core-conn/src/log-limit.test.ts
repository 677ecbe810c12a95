import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { LogLimiter, OVERFLOW_KEY, rateLimitedLogger } from './log-limit.js';
import type { Logger } from './module/contract.js';

function clock(): { now: () => number; t: number } {
  const c = { t: 0, now: () => c.t };
  return c;
}

describe('LogLimiter', () => {
  it('lets `burst` lines per key per interval through, reports how many it suppressed', () => {
    const c = clock();
    const reports: Array<[string, number]> = [];
    const l = new LogLimiter((k, n) => reports.push([k, n]), { burst: 3, intervalMs: 1000, now: c.now });
    const passed = Array.from({ length: 100 }, () => l.allow('10.0.0.1')).filter(Boolean).length;
    expect(passed).toBe(3);
    expect(l.allow('10.0.0.2')).toBe(true); // another source keeps its own budget
    expect(reports).toEqual([]);
    c.t = 1000;
    expect(l.allow('10.0.0.1')).toBe(true);
    expect(reports).toEqual([['10.0.0.1', 97]]);
    expect(l.suppressed).toBe(97);
    l.close();
  });

  it('the sweep reports keys gone quiet and forgets them; memory is bounded by maxKeys', () => {
    const c = clock();
    const reports: Array<[string, number]> = [];
    const l = new LogLimiter((k, n) => reports.push([k, n]), { burst: 1, intervalMs: 1000, maxKeys: 4, now: c.now });
    for (let i = 0; i < 1000; i++) l.allow(`k${i}`);
    // 4 keys tracked, the other 996 shared the overflow bucket: 1 passed, 995 suppressed
    c.t = 1000;
    l.sweep();
    expect(reports).toEqual([[OVERFLOW_KEY, 995]]);
    expect(l.allow('k999')).toBe(true); // forgotten: a fresh budget
    l.close();
  });

  it('property: per key and interval, never more than burst lines pass, and passed + suppressed = calls', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.constantFrom('a', 'b', 'c'), fc.integer({ min: 0, max: 300 })), { maxLength: 300 }), fc.integer({ min: 1, max: 5 }), (calls, burst) => {
        const c = clock();
        let reported = 0;
        const l = new LogLimiter((_k, n) => (reported += n), { burst, intervalMs: 1000, now: c.now });
        let passed = 0;
        for (const [k, dt] of calls) {
          c.t += dt;
          if (l.allow(k)) {
            passed++;
          }
        }
        l.close();
        expect(passed + reported).toBe(calls.length);
        expect(l.suppressed).toBe(reported);
      }),
    );
  });
});

describe('rateLimitedLogger', () => {
  it('limits warn/error per source address and message, passes debug, says how many were suppressed', () => {
    const lines: Array<[string, unknown, string | undefined]> = [];
    const sink: Logger = {
      trace: (o, m) => lines.push(['trace', o, m]),
      debug: (o, m) => lines.push(['debug', o, m]),
      info: (o, m) => lines.push(['info', o, m]),
      warn: (o, m) => lines.push(['warn', o, m]),
      error: (o, m) => lines.push(['error', o, m]),
      fatal: (o, m) => lines.push(['fatal', o, m]),
      child: () => sink,
    };
    const c = clock();
    const log = rateLimitedLogger(sink, { burst: 2, intervalMs: 1000, now: c.now });
    for (let i = 0; i < 50; i++) log.error({ si: '192.0.2.1' }, 'route "request" failed');
    for (let i = 0; i < 50; i++) log.child({ module: 'route' }).error({ si: '192.0.2.2' }, 'route "request" failed');
    for (let i = 0; i < 5; i++) log.debug({ si: '192.0.2.1' }, 'debug line');
    expect(lines.filter((l) => l[0] === 'error')).toHaveLength(4);
    expect(lines.filter((l) => l[0] === 'debug')).toHaveLength(5);
    c.t = 1000;
    log.limiter.close();
    const summaries = lines.filter((l) => l[0] === 'warn');
    expect(summaries).toHaveLength(2);
    expect(summaries[0]![1]).toMatchObject({ suppressed: 48 });
    expect(summaries[0]![2]).toMatch(/48 similar log lines suppressed/);
  });
});
