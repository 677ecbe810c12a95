import { defineConfig } from 'vitest/config';
import type { ViteUserConfig } from 'vitest/config';
// @ts-expect-error -- @x/config/vitest is plain JS without a .d.ts; its shape is typed below.
import * as shared from '@x/config/vitest';

type PresetOptions = { name?: string; include?: string[]; testTimeout?: number; hookTimeout?: number };
const { preset } = shared as { preset: (o: PresetOptions) => ViteUserConfig };

// Packing, installing and versioning shell out to pnpm, npm and turbo: generous limits.
export default defineConfig(
  preset({ name: 'release-test', include: ['test/**/*.test.ts'], testTimeout: 90_000, hookTimeout: 150_000 }),
);
