import { execFileSync } from 'node:child_process';
import { cpSync } from 'node:fs';
import { defineConfig } from 'tsup';

/** the source revision MI `version revision` reports (as OpenSIPS's THISREVISION); empty outside a git checkout */
function gitRevision(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short=10', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000 }).trim();
  } catch {
    return '';
  }
}

export default defineConfig({
  entry: { index: 'src/index.ts', 'cli/x-server': 'src/cli/x-server.ts', 'cli/x-cli': 'src/cli/x-cli.ts' },
  format: ['esm'],
  // tsup's dts step sets baseUrl, which TypeScript 6 flags as deprecated
  dts: { entry: { index: 'src/index.ts' }, compilerOptions: { ignoreDeprecations: '6.0' } },
  sourcemap: true,
  clean: true,
  target: 'node20',
  define: { __X_GIT_REVISION__: JSON.stringify(gitRevision()) },
  // the default cfg and its route script ship inside dist/ (the package publishes dist + README only)
  onSuccess: async () => {
    cpSync('config', 'dist/config', { recursive: true });
  },
});
