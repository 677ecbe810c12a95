// Process plumbing for the bench: every server runs in its own process tree under timeout(1),
// is stopped only by the PID we started, and is charged the CPU of that whole tree.
import { fork, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Starts `cmd args` under timeout(1) so a crashed bench cannot leave it running. */
export function startProcess(cmd, args, { limitS = 150, env } = {}) {
  const child = spawn('timeout', ['-k', '3', String(limitS), cmd, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: env ?? process.env,
  });
  let log = '';
  const keep = (d) => { log = (log + d.toString()).slice(-20000); };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise((r) => child.once('exit', (code, sig) => r({ code, sig })));
  return { pid: child.pid, child, exited, log: () => log };
}

function statOf(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'latin1');
    // Fields after the parenthesised command name (which may contain spaces).
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]) };
  } catch {
    return null;
  }
}

/** PIDs of `root` and all its live descendants. */
export function tree(root) {
  const kids = new Map();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const st = statOf(d);
    if (!st) continue;
    if (!kids.has(st.ppid)) kids.set(st.ppid, []);
    kids.get(st.ppid).push(Number(d));
  }
  const out = [root];
  for (let i = 0; i < out.length; i++) out.push(...(kids.get(out[i]) ?? []));
  return out;
}

const HZ = 100; // USER_HZ: /proc/<pid>/stat counts in 1/100 s on Linux x86-64

/** utime+stime (ms) of `root` and its live descendants (Kamailio forks its workers). */
export function cpuMs(root) {
  let t = 0;
  for (const pid of tree(root)) t += statOf(pid)?.ticks ?? 0;
  return (t * 1000) / HZ;
}

/** Resolves once 127.0.0.1:port accepts a connection; rejects if the process died. */
export async function waitPort(port, proc, timeoutMs = 8000) {
  const end = Date.now() + timeoutMs;
  let dead = false;
  void proc.exited.then(() => { dead = true; });
  while (Date.now() < end) {
    if (dead) throw new Error(`server exited before listening:\n${proc.log()}`);
    const ok = await new Promise((r) => {
      const s = net.connect({ host: '127.0.0.1', port });
      s.once('connect', () => { s.destroy(); r(true); });
      s.once('error', () => r(false));
    });
    if (ok) return;
    await sleep(50);
  }
  throw new Error(`port ${port} not listening after ${timeoutMs} ms:\n${proc.log()}`);
}

/** Fails if nothing can bind the port right now (someone else is on it). */
export function assertFree(port) {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', () => reject(new Error(`port ${port} on 127.0.0.1 is busy`)));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve()));
  });
}

/** SIGTERM to our PID, up to 5 s, then SIGKILL to it and its direct children. */
export async function stopProcess(proc) {
  const kids = tree(proc.pid).slice(1);
  try { process.kill(proc.pid, 'SIGTERM'); } catch { return; }
  const done = await Promise.race([proc.exited.then(() => true), sleep(5000).then(() => false)]);
  if (done) return;
  for (const pid of [proc.pid, ...kids]) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
  await proc.exited;
}

/**
 * Forks a job runner (a load generator) as its own Node process and returns it with `run(job)`:
 * the job is sent over IPC with an id, and the promise settles with the runner's `{ id, res }`
 * or rejects with its `{ id, error }`.
 */
export function forkJobs(file) {
  const child = fork(file, [], { stdio: 'inherit' });
  let jobId = 0;
  const pending = new Map();
  child.on('message', (m) => {
    pending.get(m.id)?.(m);
    pending.delete(m.id);
  });
  const run = (job) =>
    new Promise((resolve, reject) => {
      const id = ++jobId;
      pending.set(id, (m) => (m.error ? reject(new Error(m.error)) : resolve(m.res)));
      child.send({ ...job, id });
    });
  return { child, run };
}
