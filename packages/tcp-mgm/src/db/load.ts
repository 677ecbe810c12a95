import type { ListenerInfo } from '@x/core-conn';
import { TcpMgmError, TcpMgmErrorCodes } from '../errors.js';
import { compileRules, type CompiledRules } from '../rules/compile.js';
import { COLUMNS_V1, COLUMNS_V2, type ColumnName, type TcpMgmRow } from '../rules/rule.js';
import type { RuleSource } from './source.js';

export interface LoadOptions {
  /** the table (modparam db_table), default tcp_mgm */
  table?: string;
  /** column renames (modparams <column>_col): canonical name -> name in the table */
  columns?: Partial<Record<ColumnName, string>>;
  /** listeners a local_addr must name; see CompileContext */
  listeners?: readonly ListenerInfo[];
}

export interface LoadedRules extends CompiledRules {
  /** the table's version row: 1 (OpenSIPS 3.6.x) or 2 */
  version: 1 | 2;
  /** rows read, valid or not */
  rows: number;
}

/** The raw rows of a table and its version, before validation. */
export interface TableRows {
  version: 1 | 2;
  rows: TcpMgmRow[];
}

// One object literal per row: every row gets the same hidden class (keys assigned one by one in a
// loop make a dictionary-mode object per row, several times slower to build and to read).
const rowV2 = (r: unknown[]): TcpMgmRow => ({
  id: r[0], proto: r[1], remote_addr: r[2], remote_port: r[3], local_addr: r[4], local_port: r[5], priority: r[6], attrs: r[7],
  connect_timeout: r[8], con_lifetime: r[9], msg_read_timeout: r[10], send_threshold: r[11], no_new_conn: r[12], alias_mode: r[13],
  keepalive: r[14], keepcount: r[15], keepidle: r[16], keepinterval: r[17],
});
const rowV1 = (r: unknown[]): TcpMgmRow => ({
  id: r[0], proto: r[1], remote_addr: r[2], remote_port: r[3], local_addr: r[4], local_port: r[5], priority: r[6], attrs: r[7],
  connect_timeout: r[8], con_lifetime: r[9], msg_read_timeout: r[10], send_threshold: r[11], no_new_conn: r[12], alias_mode: r[13],
  parallel_read: r[14], keepalive: r[15], keepcount: r[16], keepidle: r[17], keepinterval: r[18],
});

/**
 * Reads the whole table once: checks its `version` row (1 or 2) and selects the columns of that
 * version (renamed as configured), as objects keyed by the canonical column names. Rejects when
 * the database, the version row or the query fails.
 */
export async function readTable(source: RuleSource, opts: Pick<LoadOptions, 'table' | 'columns'> = {}): Promise<TableRows> {
  const table = opts.table ?? 'tcp_mgm';
  const v = await source.tableVersion(table);
  if (v === undefined) throw new TcpMgmError(TcpMgmErrorCodes.VERSION, `no row for table "${table}" in the version table (run the tcp_mgm create script)`);
  if (v !== 1 && v !== 2) throw new TcpMgmError(TcpMgmErrorCodes.VERSION, `table "${table}" has version ${v}; this package reads version 2 (OpenSIPS 4.0) and 1 (OpenSIPS 3.6)`);
  const canonical = v === 1 ? COLUMNS_V1 : COLUMNS_V2;
  const names = canonical.map((c) => opts.columns?.[c] ?? c);
  const raw = await source.select(table, names);
  const rows = new Array<TcpMgmRow>(raw.length);
  const row = v === 1 ? rowV1 : rowV2;
  for (let i = 0; i < raw.length; i++) rows[i] = row(raw[i]!);
  return { version: v, rows };
}

/**
 * `readTable`, then every row validated: invalid rows are skipped and listed. Rejects (keeping
 * nothing) when the read fails.
 */
export async function loadRules(source: RuleSource, opts: LoadOptions = {}): Promise<LoadedRules> {
  const { version, rows } = await readTable(source, opts);
  const compiled = compileRules(rows, { version, ...(opts.listeners ? { listeners: opts.listeners } : {}) });
  return { ...compiled, version, rows: rows.length };
}
