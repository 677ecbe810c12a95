import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const PKG = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const X_SERVER = join(PKG, 'dist', 'cli', 'x-server.js');
export const X_CLI = join(PKG, 'dist', 'cli', 'x-cli.js');

/** The e2e tests drive the built binaries; `pnpm test` builds first, this covers a bare `vitest run`. */
export function ensureBuilt(): void {
  if (existsSync(X_SERVER) && existsSync(X_CLI)) return;
  const req = createRequire(join(PKG, 'package.json'));
  const tsupPkg = req.resolve('tsup/package.json');
  const bin = (req(tsupPkg) as { bin: Record<string, string> }).bin.tsup!;
  execFileSync(process.execPath, [join(dirname(tsupPkg), bin)], { cwd: PKG, stdio: 'ignore', timeout: 120_000 });
}

/** The shipped default config (config/x.cfg), moved to ephemeral ports so tests never collide. */
export function defaultCfgOnPort0(): string {
  return readFileSync(join(PKG, 'config', 'x.cfg'), 'utf8')
    .replace(/(socket = [a-z_]+:127\.0\.0\.1):\d+/g, '$1:0')
    .replace('modparam("httpd", "port", 8888)', 'modparam("httpd", "port", 0)');
}

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'x-server-e2e-'));
}

export function writeFiles(dir: string, files: Record<string, string>): void {
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
}

export interface LogLine {
  level: number;
  msg: string;
  [k: string]: unknown;
}

export interface Running {
  child: ChildProcess;
  /** the JSON log lines (none with --pretty) */
  lines: LogLine[];
  /** everything written to stdout so far, as text */
  stdout: () => string;
  stderr: () => string;
  /** "tcp" -> port, from the "listening on" lines */
  ports: Map<string, number>;
  miUrl: string;
  baseUrl: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** kills by PID if still running (test cleanup) */
  kill(): void;
}

/**
 * Starts the built x-server on a cfg file and waits for "x-server started" (bounded). With
 * `pretty`, it runs with --pretty: the log is text lines (`stdout()`), not JSON (`lines`).
 */
export async function startX(cfgFile: string, opts: { timeoutMs?: number; pretty?: boolean; prefix?: string[]; workers?: number | 'cfg' } = {}): Promise<Running> {
  const timeoutMs = opts.timeoutMs ?? 15_000;
  // prefix: a command that execs node in place (e.g. prlimit --nofile=...), so child.pid stays the server's
  // workers: one process unless a test asks for more ('cfg': what the cfg's tcp_workers or the cores say)
  const workers = opts.workers === 'cfg' ? [] : ['--workers', String(opts.workers ?? 1)];
  const argv = [process.execPath, X_SERVER, '-f', cfgFile, ...workers, ...(opts.pretty ? ['--pretty'] : [])];
  const cmd = [...(opts.prefix ?? []), ...argv];
  const child = spawn(cmd[0]!, cmd.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: LogLine[] = [];
  let out = '';
  let err = '';
  let buf = '';
  const ports = new Map<string, number>();
  let miUrl = '';
  let baseUrl = '';
  // 'close', not 'exit': the last log lines (pino writes asynchronously) are read once stdout is closed
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.once('close', (code, signal) => r({ code, signal })));
  const started = new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`x-server did not start in ${timeoutMs} ms: ${err}`)), timeoutMs);
    void exited.then((e) => {
      clearTimeout(t);
      reject(new Error(`x-server exited (${e.code}) before starting: ${err}`));
    });
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      buf += d.toString();
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        let l: LogLine;
        try {
          l = JSON.parse(line) as LogLine;
        } catch {
          // --pretty: "[time] INFO (x-server/pid): x-server started {fields}"
          if (/: x-server started( |$)/.test(line)) {
            clearTimeout(t);
            resolve();
          }
          continue;
        }
        lines.push(l);
        const m = /^listening on ([a-z_]+):.*:(\d+)$/.exec(l.msg);
        if (m) ports.set(m[1]!, Number(m[2]));
        if (typeof l.url === 'string' && l.msg.startsWith('MI')) miUrl = l.url;
        if (typeof l.url === 'string' && l.msg.startsWith('metrics')) baseUrl = l.url.replace(/\/metrics$/, '');
        if (l.msg === 'x-server started') {
          clearTimeout(t);
          resolve();
        }
      }
    });
  });
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const kill = (): void => {
    if (child.exitCode === null && child.signalCode === null && child.pid) process.kill(child.pid, 'SIGKILL');
  };
  try {
    await started;
  } catch (e) {
    kill();
    throw e;
  }
  return { child, lines, stdout: () => out, stderr: () => err, ports, miUrl, baseUrl, exited, kill };
}

/** Runs x-cli (bounded) and returns exit code and output. */
export function xcli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, [X_CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env }, timeout: 15_000 });
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    c.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    c.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Runs `x-server -c -f file` (bounded). */
export function xcheck(cfgFile: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, [X_SERVER, '-c', '-f', cfgFile], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 15_000 });
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    c.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    c.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

export function optionsRequest(i: number, port: number): string {
  return [
    'OPTIONS sip:probe@127.0.0.1 SIP/2.0',
    `Via: SIP/2.0/TCP 127.0.0.1:${port};branch=z9hG4bK-e2e-${i}`,
    'From: <sip:e2e@127.0.0.1>;tag=e2e',
    'To: <sip:probe@127.0.0.1>',
    `Call-ID: e2e-${i}`,
    `CSeq: ${i + 1} OPTIONS`,
    'Max-Forwards: 70',
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
}
