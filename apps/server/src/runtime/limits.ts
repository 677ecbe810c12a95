import { execFileSync } from 'node:child_process';
import { nofileLimit, openDescriptors } from '@x/core-conn';

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

/** Descriptors kept free beyond the ones counted (logs, tcp_mgm's database, HEP/trace destinations, DNS, libuv's own). */
export const FD_MARGIN = 32;

/** What planDescriptors decided. */
export interface DescriptorPlan {
  /** the open-files limit after any raise (Infinity: unlimited; undefined: unknown, no /proc) */
  soft: number | undefined;
  hard: number | undefined;
  /** the soft limit before we raised it, when we did */
  raisedFrom?: number;
  /** why raising failed, when it did */
  raiseError?: string;
  /** descriptors kept out of tcp_max_connections' reach */
  reserve: number;
  /** tcp_max_connections as configured */
  requested: number;
  /** the cap the engine gets: requested, or what the limit leaves after the reserve */
  maxConnections: number;
}

export interface DescriptorNeeds {
  /** tcp_max_connections */
  maxConnections: number;
  /** listening sockets the cfg declares */
  sockets: number;
  /** httpd's max_connections (MI, /metrics, /health), 0 without httpd */
  httpConnections: number;
}

export interface DescriptorProbe {
  limits(): { soft: number; hard: number } | undefined;
  /** descriptors open now */
  open(): number | undefined;
  /** raises the soft limit to `soft` (hard unchanged); an error message when it cannot */
  raise(soft: number, hard: number): string | undefined;
}

/** raises the soft RLIMIT_NOFILE of this process through util-linux prlimit (no privilege needed up to the hard limit) */
function raiseSoft(soft: number, hard: number): string | undefined {
  try {
    execFileSync('prlimit', ['--pid', String(process.pid), `--nofile=${soft}:${hard === Infinity ? 'unlimited' : hard}`], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 5000 });
    return undefined;
  } catch (err) {
    const e = err as { stderr?: Buffer | string; message: string; code?: string };
    if (e.code === 'ENOENT') return 'prlimit (util-linux) is not installed';
    const text = e.stderr ? String(e.stderr).trim() : '';
    return text || e.message;
  }
}

/**
 * Fits tcp_max_connections to the open-files limit, at start-up. Every connection is a
 * descriptor; so are the listeners, MI/metrics/health connections (httpd max_connections),
 * the log, a database, trace destinations... When they all share one table, a flood of SIP
 * connections takes MI and /health down with it (EMFILE, which Node handles silently). So:
 * - the reserve = descriptors open now + listeners + httpd connections + FD_MARGIN;
 * - when the soft limit is below tcp_max_connections + reserve, it is raised as far as the hard
 *   limit allows (Node has no setrlimit: util-linux prlimit on our own pid);
 * - the engine's cap is then min(tcp_max_connections, soft limit - reserve): SIP connections
 *   past it are refused by the engine (counted in <proto>:rejected, logged), not by the kernel,
 *   and MI and /health keep their descriptors. The caller warns when the cap is lower than asked.
 */
export function planDescriptors(needs: DescriptorNeeds, probe: DescriptorProbe = { limits: nofileLimit, open: openDescriptors, raise: raiseSoft }): DescriptorPlan {
  const open = probe.open() ?? 0;
  const reserve = open + needs.sockets + needs.httpConnections + FD_MARGIN;
  const plan: DescriptorPlan = { soft: undefined, hard: undefined, reserve, requested: needs.maxConnections, maxConnections: needs.maxConnections };
  let lim = probe.limits();
  if (lim === undefined) return plan;
  const want = needs.maxConnections + reserve;
  if (lim.soft < want && lim.soft < lim.hard) {
    const target = Math.min(want, lim.hard);
    const err = probe.raise(target, lim.hard);
    if (err !== undefined) plan.raiseError = err;
    else {
      const before = lim.soft;
      lim = probe.limits() ?? lim;
      if (lim.soft > before) plan.raisedFrom = before;
    }
  }
  plan.soft = lim.soft;
  plan.hard = lim.hard;
  if (lim.soft !== Infinity) plan.maxConnections = Math.max(1, Math.min(needs.maxConnections, lim.soft - reserve));
  return plan;
}
