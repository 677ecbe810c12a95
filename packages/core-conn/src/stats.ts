import type { Stat, StatsRegistry } from './services.js';

class StatImpl implements Stat {
  private v = 0;
  constructor(
    readonly group: string,
    readonly name: string,
    readonly kind: 'incremental' | 'non-incremental',
    readonly doc: string,
    private readonly fn?: () => number,
  ) {}
  value(): number {
    return this.fn ? this.fn() : this.v;
  }
  inc(by = 1): void {
    this.v += by;
  }
  dec(by = 1): void {
    this.v -= by;
  }
  set(v: number): void {
    this.v = v;
  }
  reset(): void {
    this.v = 0;
  }
}

/** An in-memory StatsRegistry; the server shares one between MI and /metrics. */
export function createStatsRegistry(): StatsRegistry {
  const stats = new Map<string, Stat>();
  const make = (group: string, name: string, doc: string, kind: Stat['kind'], fn?: () => number): Stat => {
    const key = `${group}:${name}`;
    const have = stats.get(key);
    if (have) return have;
    const s = new StatImpl(group, name, kind, doc, fn);
    stats.set(key, s);
    return s;
  };
  return {
    counter: (group, name, doc) => make(group, name, doc, 'incremental'),
    gauge: (group, name, doc, fn) => make(group, name, doc, 'non-incremental', fn),
    all: () => [...stats.values()],
    get: (fullName) => stats.get(fullName),
  };
}
