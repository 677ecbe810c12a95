#!/usr/bin/env node
// x-cli's bin: a file that exists before the build (the bin links of a fresh `pnpm install`
// point here), loading the built CLI.
import { existsSync } from 'node:fs';

const cli = new URL('../dist/cli/x-cli.js', import.meta.url);
if (!existsSync(cli)) {
  process.stderr.write('x-cli: not built yet: run `corepack pnpm build` (dist/cli/x-cli.js is missing)\n');
  process.exit(1);
}
await import(cli.href);
