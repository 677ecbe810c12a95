// The README's TypeScript example runs as written (the package import pointed at the sources)
// and prints what the README says it prints.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';

const readme = readFileSync(join(import.meta.dirname, '..', 'README.md'), 'utf8');
const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);
const dir = join(import.meta.dirname, `.readme-${process.pid}`);

afterEach(() => vi.restoreAllMocks());
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('README example', () => {
  it('has the one example this test knows', () => {
    expect(blocks).toHaveLength(1);
  });
  it('traces an accepted connection to an x HEP collector', async () => {
    mkdirSync(dir, { recursive: true });
    const file = join(dir, 'example-0.ts');
    writeFileSync(file, blocks[0]!.replaceAll("from '@x/tracing'", "from '../../src/index.js'"));
    const logs: unknown[][] = [];
    vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void logs.push(a));
    await import(/* @vite-ignore */ file);
    expect(logs).toEqual([[['89 TCP:ACCEPTED:SUCCESS:Connection accepted... <cid>', '1 OPTIONS sip:a@127.0.0.1 SIP/2.0 c1@x', '89 TCP:CLOSED:SUCCESS:EOF received <cid>']], [{ 'TCP tracing': 'on' }]]);
  });
});
