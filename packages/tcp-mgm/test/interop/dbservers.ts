// Throw-away PostgreSQL and MariaDB servers from the Debian packages (postgresql,
// mariadb-server), each in its own temp dir, on 127.0.0.1 and a free port, started and stopped
// by the PID this process spawned (timeout(1) bounds them if a test run dies).
import { spawnSync } from 'node:child_process';
import { chownSync, existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, makeTempDir, runBounded, startProcess, type PeerProcess } from '@x/test-peers';
import type { DbTarget } from '../../src/index.js';

export interface DbServer {
  /** the db_url to give the module */
  url: string;
  target: Extract<DbTarget, { driver: 'postgres' | 'mysql' }>;
  proc: PeerProcess;
  stop(): Promise<void>;
}

const PORTS: [number, number] = [23000, 23999];
const LIFETIME_S = 900;

function pgBin(name: string): string {
  const base = '/usr/lib/postgresql';
  if (existsSync(base)) {
    const versions = readdirSync(base).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a));
    for (const v of versions) if (existsSync(join(base, v, 'bin', name))) return join(base, v, 'bin', name);
  }
  const w = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  if (w.status === 0 && w.stdout.trim()) return w.stdout.trim();
  throw new Error(`PostgreSQL's ${name} not found (install the Debian package "postgresql"; .ci/run does this)`);
}

/** PostgreSQL refuses to run as root: as root, run it as the Debian package's postgres user. */
function asPostgres(dir: string): string[] {
  if (process.getuid?.() !== 0) return [];
  const id = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
  const gid = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
  if (id.status !== 0) throw new Error('running as root and there is no "postgres" user (the postgresql package creates it)');
  chownSync(dir, Number(id.stdout), Number(gid.stdout));
  return ['setpriv', '--reuid=postgres', '--regid=postgres', '--clear-groups', '--'];
}

export async function startPostgres(): Promise<DbServer> {
  const initdb = pgBin('initdb');
  const postgres = pgBin('postgres');
  const dir = makeTempDir('tcpmgm-pg-');
  const pre = asPostgres(dir);
  const data = join(dir, 'data');
  const cmd = (bin: string, args: string[]): [string, string[]] => (pre.length ? [pre[0]!, [...pre.slice(1), bin, ...args]] : [bin, args]);
  const [ic, ia] = cmd(initdb, ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync', '--no-instructions']);
  const init = await runBounded(ic, ia, 120);
  if (init.code !== 0) throw new Error(`initdb failed (${init.code}): ${init.stderr.slice(-2000)}`);
  const port = await freePort(PORTS);
  const [pc, pa] = cmd(postgres, ['-D', data, '-h', '127.0.0.1', '-p', String(port), '-k', dir, '-F', '-c', 'max_connections=20', '-c', 'shared_buffers=16MB']);
  const proc = await startProcess(pc, pa, { timeoutSec: LIFETIME_S, readyPort: port, readyTimeoutMs: 60_000, settleMs: 200, logDir: dir });
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    target: { driver: 'postgres', host: '127.0.0.1', port, user: 'postgres', password: undefined, database: 'postgres' },
    proc,
    async stop() {
      await proc.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function mariaBin(names: string[]): string {
  for (const n of names) for (const d of ['/usr/sbin', '/usr/bin', '/usr/local/sbin', '/usr/local/bin']) if (existsSync(join(d, n))) return join(d, n);
  throw new Error(`MariaDB's ${names[0]} not found (install the Debian package "mariadb-server"; .ci/run does this)`);
}

export async function startMariadb(): Promise<DbServer> {
  const install = mariaBin(['mariadb-install-db', 'mysql_install_db']);
  const server = mariaBin(['mariadbd', 'mysqld']);
  const dir = makeTempDir('tcpmgm-maria-');
  const data = join(dir, 'data');
  const user = process.getuid?.() === 0 ? ['--user=root'] : [];
  const init = await runBounded(install, ['--no-defaults', `--datadir=${data}`, ...user, '--auth-root-authentication-method=normal', '--skip-test-db', '--skip-name-resolve'], 180);
  if (init.code !== 0) throw new Error(`mariadb-install-db failed (${init.code}): ${(init.stderr + init.stdout).slice(-2000)}`);
  const port = await freePort(PORTS);
  const proc = await startProcess(
    server,
    ['--no-defaults', `--datadir=${data}`, `--socket=${join(dir, 'sock')}`, `--pid-file=${join(dir, 'pid')}`, `--port=${port}`, '--bind-address=127.0.0.1', ...user, '--skip-grant-tables', '--skip-name-resolve', '--innodb-buffer-pool-size=16M', '--innodb-log-file-size=8M', '--skip-log-bin', '--innodb-flush-log-at-trx-commit=0'],
    { timeoutSec: LIFETIME_S, readyPort: port, readyTimeoutMs: 60_000, settleMs: 200, logDir: dir },
  );
  const mysql = (await import('mysql2/promise')).default;
  const c = await mysql.createConnection({ host: '127.0.0.1', port, user: 'root' });
  await c.query('CREATE DATABASE opensips');
  await c.end();
  return {
    url: `mysql://root@127.0.0.1:${port}/opensips`,
    target: { driver: 'mysql', host: '127.0.0.1', port, user: 'root', password: undefined, database: 'opensips' },
    proc,
    async stop() {
      await proc.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
