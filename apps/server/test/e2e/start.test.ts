import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { defaultCfgOnPort0, ensureBuilt, PKG, tempDir, writeFiles } from './helpers.js';
import { readFileSync } from 'node:fs';

const ROOT = join(PKG, '..', '..');

beforeAll(() => {
  ensureBuilt();
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Runs a root script through corepack pnpm (as the README does); resolves when `ready` matches the output. */
function rootScript(args: string[], ready: RegExp): Promise<{ pid: number; out: () => string; exited: Promise<number | null> }> {
  const child = spawn('corepack', ['pnpm', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FORCE_COLOR: '0' } });
  let out = '';
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`not ready in 60 s: ${out}`));
    }, 60_000);
    const on = (d: Buffer): void => {
      out += d.toString();
      if (ready.test(out)) {
        clearTimeout(t);
        resolve({ pid: child.pid!, out: () => out, exited });
      }
    };
    child.stdout!.on('data', on);
    child.stderr!.on('data', on);
    void exited.then((c) => reject(new Error(`exited ${c} before ready: ${out}`)));
  });
}

describe('the README commands from the repository root', () => {
  it('`corepack pnpm start`: SIGTERM stops x-server cleanly, exit 0, no pnpm error, no orphan', async () => {
    const dir = tempDir();
    writeFiles(dir, { 'x.cfg': defaultCfgOnPort0(), 'routes.mjs': readFileSync(join(PKG, 'config', 'routes.mjs'), 'utf8') });
    const run = await rootScript(['start', '-f', join(dir, 'x.cfg')], /x-server started/);
    const serverPid = Number(/\(x-server\/(\d+)\)/.exec(run.out())![1]);
    expect(alive(serverPid)).toBe(true);
    // start does not rebuild: no build output before the server's lines
    expect(run.out()).not.toMatch(/tsup|Build success|turbo/i);
    process.kill(run.pid, 'SIGTERM');
    expect(await run.exited).toBe(0);
    expect(run.out()).toMatch(/stopped/);
    expect(run.out()).not.toMatch(/ELIFECYCLE|ERR_PNPM|Command failed/);
    const until = Date.now() + 10_000;
    while (alive(serverPid) && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    expect(alive(serverPid), 'x-server outlived pnpm').toBe(false);
  });

  it('`corepack pnpm x-cli mi version` reaches a server from the root', async () => {
    const dir = tempDir();
    writeFiles(dir, { 'x.cfg': defaultCfgOnPort0(), 'routes.mjs': readFileSync(join(PKG, 'config', 'routes.mjs'), 'utf8') });
    const run = await rootScript(['start', '-f', join(dir, 'x.cfg')], /MI \(JSON-RPC 2\.0\) listening on (http:\/\/\S+)/);
    try {
      const url = /MI \(JSON-RPC 2\.0\) listening on (http:\/\/\S+)/.exec(run.out())![1]!.replace(/\s.*$/, '');
      const cli = await new Promise<{ code: number | null; out: string }>((resolve) => {
        const c = spawn('corepack', ['pnpm', '--silent', 'x-cli', '--url', url, 'mi', 'version'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        c.stdout.on('data', (d: Buffer) => (out += d.toString()));
        c.stderr.on('data', (d: Buffer) => (out += d.toString()));
        c.once('exit', (code) => resolve({ code, out }));
      });
      expect(cli.code, cli.out).toBe(0);
      expect(JSON.parse(cli.out)).toEqual({ Server: expect.stringMatching(/^x-server \(/) });
    } finally {
      process.kill(run.pid, 'SIGTERM');
      await run.exited;
    }
  });
});
