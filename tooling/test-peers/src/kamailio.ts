import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { kamailioStatelessConfig, type StatelessOptions } from '../bench/kamailio.mjs';
import { makeTempDir, requireBinary, runBounded, startProcess, type PeerProcess, type PortSpec } from './process.js';

export type KamailioRecipe = 'stateless';

/** The module dir: what `kamailio -h` names as default, else the first arch dir that exists. */
export function kamailioModuleDir(): string {
  const bin = requireBinary('kamailio');
  const r = spawnSync(bin, ['-h'], { encoding: 'utf8', timeout: 10_000 });
  const m = /-L path.*\(default:\s*([^)]+)\)/.exec(`${r.stdout}${r.stderr}`);
  if (m && existsSync(m[1]!.trim())) return m[1]!.trim();
  for (const d of ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib', '/usr/local/lib64', '/usr/local/lib']) {
    const p = join(d, 'kamailio', 'modules');
    if (existsSync(join(p, 'sl.so'))) return p;
  }
  throw new Error('kamailio module dir not found (kamailio -h shows no default and no known path has sl.so)');
}

/** Config text for a Kamailio recipe of peers.md §4 ('stateless': kamailioStatelessConfig). */
export function writeKamailioConfig(kind: KamailioRecipe, opts: StatelessOptions): string {
  if (kind !== 'stateless') throw new Error(`unknown kamailio recipe ${String(kind)}`);
  return kamailioStatelessConfig(opts);
}

/**
 * Kamailio's tls module configuration for a test (`modparam("tls", "config", <returned path>)`):
 * writes the certificate and key (PEM text) into `dir` and a tls.cfg whose default server
 * presents them, TLS 1.2 or later, and whose client and server verify nothing.
 */
export function writeKamailioTlsConfig(dir: string, pem: { cert: string | Buffer; key: string | Buffer }): string {
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  writeFileSync(cert, pem.cert);
  writeFileSync(key, pem.key);
  const tlsCfg = join(dir, 'tls.cfg');
  writeFileSync(
    tlsCfg,
    `[server:default]\nmethod = TLSv1.2+\nverify_certificate = no\nrequire_certificate = no\nprivate_key = ${key}\ncertificate = ${cert}\n\n` +
      `[client:default]\nmethod = TLSv1.2+\nverify_certificate = no\nrequire_certificate = no\n`,
  );
  return tlsCfg;
}

export interface KamailioOptions {
  /** the SIP port (readiness is checked on it) */
  port: number;
  /** also wait for UDP on that port (default true when the config has a udp listen) */
  udp?: boolean;
  /** hard bound on the process (default 120 s) */
  timeoutSec?: number;
  /** shared / per-process memory in MB (default 64 / 8) */
  shmMb?: number;
  pkgMb?: number;
}

export interface KamailioPeer extends PeerProcess {
  /** temp dir holding the config, runtime dir, pid file and log */
  readonly dir: string;
}

/** Checks the config with `kamailio -c`, then runs it in the foreground as our child. */
export async function startKamailio(cfgText: string, opts: KamailioOptions): Promise<KamailioPeer> {
  const bin = requireBinary('kamailio');
  const moddir = kamailioModuleDir();
  const dir = makeTempDir('x-kamailio-');
  const run = join(dir, 'run');
  mkdirSync(run);
  const cfg = join(dir, 'kamailio.cfg');
  writeFileSync(cfg, cfgText);
  const check = await runBounded(bin, ['-c', '-f', cfg, '-L', moddir, '-Y', run], 30, dir);
  if (check.code !== 0) {
    throw new Error(`kamailio -c rejected the config (exit ${check.code}):\n${check.stderr.slice(-3000)}${check.stdout.slice(-1000)}`);
  }
  const udp = opts.udp ?? /listen\s*=\s*udp:/.test(cfgText);
  const ready: PortSpec[] = [{ port: opts.port, proto: 'tcp' }];
  if (udp) ready.push({ port: opts.port, proto: 'udp' });
  const args = ['-DD', '-E', '-f', cfg, '-L', moddir, '-Y', run, '-P', join(dir, 'kamailio.pid'), '-w', dir, '-m', `${opts.shmMb ?? 64}`, '-M', `${opts.pkgMb ?? 8}`];
  const p = await startProcess(bin, args, { timeoutSec: opts.timeoutSec ?? 120, cwd: dir, logDir: dir, readyPort: ready });
  return Object.assign(p, { dir });
}
