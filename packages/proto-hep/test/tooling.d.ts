// The shared vitest preset is plain JS; this gives the package's vitest.config.ts a type for it.
declare module '@x/config/vitest' {
  export function preset(opts?: { name?: string; include?: string[]; testTimeout?: number; hookTimeout?: number }): Record<string, unknown>;
}
