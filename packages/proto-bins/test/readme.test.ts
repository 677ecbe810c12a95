// The README's TypeScript examples run as written (only the package import is pointed at the
// sources) and print what the README says they print.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';

const readme = readFileSync(join(import.meta.dirname, '..', 'README.md'), 'utf8');
const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);
const dir = join(import.meta.dirname, `.readme-${process.pid}`);

async function run(i: number): Promise<unknown[][]> {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `example-${i}.ts`);
  writeFileSync(file, blocks[i]!.replaceAll("from '@x/proto-bins'", "from '../../src/index.js'"));
  const logs: unknown[][] = [];
  vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void logs.push(a));
  await import(/* @vite-ignore */ file);
  return logs;
}

afterEach(() => vi.restoreAllMocks());
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('README examples', () => {
  it('build, read and re-encode packets', async () => {
    expect(await run(0)).toEqual([
      [46, '5034434b2e000000'],
      [{ type: 0, clusterId: 1, sourceId: 1, reqNodeList: 1 }],
      ['my-module', 3, 2, 'alice', 42],
      [true],
      ['hello', { clusterId: 1, sourceId: 3, destId: -1 }],
    ]);
  });
});
