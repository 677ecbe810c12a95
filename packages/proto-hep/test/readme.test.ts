// The README's TypeScript examples run as written (only the package import is pointed at the
// sources, and HEP_PORT=0 picks free ports), and print what the README says they print.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';

const readme = readFileSync(join(import.meta.dirname, '..', 'README.md'), 'utf8');
const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);
const dir = join(import.meta.dirname, `.readme-${process.pid}`);

async function run(i: number): Promise<unknown[][]> {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `example-${i}.ts`);
  writeFileSync(file, blocks[i]!.replaceAll("from '@x/proto-hep'", "from '../../src/index.js'"));
  const logs: unknown[][] = [];
  vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void logs.push(a));
  vi.stubEnv('HEP_PORT', '0');
  await import(/* @vite-ignore */ file);
  return logs;
}

afterEach(() => {
  vi.restoreAllMocks();
  vi.unstubAllEnvs();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('README examples', () => {
  it('has the two examples this test knows', () => {
    expect(blocks).toHaveLength(2);
  });
  it('encode and decode', async () => {
    expect(await run(0)).toEqual([[3, '10.0.0.1', 5060, 2001, 'abc@host'], [true], [2, '2001:db8::1', 42]]);
  });
  it('a HEP listener and two senders: both packets arrive, nothing dropped, and it exits', async () => {
    const logs = await run(1);
    const lines = logs.filter((l) => typeof l[0] === 'string').map((l) => l[0] as string).sort();
    expect(lines).toEqual([
      'HEPv2 over hep_udp: 192.0.2.10:5060 -> 192.0.2.20:5060 capture 2001: SIP/2.0 200 OK',
      'HEPv3 over hep_tcp: 192.0.2.10:5060 -> 192.0.2.20:5060 capture 2001: OPTIONS sip:a@example.com SIP/2.0',
    ]);
    const last = logs.at(-1)!;
    expect(last[0]).toMatchObject({ sent: 1, dropped: 0, queued: 0 });
    expect(last[1]).toMatchObject({ sent: 1, dropped: 0, queued: 0 });
    expect(last[2]).toMatchObject({ received: 2, ok: 2, dropped: 0 });
  });
});
