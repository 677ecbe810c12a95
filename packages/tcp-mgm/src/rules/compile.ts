import { readFileSync } from 'node:fs';
import { RowError } from '../errors.js';
import { compileRow, type CompileContext, type TcpMgmRow, type TcpPath } from './rule.js';
import { RuleSet } from './ruleset.js';

/** A row that was left out, and why. */
export interface SkippedRow {
  id: number | undefined;
  reason: string;
}

export interface CompiledRules {
  rules: RuleSet;
  skipped: SkippedRow[];
}

/** Validates rows into a rule set; invalid rows are skipped and listed with their reason. */
export function compileRules(rows: Iterable<TcpMgmRow>, ctx: CompileContext): CompiledRules {
  const paths: TcpPath[] = [];
  const skipped: SkippedRow[] = [];
  for (const row of rows) {
    try {
      paths.push(compileRow(row, ctx));
    } catch (err) {
      if (!(err instanceof RowError)) throw err;
      skipped.push({ id: err.id, reason: err.reason });
    }
  }
  return { rules: new RuleSet(paths), skipped };
}

/**
 * The kernel's TCP_KEEPCNT / TCP_KEEPINTVL defaults (Linux: net.ipv4.tcp_keepalive_probes and
 * tcp_keepalive_intvl), which every connection gets since Node cannot set its own; undefined
 * where they cannot be read.
 */
export interface KernelKeepalive {
  keepcount?: number;
  keepinterval?: number;
}

/** Reads the kernel's keepalive defaults (Linux /proc; {} elsewhere or when unreadable). */
export function kernelKeepalive(read: (path: string) => string = (p) => readFileSync(p, 'utf8')): KernelKeepalive {
  const out: KernelKeepalive = {};
  for (const [k, file] of [['keepcount', 'tcp_keepalive_probes'], ['keepinterval', 'tcp_keepalive_intvl']] as const) {
    try {
      const n = Number(read(`/proc/sys/net/ipv4/${file}`).trim());
      if (Number.isInteger(n) && n > 0) out[k] = n;
    } catch {
      // not Linux, or no /proc: every non-zero value is reported
    }
  }
  return out;
}

/**
 * What Node cannot apply of the loaded rules, one line per attribute (logged once per load):
 * parallel_read (one event loop reads every connection; there are no reader processes to
 * re-balance); keepcount and keepinterval (Node 20's setKeepAlive sets SO_KEEPALIVE and
 * TCP_KEEPIDLE only, so TCP_KEEPCNT and TCP_KEEPINTVL stay the kernel's): a rule is listed when
 * its value is non-zero (0 = not set, as in OpenSIPS) and differs from the kernel's, which is
 * what the connection really gets (`kernel`; without it every non-zero value is listed).
 */
export function unappliedAttributes(rules: RuleSet, kernel: KernelKeepalive = {}): string[] {
  const out: string[] = [];
  const ids = (pred: (p: TcpPath) => boolean): number[] => rules.paths.filter(pred).map((p) => p.id);
  const fmt = (list: number[]): string => (list.length > 10 ? `${list.slice(0, 10).join(', ')} and ${list.length - 10} more` : list.join(', '));
  const pr = ids((p) => p.profile.parallelRead !== 0);
  if (pr.length) out.push(`parallel_read is not applied (one Node event loop reads every connection; there are no TCP reader processes to re-balance): rules ${fmt(pr)}`);
  for (const [k, opt, sysctl] of [['keepcount', 'TCP_KEEPCNT', 'tcp_keepalive_probes'], ['keepinterval', 'TCP_KEEPINTVL', 'tcp_keepalive_intvl']] as const) {
    const have = kernel[k];
    const l = ids((p) => p.profile[k] !== 0 && p.profile[k] !== have);
    if (l.length) out.push(`${k} is not applied (Node sets SO_KEEPALIVE and TCP_KEEPIDLE only; ${opt} stays the kernel's${have === undefined ? '' : ` ${sysctl} = ${have}`}): rules ${fmt(l)}`);
  }
  return out;
}
