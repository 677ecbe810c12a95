// Shared vitest preset. Every package's vitest config spreads this.
// - resolves workspace packages to their TypeScript sources (the "@x/source" export condition),
//   so a test never runs against a stale dist/;
// - when X_VITEST_JSON_DIR is set (.ci/run sets it), each run also writes a JSON report there,
//   which .ci/run sums into its closing "N passed, N failed" line.
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';

export function preset({ name, include, testTimeout = 20_000, hookTimeout = 60_000 } = {}) {
  const dir = process.env.X_VITEST_JSON_DIR;
  const reporters = dir
    ? ['default', ['json', { outputFile: join(dir, `${name ?? 'pkg'}-${randomUUID()}.json`) }]]
    : ['default'];
  return {
    resolve: { conditions: ['@x/source'] },
    ssr: { resolve: { conditions: ['@x/source'] } },
    test: {
      include: include ?? ['src/**/*.test.ts', 'test/**/*.test.ts'],
      exclude: ['**/node_modules/**', '**/dist/**', 'test/interop/**'],
      testTimeout,
      hookTimeout,
      reporters,
      pool: 'forks',
    },
  };
}
