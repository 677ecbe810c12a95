// Types of the shared vitest preset (vitest.js is plain JS so every vitest.config.ts can load it as is).
import type { ViteUserConfig } from 'vitest/config';

export interface PresetOptions {
  /** report file prefix and project name */
  name?: string;
  /** test globs; default src/**\/*.test.ts and test/**\/*.test.ts (test/interop/** excluded) */
  include?: string[];
  /** per-test timeout in ms (default 20000) */
  testTimeout?: number;
  /** per-hook timeout in ms (default 60000) */
  hookTimeout?: number;
}

export function preset(options?: PresetOptions): ViteUserConfig;
