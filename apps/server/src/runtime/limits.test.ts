import { describe, expect, it } from 'vitest';
import { FD_MARGIN, planDescriptors, type DescriptorProbe } from './limits.js';

/** a fake process: its limits, descriptors open, and whether prlimit works */
function fake(soft: number, hard: number, open: number, raise = 'ok'): DescriptorProbe & { raised: number[] } {
  const st = { soft, hard };
  const raised: number[] = [];
  return {
    raised,
    limits: () => ({ ...st }),
    open: () => open,
    raise(s) {
      raised.push(s);
      if (raise !== 'ok') return raise;
      st.soft = s;
      return undefined;
    },
  };
}

describe('planDescriptors', () => {
  const needs = { maxConnections: 2048, sockets: 3, httpConnections: 64 };
  const reserve = 20 + 3 + 64 + FD_MARGIN;

  it('a limit with room: the cap is tcp_max_connections, nothing raised', () => {
    const p = fake(65536, 65536, 20);
    expect(planDescriptors(needs, p)).toEqual({ soft: 65536, hard: 65536, reserve, requested: 2048, maxConnections: 2048 });
    expect(p.raised).toEqual([]);
  });

  it('a soft limit too low is raised to what is needed, at most the hard limit', () => {
    const p = fake(1024, 4096, 20);
    expect(planDescriptors(needs, p)).toMatchObject({ soft: 2048 + reserve, hard: 4096, raisedFrom: 1024, maxConnections: 2048 });
    const q = fake(1024, 1500, 20);
    expect(planDescriptors(needs, q)).toMatchObject({ soft: 1500, raisedFrom: 1024, maxConnections: 1500 - reserve });
  });

  it('a hard limit too low: the cap is what the limit leaves after the reserve (the issue: 1024 files, 2048 connections)', () => {
    const p = fake(1024, 1024, 20);
    expect(planDescriptors(needs, p)).toEqual({ soft: 1024, hard: 1024, reserve, requested: 2048, maxConnections: 1024 - reserve });
    expect(p.raised).toEqual([]);
    expect(planDescriptors({ maxConnections: 10, sockets: 1, httpConnections: 0 }, fake(40, 40, 30)).maxConnections).toBe(1);
  });

  it('a failed raise is reported and the cap fits the old limit', () => {
    expect(planDescriptors(needs, fake(1024, 4096, 20, 'prlimit: Operation not permitted'))).toMatchObject({ soft: 1024, raiseError: 'prlimit: Operation not permitted', maxConnections: 1024 - reserve });
  });

  it('unlimited or unknown limits leave tcp_max_connections as it is', () => {
    expect(planDescriptors(needs, fake(Infinity, Infinity, 20)).maxConnections).toBe(2048);
    expect(planDescriptors(needs, { limits: () => undefined, open: () => undefined, raise: () => 'no' })).toMatchObject({ soft: undefined, maxConnections: 2048 });
  });

  it('reads this process: a real limit and a real descriptor count', () => {
    const plan = planDescriptors({ maxConnections: 1, sockets: 0, httpConnections: 0 });
    expect(plan.soft).toBeGreaterThan(0);
    expect(plan.reserve).toBeGreaterThan(FD_MARGIN);
  });
});
