import type { TcpPath } from './rule.js';

/**
 * Match order (reference note §5), ascending: priority; a specific proto before `any`;
 * a specific remote before any-remote; a longer remote prefix first; a specific remote_port
 * before 0; a specific local before any-local; a longer local prefix first; a specific
 * local_port before 0.
 *
 * Two deliberate differences from OpenSIPS's qsort comparator, neither of which changes which
 * rule a lookup finds: (1) OpenSIPS calls rules with two different specific protocols "equal",
 * which makes its comparator non-transitive (qsort may then order anything); such rules can never
 * match the same connection, so we compare them on the remaining keys instead; (2) ties, which
 * OpenSIPS leaves in no guaranteed order, go to the lower id, so a table always loads the same.
 */
export function comparePaths(a: TcpPath, b: TcpPath): number {
  if (a.priority !== b.priority) return a.priority < b.priority ? -1 : 1;
  const pa = a.proto === null ? 1 : 0;
  const pb = b.proto === null ? 1 : 0;
  if (pa !== pb) return pa - pb;
  const ra = a.remote === null ? 1 : 0;
  const rb = b.remote === null ? 1 : 0;
  if (ra !== rb) return ra - rb;
  if (a.remote && b.remote && a.remote.prefix !== b.remote.prefix) return b.remote.prefix - a.remote.prefix;
  const rpa = a.remotePort === 0 ? 1 : 0;
  const rpb = b.remotePort === 0 ? 1 : 0;
  if (rpa !== rpb) return rpa - rpb;
  const la = a.local === null ? 1 : 0;
  const lb = b.local === null ? 1 : 0;
  if (la !== lb) return la - lb;
  if (a.local && b.local && a.local.family !== b.local.family) return b.local.family - a.local.family;
  const lpa = a.localPort === 0 ? 1 : 0;
  const lpb = b.localPort === 0 ? 1 : 0;
  if (lpa !== lpb) return lpa - lpb;
  return a.id - b.id;
}
