import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { requireBinary, runSipp } from '@x/test-peers';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { defaultCfgOnPort0, ensureBuilt, PKG, startX, tempDir, writeFiles, xcli, type Running } from '../e2e/helpers.js';

const running: Running[] = [];
afterEach(() => {
  for (const r of running.splice(0)) r.kill();
});

beforeAll(() => {
  ensureBuilt();
});

describe('x-server on the default config, against sipp', () => {
  it('answers every OPTIONS sipp sends over TCP and counts them in get_statistics', async () => {
    requireBinary('sipp');
    const dir = tempDir();
    writeFiles(dir, { 'x.cfg': defaultCfgOnPort0(), 'routes.mjs': readFileSync(join(PKG, 'config', 'routes.mjs'), 'utf8') });
    const x = await startX(join(dir, 'x.cfg'));
    running.push(x);
    const calls = 20;
    const sipp = await runSipp({ transport: 't1', target: `127.0.0.1:${x.ports.get('tcp')!}`, rate: 50, calls, timeoutSec: 30 });
    expect(sipp.successful, sipp.output).toBe(calls);
    expect(sipp.failed).toBe(0);
    const stats = JSON.parse((await xcli(['--url', x.miUrl, 'mi', 'get_statistics', 'rcv_requests', 'tcp:'])).stdout) as Record<string, number>;
    expect(stats['core:rcv_requests']).toBe(calls);
    expect(stats['tcp:rcv_msgs']).toBe(calls);
    x.child.kill('SIGTERM');
    expect(await x.exited).toEqual({ code: 0, signal: null });
  });
});
