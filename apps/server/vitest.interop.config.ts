import { defineConfig } from 'vitest/config';
import { preset } from '@x/config/vitest';

// The preset excludes test/interop/** from the unit run; this config is the interop run, so it
// keeps only the generic excludes. Files run one at a time: they share loopback ports and tshark.
const base = preset({ name: 'server-interop', include: ['test/interop/**/*.test.ts'], testTimeout: 120_000, hookTimeout: 120_000 }) as {
  test: Record<string, unknown>;
} & Record<string, unknown>;

export default defineConfig({
  ...base,
  test: { ...base.test, exclude: ['**/node_modules/**', '**/dist/**'], fileParallelism: false },
});
