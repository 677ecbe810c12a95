#!/usr/bin/env node
import cluster from 'node:cluster';
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '@x/core-conn';
import { loadConfig } from '../config/load.js';
import { checkConfig, startServer, type XServer } from '../runtime/server.js';
import { runPrimary, WORKER_ENV, WorkerStartError, type XPrimary } from '../runtime/workers/primary.js';
import { runWorker } from '../runtime/workers/worker.js';
import { VERSION } from '../version.js';

/** the default config: dist/config/x.cfg in the package (copied at build), config/x.cfg beside src/ */
const DEFAULT_CFG = [new URL('../config/x.cfg', import.meta.url), new URL('../../config/x.cfg', import.meta.url)]
  .map((u) => fileURLToPath(u))
  .find((p) => existsSync(p)) ?? fileURLToPath(new URL('../config/x.cfg', import.meta.url));

const HELP = `x-server ${VERSION}: OpenSIPS-style transport server on @x modules

Usage:
  x-server [-f file.cfg] [--pretty] [--workers N]
                                       run (default cfg: the bundled config/x.cfg)
  x-server -c [-f file.cfg]             check the cfg and exit 0 (ok) or 1 (with file:line:col)
  x-server --help | --version

Options:
  -f, --config FILE   opensips.cfg-style file
  -c, --check         check the configuration only
  --pretty            human-readable logs (default: JSON lines)
  -w, --workers N     worker processes (default: the cfg's tcp_workers / udp_workers, else
                      one per core); 1 = one process does everything
  -h, --help          this text
  -V, --version       print the version

Signals: SIGTERM/SIGINT stop gracefully (write queues flushed up to 5 s), SIGHUP reloads
log_level and the route script. MI: x-cli mi <command> (see x-cli --help).
`;

interface Args {
  file: string;
  check: boolean;
  pretty: boolean;
  workers?: number;
}

/** at most this many workers: their index lives in the low 8 bits of connection ids */
const MAX_WORKERS = 256;

function parseArgs(argv: string[]): Args | number {
  const out: Args = { file: DEFAULT_CFG, check: false, pretty: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '-h' || a === '--help') {
      process.stdout.write(HELP);
      return 0;
    }
    if (a === '-V' || a === '--version' || a === '-v') {
      process.stdout.write(`x-server ${VERSION} (node ${process.version})\n`);
      return 0;
    }
    if (a === '-c' || a === '--check') out.check = true;
    else if (a === '--pretty') out.pretty = true;
    else if (a === '-f' || a === '--config') {
      const v = argv[++i];
      if (v === undefined) {
        process.stderr.write(`x-server: ${a} needs a file name\n`);
        return 2;
      }
      out.file = v;
    } else if (a.startsWith('--config=')) out.file = a.slice(9);
    else if (a === '-w' || a === '--workers' || a.startsWith('--workers=')) {
      const v = a.startsWith('--workers=') ? a.slice(10) : argv[++i];
      const nw = Number(v);
      if (v === undefined || !/^\d+$/.test(v) || nw < 1 || nw > MAX_WORKERS) {
        process.stderr.write(`x-server: ${a.split('=')[0]} needs a number of workers in 1..${MAX_WORKERS}, got ${JSON.stringify(v ?? '')}\n`);
        return 2;
      }
      out.workers = nw;
    } else {
      process.stderr.write(`x-server: unknown option "${a}" (see --help)\n`);
      return 2;
    }
  }
  return out;
}

function fail(err: unknown): number {
  const msg = err instanceof ConfigError ? err.message : ((err as Error).stack ?? String(err));
  process.stderr.write(`x-server: ${msg}\n`);
  return 1;
}

