// @x/config/vitest ships as plain JS without types; this is its shape as used here.
declare module '@x/config/vitest' {
  import type { UserConfig } from 'vitest/config';
  export function preset(options?: {
    name?: string;
    include?: string[];
    testTimeout?: number;
    hookTimeout?: number;
  }): UserConfig;
}
