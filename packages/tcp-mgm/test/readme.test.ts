// The README's example runs as written (only the package import is pointed at the sources) and
// prints what the README says it prints.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { afterAll, describe, expect, it, vi } from 'vitest';

const readme = readFileSync(join(import.meta.dirname, '..', 'README.md'), 'utf8');
const code = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);
const printed = /prints\n\n```\n([\s\S]*?)```/.exec(readme)![1]!;
const dir = join(import.meta.dirname, `.readme-${process.pid}`);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('README example', () => {
  it('prints what the README shows', async () => {
    expect(code).toHaveLength(1);
    mkdirSync(dir, { recursive: true });
    const file = join(dir, 'example.ts');
    writeFileSync(file, code[0]!.replaceAll("from '@x/tcp-mgm'", "from '../../src/index.js'"));
    const lines: string[] = [];
    vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void lines.push(a.map((x) => (typeof x === 'string' ? x : inspect(x, { breakLength: Infinity, depth: 5 }))).join(' ')));
    await import(/* @vite-ignore */ file);
    vi.restoreAllMocks();
    expect(lines.join('\n') + '\n').toBe(printed);
  });
});