async function main(argv: string[]): Promise<number | undefined> {
  const args = parseArgs(argv);
  if (typeof args === 'number') return args;
  if (args.check) {
    try {
      const cfg = await checkConfig({ configFile: args.file });
      for (const w of cfg.warnings) process.stderr.write(`x-server: warning: ${w}\n`);
      process.stdout.write(`config file ok, exiting (${cfg.modules.filter((m) => !m.implicit).length} modules, ${cfg.sockets.length} sockets)\n`);
      return 0;
    } catch (err) {
      return fail(err);
    }
  }
  if (cluster.isWorker) {
    // a worker of a multi-worker x-server (forked by the primary below)
    try {
      await runWorker({ configFile: args.file, pretty: args.pretty, index: Number(process.env[WORKER_ENV.index]), count: Number(process.env[WORKER_ENV.count]) });
    } catch (err) {
      // its IPC channel would keep it alive: the primary learns of the failure by the exit
      process.exit(fail(err));
    }
    return undefined;
  }
  let workers: number;
  try {
    workers = await workerCount(args.file, args.workers);
  } catch (err) {
    return fail(err);
  }
  if (workers > 1) return primary(args, workers);
  // handlers first: a signal that arrives while modules start (or right after the "started"
  // line, before startServer returns) must stop gracefully, not kill the process
  let server: XServer | undefined;
  let pending: NodeJS.Signals | undefined;
  let signals = 0;
  const onStop = (sig: NodeJS.Signals): void => {
    if (++signals > 1) {
      server?.logger.root.warn(`${sig} again: exiting now`);
      process.exit(1);
    }
    if (!server) {
      pending = sig;
      return;
    }
    const s = server;
    s.logger.root.info(`${sig} received`);
    s.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        s.logger.root.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onStop);
  process.on('SIGINT', onStop);
  process.on('SIGHUP', () => {
    const s = server;
    if (!s) return;
    s.reload().catch((err: unknown) => s.logger.root.error({ err: err instanceof Error ? err.message : err }, 'reload failed; keeping the running configuration'));
  });
  try {
    server = await startServer({ configFile: args.file, pretty: args.pretty, onKill: () => process.exit(0) });
  } catch (err) {
    return fail(err);
  }
  if (pending) {
    signals--;
    onStop(pending);
  }
  return undefined;
}

/**
 * Workers from the cfg: tcp_workers and udp_workers (the larger: each worker serves every
 * socket), else one per core.
 */
async function workerCount(file: string, flag: number | undefined): Promise<number> {
  const cfg = await loadConfig({ configFile: file });
  const g = cfg.globals;
  const asked = [g.tcp_workers, g.udp_workers].filter((x): x is number => x !== undefined);
  const nw = Math.min(flag ?? (asked.length > 0 ? Math.max(...asked) : availableParallelism()), MAX_WORKERS);
  // a module whose state one process must own (clusterer) keeps x-server in one process
  const single = cfg.modules.find((m) => m.loaded.kind === 'package' && m.loaded.module.singleProcess === true);
  if (single && nw > 1) {
    if (flag !== undefined || asked.length > 0) process.stderr.write(`x-server: warning: module "${single.loaded.name}" runs in one process only: one worker, not ${nw}\n`);
    return 1;
  }
  return nw;
}

/** The primary of N workers: supervision, MI, metrics; signals as the single process has them. */
async function primary(args: Args, workers: number): Promise<number | undefined> {
  let p: XPrimary | undefined;
  let pending: NodeJS.Signals | undefined;
  let signals = 0;
  const onStop = (sig: NodeJS.Signals): void => {
    if (++signals > 1) {
      p?.logger.root.warn(`${sig} again: exiting now`);
      process.exit(1);
    }
    if (!p) {
      pending = sig;
      return;
    }
    const s = p;
    s.logger.root.info(`${sig} received`);
    s.stop().then(() => process.exit(0), () => process.exit(1));
  };
  process.on('SIGTERM', onStop);
  process.on('SIGINT', onStop);
  process.on('SIGHUP', () => p?.reload());
  try {
    p = await runPrimary({ configFile: args.file, pretty: args.pretty, workers, onKill: () => process.exit(0) });
  } catch (err) {
    if (err instanceof WorkerStartError) {
      // the worker wrote why on stderr
      process.stderr.write(`x-server: ${err.message}\n`);
      return 1;
    }
    return fail(err);
  }
  if (pending) {
    signals--;
    onStop(pending);
  }
  return undefined;
}

main(process.argv.slice(2)).then(
  (code) => { if (code !== undefined) process.exitCode = code; },
  (err: unknown) => { process.exitCode = fail(err); },
);
