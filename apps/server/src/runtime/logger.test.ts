import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { createServerLogger } from './logger.js';

let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

describe('server logger flush', () => {
  it('a line logged while an asynchronous write is in flight comes out after it, once flush() resolves', async () => {
    dir = mkdtempSync(join(tmpdir(), 'x-log-'));
    const file = join(dir, 'out.log');
    const dest = pino.destination({ dest: file, sync: false, mkdir: true });
    await new Promise<void>((resolve) => dest.once('ready', () => resolve()));
    const log = createServerLogger({ logLevel: 3, destination: dest });
    // a large first write keeps sonic-boom busy (in flight) while the next lines are buffered
    log.root.info({ filler: 'x'.repeat(4 * 1024 * 1024) }, 'big');
    for (let i = 0; i < 100; i++) log.root.info({ i }, 'middle');
    log.root.info('stopped');
    await log.flush();
    const msgs = readFileSync(file, 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { msg: string }).msg);
    expect(msgs).toHaveLength(102);
    expect(msgs[0]).toBe('big');
    expect(msgs.at(-1)).toBe('stopped');
  });
});
