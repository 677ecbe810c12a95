import { defineConfig } from 'vitest/config';
import { preset } from '@x/config/vitest';

// Bounds, not durations: a passing run takes far less. They are generous because the machine the
// suite runs on may be loaded many times over (hostile.test.ts keeps 100 healthy peers talking).
export default defineConfig(preset({ name: 'proto-tcp', testTimeout: 90_000 }));
