// The proto-tcp OPTIONS responder (servers/proto-tcp.mjs) in N worker processes
// (X_BENCH_WORKERS, default one per core) sharing the listening socket the way x-server's
// workers do: node:cluster with SCHED_NONE, every worker accept()s on the same socket, no
// connection is passed between processes. The process tree's CPU is charged (primary included).
import cluster from 'node:cluster';
import { availableParallelism } from 'node:os';

if (cluster.isPrimary) {
  const n = Number(process.env.X_BENCH_WORKERS ?? availableParallelism());
  cluster.schedulingPolicy = process.env.X_BENCH_SCHED === 'rr' ? cluster.SCHED_RR : cluster.SCHED_NONE;
  for (let i = 0; i < n; i++) cluster.fork();
  process.on('SIGTERM', () => {
    cluster.on('exit', () => {
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0);
    });
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGTERM');
    setTimeout(() => process.exit(0), 3000).unref();
  });
} else {
  await import('./proto-tcp.mjs');
}
