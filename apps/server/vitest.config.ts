import { defineConfig } from 'vitest/config';
import { preset } from '@x/config/vitest';

// e2e tests start the built binary as a child process: a build runs first (see the test script)
export default defineConfig(preset({ name: 'server', testTimeout: 120_000, hookTimeout: 120_000 }));
