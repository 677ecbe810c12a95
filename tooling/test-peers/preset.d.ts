// The shared vitest preset is plain JS; this types it for vitest.config.ts.
declare module '@x/config/vitest' {
  export function preset(opts?: { name?: string; include?: string[]; testTimeout?: number; hookTimeout?: number }): Record<string, unknown>;
}
