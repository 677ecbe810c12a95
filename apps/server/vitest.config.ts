import { defineConfig } from 'vitest/config';
import type { ViteUserConfig } from 'vitest/config';
// @ts-expect-error -- @x/config/vitest is plain JS without a .d.ts; its shape is typed below.
import * as shared from '@x/config/vitest';

type PresetOptions = { name?: string; include?: string[]; testTimeout?: number; hookTimeout?: number };
const { preset } = shared as { preset: (o: PresetOptions) => ViteUserConfig };

// e2e tests start the built binary as a child process: a build runs first (see the test script)
export default defineConfig(preset({ name: 'server', testTimeout: 30_000, hookTimeout: 90_000 }));
