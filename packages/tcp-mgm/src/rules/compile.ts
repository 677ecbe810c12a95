import type { ConnectionProfile } from '@x/core-conn';
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

const KEEP_UNSET: Array<keyof ConnectionProfile> = ['keepcount', 'keepinterval'];

/**
 * What Node cannot apply of the loaded rules, one line per attribute (logged once per load):
 * parallel_read (one event loop reads every connection; there are no reader processes to
 * re-balance), TCP_KEEPCNT and TCP_KEEPINTVL (Node's setKeepAlive sets SO_KEEPALIVE and
 * TCP_KEEPIDLE only; count and interval stay the kernel's).
 */
export function unappliedAttributes(rules: RuleSet): string[] {
  const out: string[] = [];
  const ids = (pred: (p: TcpPath) => boolean): number[] => rules.paths.filter(pred).map((p) => p.id);
  const fmt = (list: number[]): string => (list.length > 10 ? `${list.slice(0, 10).join(', ')} and ${list.length - 10} more` : list.join(', '));
  const pr = ids((p) => p.profile.parallelRead !== 0);
  if (pr.length) out.push(`parallel_read is not applied (one Node event loop reads every connection; there are no TCP reader processes to re-balance): rules ${fmt(pr)}`);
  for (const k of KEEP_UNSET) {
    const l = ids((p) => p.profile[k] !== 0);
    if (l.length) out.push(`${k} is not applied (Node sets SO_KEEPALIVE and TCP_KEEPIDLE only; ${k === 'keepcount' ? 'TCP_KEEPCNT' : 'TCP_KEEPINTVL'} stays the kernel default): rules ${fmt(l)}`);
  }
  return out;
}
