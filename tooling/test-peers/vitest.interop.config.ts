import { defineConfig } from 'vitest/config';
import { preset } from '@x/config/vitest';

// The unit run (vitest.config.ts) needs no peer; this one runs the real Kamailio.
const base = preset({ name: 'test-peers-interop', include: ['test/interop/**/*.test.ts'], testTimeout: 60_000 }) as {
  test: Record<string, unknown>;
} & Record<string, unknown>;

export default defineConfig({
  ...base,
  test: { ...base.test, exclude: ['**/node_modules/**', '**/dist/**'], fileParallelism: false },
});
