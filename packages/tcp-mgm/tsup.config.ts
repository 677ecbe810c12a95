import { cpSync } from 'node:fs';
import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm'],
  // tsup's dts step sets baseUrl, which TypeScript 6 flags as deprecated
  dts: { compilerOptions: { ignoreDeprecations: '6.0' } },
  sourcemap: true,
  clean: true,
  target: 'node20',
  // the create scripts ship inside dist/ (a published tarball holds dist/, README, package.json)
  onSuccess: async () => {
    cpSync('sql', 'dist/sql', { recursive: true });
  },
});
