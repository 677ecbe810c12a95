import { execFileSync } from 'node:child_process';

/** What setting open_files_limit did. */
export type OpenFilesResult = { ok: true; soft: number; hard: number } | { ok: false; error: string };

function readNofile(pid: number): { soft: number; hard: number } {
  // prlimit --output SOFT,HARD --noheadings --raw --nofile: "1024 524288"
  const out = execFileSync('prlimit', ['--pid', String(pid), '--nofile', '--output=SOFT,HARD', '--noheadings', '--raw'], { encoding: 'utf8', timeout: 5000 }).trim();
  const [soft, hard] = out.split(/\s+/).map((v) => (v === 'unlimited' ? Infinity : Number(v)));
  return { soft: soft!, hard: hard! };
}

/**
 * open_files_limit: raises RLIMIT_NOFILE of this process to `n`, soft and hard, as OpenSIPS's
 * setrlimit at start-up. Node.js has no setrlimit, so util-linux's prlimit(1) sets it on our
 * pid; a limit already at or above n is left alone (OpenSIPS only raises it). Raising the hard
 * limit needs CAP_SYS_RESOURCE: without it the result says why.
 */
export function applyOpenFilesLimit(n: number, pid: number = process.pid): OpenFilesResult {
  try {
    const cur = readNofile(pid);
    if (cur.soft >= n) return { ok: true, ...cur };
    const hard = Math.max(cur.hard, n);
    execFileSync('prlimit', ['--pid', String(pid), `--nofile=${n}:${hard === Infinity ? 'unlimited' : hard}`], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 5000 });
    return { ok: true, ...readNofile(pid) };
  } catch (err) {
    const e = err as { stderr?: Buffer | string; message: string };
    const text = e.stderr ? String(e.stderr).trim() : '';
    return { ok: false, error: text || e.message };
  }
}
