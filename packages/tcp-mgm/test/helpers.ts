// Shared by the module tests: a line protocol for the engine, a capturing logger, a rules file,
// a module started on an engine the way x-server starts it, and clients from chosen 127.0.0.x.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Database from 'libsql';
import { createStatsRegistry, ProtocolError, type Engine, type Framer, type Logger, type MiCommand, type ModuleInstance, type ProtocolSpec, type StatsRegistry } from '@x/core-conn';
import { createTestEngine } from '@x/core-conn/testing';
import { tcpMgmCreateSql, tcpMgmModule, versionTableSql, type TcpMgmApi } from '../src/index.js';

const execFileP = promisify(execFile);

/** "line\n" messages; bytes without a newline are a partial message. */
export function lineSpec(name = 'tcp', async = false): ProtocolSpec<string> {
  return {
    name,
    transport: 'tcp',
    defaultPort: 5060,
    maxMsgChunks: 0,
    maxMsgBytes: 65535,
    write: { async, sendTimeout: 1000, maxPostponedChunks: 32, localConnectTimeout: 100, localWriteTimeout: 10 },
    createFramer: (): Framer<string> => {
      let buf = '';
      return {
        push(chunk, sink) {
          buf += chunk.toString('latin1');
          if (buf.includes('\0')) throw new ProtocolError('ERR_TEST_NUL', 'NUL byte');
          let i: number;
          while ((i = buf.indexOf('\n')) >= 0) {
            sink.message(buf.slice(0, i));
            buf = buf.slice(i + 1);
          }
        },
        get pendingBytes() {
          return buf.length;
        },
      };
    },
  };
}

export interface LogLine {
  level: string;
  msg: string;
  obj: unknown;
}
export function captureLogger(lines: LogLine[] = []): Logger & { lines: LogLine[] } {
  const mk = (level: string) => (obj: unknown, msg?: string) => void lines.push({ level, msg: msg ?? (typeof obj === 'string' ? obj : ''), obj });
  const l = { trace: mk('trace'), debug: mk('debug'), info: mk('info'), warn: mk('warn'), error: mk('error'), fatal: mk('fatal'), child: () => l, lines } as Logger & { lines: LogLine[] };
  return l;
}

export const COLS = 'proto, remote_addr, remote_port, local_addr, local_port, priority, attrs, connect_timeout, con_lifetime, msg_read_timeout, send_threshold, no_new_conn, alias_mode, keepalive, keepcount, keepidle, keepinterval';

/** An SQLite rules file with the package's create script and the given INSERT/UPDATE statements. */
export class RulesFile {
  readonly dir = mkdtempSync(join(tmpdir(), 'tcpmgm-mod-'));
  readonly path = join(this.dir, 'rules.db');
  constructor(sql = '') {
    this.exec(versionTableSql('sqlite') + tcpMgmCreateSql('sqlite') + sql);
  }
  exec(sql: string): void {
    const db = new Database(this.path);
    db.exec(sql);
    db.close();
  }
  get url(): string {
    return `sqlite://${this.path}`;
  }
  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface Started {
  engine: Engine;
  api: TcpMgmApi;
  instance: ModuleInstance<TcpMgmApi>;
  log: Logger & { lines: LogLine[] };
  stats: StatsRegistry;
  mi(name: string, params?: Record<string, unknown>): Promise<unknown>;
  stop(): Promise<void>;
}

/** An engine with the line protocol, its listeners bound, then tcp_mgm initialised and told about them (as x-server does). */
export async function startWithRules(url: string, sockets: string[], params: Record<string, unknown> = {}, specs: ProtocolSpec<unknown>[] = [lineSpec() as ProtocolSpec<unknown>]): Promise<Started> {
  const stats = createStatsRegistry();
  const log = captureLogger();
  const engine = createTestEngine(specs, { stats, logger: log });
  for (const s of sockets) await engine.listen(s);
  const instance = await tcpMgmModule.init(
    { engine, logger: log, stats, routes: () => undefined, hasRoute: () => false, traceSinks: { register: () => undefined, get: () => undefined, names: () => [] }, loaded: [], modules: new Map() },
    { db_table: 'tcp_mgm', db_url: url, ...params } as never,
  );
  instance.api!.checkListeners();
  const cmds = new Map<string, MiCommand>();
  for (const c of instance.mi ?? []) for (const n of [c.name, ...(c.aliases ?? [])]) cmds.set(n, c);
  return {
    engine, api: instance.api!, instance, log, stats,
    mi: async (name, p = {}) => cmds.get(name)!.handler(p),
    async stop() {
      await instance.destroy?.();
      await engine.shutdown({ deadlineMs: 0 });
    },
  };
}

/** A TCP client bound to `from` (a 127.0.0.x address) connected to host:port. */
export function clientFrom(from: string, host: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host, port, localAddress: from }, () => {
      s.removeListener('error', reject);
      resolve(s);
    });
    s.once('error', reject);
  });
}

/** One established TCP socket as `ss -tno` shows it: its addresses and its timer, if any. */
export interface SsSocket {
  local: string;
  localPort: number;
  peer: string;
  peerPort: number;
  /** e.g. { name: 'keepalive', ms: 36_000 } */
  timer?: { name: string; ms: number };
}

/** ss's timer text ("119min", "1min5sec", "36sec", "9.500ms", "200ms") in ms. */
export function ssTimerMs(text: string): number {
  const m = /^(?:(\d+)min)?(?:(\d+)(?:sec|\.))?(?:(\d+)ms)?$/.exec(text);
  if (!m || text === '') throw new Error(`unexpected ss timer "${text}"`);
  return Number(m[1] ?? 0) * 60_000 + Number(m[2] ?? 0) * 1000 + Number(m[3] ?? 0);
}

/**
 * The established TCP sockets of this machine with `port` at either end, from iproute2's `ss`
 * (the kernel's view: a keepalive timer is there only when SO_KEEPALIVE is set on the socket,
 * and it counts down from TCP_KEEPIDLE while the connection is idle).
 */
export async function ssSockets(port: number): Promise<SsSocket[]> {
  const { stdout } = await execFileP('ss', ['-Htno', 'state', 'established', `( sport = :${port} or dport = :${port} )`], { timeout: 10_000 });
  const out: SsSocket[] = [];
  for (const line of stdout.split('\n')) {
    const m = /^\s*\d+\s+\d+\s+\[?([^\s\]]+?)\]?:(\d+)\s+\[?([^\s\]]+?)\]?:(\d+)(?:.*?timer:\((\w+),([^,]+),\d+\))?/.exec(line);
    if (!m) continue;
    const s: SsSocket = { local: m[1]!, localPort: Number(m[2]), peer: m[3]!, peerPort: Number(m[4]) };
    if (m[5]) s.timer = { name: m[5], ms: ssTimerMs(m[6]!) };
    out.push(s);
  }
  return out;
}
