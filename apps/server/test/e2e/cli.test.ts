import { spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { freePort } from '@x/test-peers';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, tempDir, writeFiles, X_CLI, X_SERVER, xcli } from './helpers.js';

beforeAll(() => {
  ensureBuilt();
});

const run = (bin: string, args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 15_000 });

describe('command lines', () => {
  it('x-server --help, --version, bad options', () => {
    const h = run(X_SERVER, ['--help']);
    expect(h.status).toBe(0);
    expect(h.stdout).toContain('x-server -c [-f file.cfg]');
    expect(run(X_SERVER, ['--version']).stdout).toMatch(/^x-server 0\.1\.0 \(node v\d+/);
    const bad = run(X_SERVER, ['--frob']);
    expect([bad.status, bad.stderr]).toEqual([2, 'x-server: unknown option "--frob" (see --help)\n']);
    const missing = run(X_SERVER, ['-c', '-f', 'no/such/file.cfg']);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/^x-server: cannot read config file "no\/such\/file\.cfg"/);
  });

  it('x-server on a busy httpd port: exit 1 with file:line:col, no stack trace', async () => {
    const busy = createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', () => r()));
    const port = (busy.address() as { port: number }).port;
    try {
      const dir = tempDir();
      writeFiles(dir, { 'x.cfg': `socket = tcp:127.0.0.1:0\nloadmodule "proto_tcp.so"\nloadmodule "httpd.so"\nmodparam("httpd", "port", ${port})\n` });
      const r = spawnSync(process.execPath, [X_SERVER, '-f', join(dir, 'x.cfg')], { encoding: 'utf8', timeout: 15_000 });
      expect(r.status).toBe(1);
      expect(r.stderr).toBe(`x-server: ${join(dir, 'x.cfg')}:4:27: httpd cannot listen on 127.0.0.1:${port}: listen EADDRINUSE: address already in use 127.0.0.1:${port} (set modparam("httpd", "ip" | "port", ...))\n`);
      expect(r.stdout).toMatch(/"msg":"stopped"}\n$/);
    } finally {
      await new Promise((r) => busy.close(r));
    }
  });

  it('x-server -c accepts the bundled default config', () => {
    const r = run(X_SERVER, ['-c']);
    expect([r.status, r.stdout]).toEqual([0, 'config file ok, exiting (6 modules, 3 sockets)\n']);
  });

  it('x-cli --help, usage errors, unreachable MI', async () => {
    expect(run(X_CLI, ['--help']).stdout).toContain('x-cli [--url URL] [--token TOKEN] [-x] mi <command> [args...]');
    expect(run(X_CLI, ['--version']).stdout).toBe('0.1.0\n');
    expect(run(X_CLI, ['frob']).status).toBe(2);
    // a free port of this package's range: nothing listens, the connection is refused
    const port = await freePort([14000, 15999]);
    const r = await xcli(['--url', `http://127.0.0.1:${port}/mi`, 'mi', 'version']);
    expect(r.code).toBe(1);
    expect(r.stderr.startsWith(`ERROR: cannot reach MI at http://127.0.0.1:${port}/mi: `), r.stderr).toBe(true);
  });
});
