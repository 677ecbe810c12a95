import { cpSync } from 'node:fs';
import { defineConfig } from 'tsup';

export default defineConfig({
  entry: { index: 'src/index.ts', 'cli/x-server': 'src/cli/x-server.ts', 'cli/x-cli': 'src/cli/x-cli.ts' },
  format: ['esm'],
  // tsup's dts step sets baseUrl, which TypeScript 6 flags as deprecated
  dts: { entry: { index: 'src/index.ts' }, compilerOptions: { ignoreDeprecations: '6.0' } },
  sourcemap: true,
  clean: true,
  target: 'node20',
  // the default cfg and its route script ship inside dist/ (the package publishes dist + README only)
  onSuccess: async () => {
    cpSync('config', 'dist/config', { recursive: true });
  },
});
