import { spawn, spawnSync } from 'node:child_process';
import { accessSync, constants, mkdtempSync, openSync, closeSync, readFileSync, readdirSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { createSocket } from 'node:dgram';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

export type PortSpec = number | { port: number; proto?: 'tcp' | 'udp'; host?: string };

export interface StartOptions {
  /** hard bound: the process runs under timeout(1) and is killed after this many seconds */
  timeoutSec: number;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** ready when this port listens on 127.0.0.1 (a number means TCP) */
  readyPort?: PortSpec | PortSpec[];
  /** ready when the log matches this */
  readyLog?: string | RegExp;
  /** how long to wait for readiness (default 15 s) */
  readyTimeoutMs?: number;
  /** extra wait after the readiness condition (default 1000 ms; peers.md: "listening + ~1 s") */
  settleMs?: number;
  /** where the log goes (default: a fresh temp dir) */
  logDir?: string;
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface PeerProcess {
  /** PID of the timeout(1) wrapper; the peer is its direct child */
  readonly pid: number;
  readonly logPath: string;
  /** resolves when the process ends */
  readonly exited: Promise<ExitInfo>;
  /** undefined while running */
  exitInfo(): ExitInfo | undefined;
  /** stdout + stderr so far */
  log(): string;
  /** SIGTERM, wait up to 5 s, then SIGKILL it and its children (by PID, never by name) */
  stop(): Promise<ExitInfo>;
}

/** Log lines that mean a peer failed to start even though its PID may still be alive. */
export const FATAL_LOG = /CRITICAL|init_child failed|cannot fork/;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Full path of an executable on PATH, or a clear error: interop tests must fail, not skip, without their peer. */
export function requireBinary(name: string): string {
  const dirs = (process.env.PATH ?? '').split(delimiter).concat(['/usr/sbin', '/sbin', '/usr/bin']);
  for (const d of dirs) {
    if (!d) continue;
    const p = join(d, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not in this dir
    }
  }
  const pkg: Record<string, string> = { sipp: 'sip-tester', kamailio: 'kamailio', tshark: 'tshark', sqlite3: 'sqlite3', openssl: 'openssl' };
  throw new Error(
    `required peer binary "${name}" not found on PATH; install the Debian package "${pkg[name] ?? name}" (.ci/run does this)`,
  );
}

export function makeTempDir(prefix = 'x-peer-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

function normPort(p: PortSpec): { port: number; proto: 'tcp' | 'udp'; host: string } {
  return typeof p === 'number' ? { port: p, proto: 'tcp', host: '127.0.0.1' } : { port: p.port, proto: p.proto ?? 'tcp', host: p.host ?? '127.0.0.1' };
}

export function tcpListening(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ port, host });
    const done = (ok: boolean): void => {
      s.removeAllListeners();
      s.on('error', () => undefined);
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(500, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

/** UDP has no handshake to probe, so ask the kernel (ss -lun). */
export function udpListening(port: number, host = '127.0.0.1'): boolean {
  const r = spawnSync('ss', ['-H', '-lun'], { encoding: 'utf8', timeout: 5000 });
  if (r.status !== 0) return procNetUdpHas(port, host);
  for (const line of r.stdout.split('\n')) {
    const local = line.trim().split(/\s+/)[3];
    if (!local) continue;
    const i = local.lastIndexOf(':');
    const h = local.slice(0, i).replace(/^\[|\]$/g, '').replace(/%.*$/, '');
    if (Number(local.slice(i + 1)) === port && (h === host || h === '0.0.0.0' || h === '*')) return true;
  }
  return false;
}

/** Fallback without iproute2: /proc/net/udp rows are "idx: HEXADDR:HEXPORT ...", IPv4 little-endian. */
function procNetUdpHas(port: number, host: string): boolean {
  let text: string;
  try {
    text = readFileSync('/proc/net/udp', 'utf8');
  } catch {
    return false;
  }
  const want = host.split('.').reverse().map((o) => Number(o).toString(16).padStart(2, '0')).join('').toUpperCase();
  for (const line of text.split('\n').slice(1)) {
    const [addr, hexPort] = (line.trim().split(/\s+/)[1] ?? '').split(':');
    if (hexPort !== undefined && parseInt(hexPort, 16) === port && (addr === want || addr === '00000000')) return true;
  }
  return false;
}

function portFree(port: number, proto: 'tcp' | 'udp' | 'both'): Promise<boolean> {
  const tcp = (): Promise<boolean> =>
    new Promise((resolve) => {
      const srv = createServer();
      srv.once('error', () => resolve(false));
      srv.listen({ port, host: '127.0.0.1', exclusive: true }, () => srv.close(() => resolve(true)));
    });
  const udp = (): Promise<boolean> =>
    new Promise((resolve) => {
      const s = createSocket('udp4');
      s.once('error', () => {
        s.close();
        resolve(false);
      });
      s.bind(port, '127.0.0.1', () => s.close(() => resolve(true)));
    });
  if (proto === 'tcp') return tcp();
  if (proto === 'udp') return udp();
  return tcp().then((ok) => (ok ? udp() : false));
}

/**
 * A port inside [lo, hi] that is free right now on 127.0.0.1 (TCP, UDP or both). Starts at a
 * random offset so parallel test files rarely race for the same one.
 */
export async function freePort(range: readonly [number, number], proto: 'tcp' | 'udp' | 'both' = 'tcp'): Promise<number> {
  const [lo, hi] = range;
  if (!Number.isInteger(lo) || !Number.isInteger(hi) || lo < 1024 || hi > 65535 || lo > hi) {
    throw new RangeError(`freePort: bad range [${lo}, ${hi}] (integers, 1024 <= lo <= hi <= 65535)`);
  }
  const n = hi - lo + 1;
  const start = Math.floor(Math.random() * n);
  for (let i = 0; i < n; i++) {
    const p = lo + ((start + i) % n);
    if (await portFree(p, proto)) return p;
  }
  throw new Error(`freePort: no free ${proto} port in [${lo}, ${hi}]`);
}

/** Direct children of a PID, from /proc/<pid>/stat (field 4 = ppid). */
export function childPids(pid: number): number[] {
  const out: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return out;
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      // comm (field 2) may contain spaces and parens: parse after the last ')'
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(rest[1]) === pid) out.push(Number(e));
    } catch {
      // process ended meanwhile
    }
  }
  return out;
}

function killQuiet(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

/**
 * Spawns `cmd args` under timeout(1), logging stdout+stderr to a file, and waits until it is ready
 * (readyPort listening / readyLog seen, then settleMs). Rejects, after stopping it, if it died,
 * logged a fatal line, or was not ready in time.
 */
export async function startProcess(cmd: string, args: readonly string[], opts: StartOptions): Promise<PeerProcess> {
  if (!(opts.timeoutSec > 0)) throw new RangeError('startProcess: timeoutSec must be > 0');
  const logDir = opts.logDir ?? makeTempDir();
  const logPath = join(logDir, `${cmd.replace(/[^\w.-]/g, '_')}-${Date.now()}.log`);
  const fd = openSync(logPath, 'a');
  const child = spawn('timeout', ['--kill-after=5', `${opts.timeoutSec}`, cmd, ...args], {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  let info: ExitInfo | undefined;
  const exited = new Promise<ExitInfo>((resolve) => {
    child.once('exit', (code, signal) => {
      info = { code, signal };
      resolve(info);
    });
    child.once('error', () => {
      info = { code: -1, signal: null };
      resolve(info);
    });
  });
  const pid = child.pid ?? -1;
  const log = (): string => {
    try {
      return readFileSync(logPath, 'utf8');
    } catch {
      return '';
    }
  };
  let stopping: Promise<ExitInfo> | undefined;
  const stop = (): Promise<ExitInfo> =>
    (stopping ??= (async () => {
      if (info) return info;
      // timeout(1) forwards SIGTERM to the peer; a peer's own workers are its children
      killQuiet(pid, 'SIGTERM');
      const t = await Promise.race([exited, sleep(5000).then(() => undefined)]);
      if (t) return t;
      const kids = childPids(pid);
      const grand = kids.flatMap((k) => childPids(k));
      killQuiet(pid, 'SIGKILL');
      for (const k of [...kids, ...grand]) killQuiet(k, 'SIGKILL');
      return exited;
    })());
  const proc: PeerProcess = { pid, logPath, exited, exitInfo: () => info, log, stop };
  if (pid < 0) throw new Error(`startProcess: could not spawn ${cmd}`);

  const fail = async (why: string): Promise<never> => {
    await stop();
    throw new Error(`${cmd} ${why}; log ${logPath}:\n${log().slice(-4000)}`);
  };
  const ports = opts.readyPort === undefined ? [] : (Array.isArray(opts.readyPort) ? opts.readyPort : [opts.readyPort]).map(normPort);
  const deadline = Date.now() + (opts.readyTimeoutMs ?? 15_000);
  const pending = new Set(ports);
  let logSeen = opts.readyLog === undefined;
  for (;;) {
    if (info) return fail(`exited early (code ${info.code}, signal ${info.signal})`);
    const text = log();
    if (FATAL_LOG.test(text)) return fail('logged a fatal error');
    if (!logSeen) logSeen = typeof opts.readyLog === 'string' ? text.includes(opts.readyLog) : opts.readyLog!.test(text);
    for (const p of [...pending]) {
      const ok = p.proto === 'tcp' ? await tcpListening(p.port, p.host) : udpListening(p.port, p.host);
      if (ok) pending.delete(p);
    }
    if (logSeen && pending.size === 0) break;
    if (Date.now() > deadline) return fail('not ready in time');
    await sleep(100);
  }
  await sleep(opts.settleMs ?? 1000);
  if (info) return fail(`exited after becoming ready (code ${(info as ExitInfo).code})`);
  if (FATAL_LOG.test(log())) return fail('logged a fatal error');
  return proc;
}

/** Runs a command to completion under a time bound; never throws on a non-zero exit. */
export function runBounded(cmd: string, args: readonly string[], timeoutSec: number, cwd?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('timeout', ['--kill-after=5', `${timeoutSec}`, cmd, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.once('error', (e) => resolve({ code: -1, stdout: '', stderr: String(e) }));
    child.once('close', (code) => resolve({ code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') }));
  });
}
