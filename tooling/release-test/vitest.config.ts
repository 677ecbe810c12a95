import { defineConfig } from 'vitest/config';
import { preset } from '@x/config/vitest';

// Packing, installing and versioning shell out to pnpm, npm and turbo: generous limits.
export default defineConfig(
  preset({ name: 'release-test', include: ['test/**/*.test.ts'], testTimeout: 90_000, hookTimeout: 150_000 }),
);
