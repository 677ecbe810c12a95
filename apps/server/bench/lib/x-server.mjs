// x-server started for a bench: spawned from its bin, its listening port and /metrics URL read
// from its JSON log, stopped by the PID we started (SIGTERM, then SIGKILL after a grace period).
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * @param {string} bin x-server's bin script
 * @param {string[]} args its arguments (`-f cfg`, `--workers N`, …)
 * @param {{ proto?: string, startMs?: number, graceMs?: number, onData?: (chunk: Buffer) => void }} [opts]
 *   proto: the listener whose port is wanted (`tcp`, `hep_udp`, …); onData sees every chunk of stdout
 * @returns {Promise<{ server: import('node:child_process').ChildProcess, port: number, metricsUrl: string, stop: () => Promise<void> }>}
 */
export async function startXServer(bin, args, { proto = 'tcp', startMs = 20_000, graceMs = 5_000, onData } = {}) {
  const server = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const stop = async () => {
    if (server.pid && server.exitCode === null) process.kill(server.pid, 'SIGTERM');
    await Promise.race([new Promise((r) => server.once('exit', r)), sleep(graceMs)]);
    if (server.pid && server.exitCode === null) process.kill(server.pid, 'SIGKILL');
  };
  const listening = new RegExp(`"msg":"listening on ${proto}:127\\.0\\.0\\.1:(\\d+)"`);
  try {
    const { port, metricsUrl } = await new Promise((resolve, reject) => {
      let buf = '';
      let port = 0;
      let metricsUrl = '';
      const t = setTimeout(() => reject(new Error(`x-server did not start in ${startMs / 1000} s`)), startMs);
      server.stdout.on('data', (d) => {
        onData?.(d);
        if (port && metricsUrl) return;
        buf += d.toString();
        for (const line of buf.split('\n')) {
          const p = listening.exec(line);
          if (p) port = Number(p[1]);
          const u = /"url":"([^"]+\/metrics)"/.exec(line);
          if (u) metricsUrl = u[1];
        }
        if (port && metricsUrl) {
          clearTimeout(t);
          resolve({ port, metricsUrl });
        }
      });
      server.once('exit', (c) => reject(new Error(`x-server exited ${c}`)));
    });
    return { server, port, metricsUrl, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
