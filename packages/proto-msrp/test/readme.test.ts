// The README's TypeScript example runs as written (only the package import is pointed at the
// sources) and prints what the README says it prints.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { format } from 'node:util';
import { afterAll, describe, expect, it, vi } from 'vitest';

const readme = readFileSync(join(import.meta.dirname, '..', 'README.md'), 'utf8');
const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);
const printed = [...readme.matchAll(/prints\n\n```\n([\s\S]*?)```/g)].map((m) => m[1]!);
const dir = join(import.meta.dirname, `.readme-${process.pid}`);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('README example', () => {
  it('runs and prints what the README shows', async () => {
    expect(blocks).toHaveLength(1);
    mkdirSync(dir, { recursive: true });
    const file = join(dir, 'example-0.ts');
    writeFileSync(file, blocks[0]!.replaceAll("from '@x/proto-msrp'", "from '../../src/index.js'"));
    const lines: string[] = [];
    vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void lines.push(format(...a)));
    await import(/* @vite-ignore */ file);
    vi.restoreAllMocks();
    expect(lines.join('\n') + '\n').toBe(printed[0]);
  });
});
