import { TcpMgmError, TcpMgmErrorCodes } from '../errors.js';
import type { DbDriver } from './url.js';

/** One column of the tcp_mgm table as OpenSIPS's db/schema/tcp_mgm.xml defines it. */
interface ColumnDef {
  name: string;
  kind: 'id' | 'string' | 'uint' | 'int';
  size?: number;
  /** default: a number, a string, or null (NULL allowed) */
  def: number | string | null;
  /** only in version 1 */
  v1Only?: boolean;
}

/** Column for column, the table OpenSIPS's create scripts make (version 1 adds parallel_read). */
export const TCP_MGM_COLUMNS: readonly ColumnDef[] = [
  { name: 'id', kind: 'id', def: 0 },
  { name: 'proto', kind: 'string', size: 8, def: 'any' },
  { name: 'remote_addr', kind: 'string', size: 43, def: null },
  { name: 'remote_port', kind: 'uint', def: 0 },
  { name: 'local_addr', kind: 'string', size: 43, def: null },
  { name: 'local_port', kind: 'uint', def: 0 },
  { name: 'priority', kind: 'int', def: 0 },
  { name: 'attrs', kind: 'string', size: 255, def: null },
  { name: 'connect_timeout', kind: 'uint', def: 100 },
  { name: 'con_lifetime', kind: 'uint', def: 120 },
  { name: 'msg_read_timeout', kind: 'uint', def: 4 },
  { name: 'send_threshold', kind: 'uint', def: 0 },
  { name: 'no_new_conn', kind: 'uint', def: 0 },
  { name: 'alias_mode', kind: 'uint', def: 0 },
  { name: 'parallel_read', kind: 'uint', def: 0, v1Only: true },
  { name: 'keepalive', kind: 'uint', def: 1 },
  { name: 'keepcount', kind: 'uint', def: 9 },
  { name: 'keepidle', kind: 'uint', def: 7200 },
  { name: 'keepinterval', kind: 'uint', def: 75 },
];

/** The table version this package creates (OpenSIPS master / 4.0); version 1 (3.6.x) is read as well. */
export const TCP_MGM_TABLE_VERSION = 2;

function colSql(d: DbDriver, c: ColumnDef): string {
  if (c.kind === 'id') {
    if (d === 'sqlite') return 'id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL';
    if (d === 'postgres') return 'id SERIAL PRIMARY KEY NOT NULL';
    return 'id INT(10) UNSIGNED AUTO_INCREMENT PRIMARY KEY NOT NULL';
  }
  let type: string;
  if (c.kind === 'string') type = `${d === 'postgres' ? 'VARCHAR' : 'CHAR'}(${c.size})`;
  else if (d === 'mysql') type = c.kind === 'uint' ? 'INT UNSIGNED' : 'INT';
  else type = 'INTEGER';
  const def = c.def === null ? 'DEFAULT NULL' : typeof c.def === 'string' ? `DEFAULT '${c.def}' NOT NULL` : `DEFAULT ${c.def} NOT NULL`;
  return `${c.name} ${type} ${def}`;
}

/**
 * The create script of the tcp_mgm table for one SQL dialect, as OpenSIPS's
 * `scripts/<db>/tcp_mgm-create.sql`: the `version` row, then the table. `table` renames it
 * (modparam db_table); version 1 is OpenSIPS 3.6.x's table (with parallel_read).
 */
export function tcpMgmCreateSql(driver: DbDriver, opts: { table?: string; version?: 1 | 2 } = {}): string {
  const table = opts.table ?? 'tcp_mgm';
  const version = opts.version ?? TCP_MGM_TABLE_VERSION;
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(table)) throw new TcpMgmError(TcpMgmErrorCodes.BAD_VALUE, `table name "${table}" is not a plain SQL identifier`);
  const cols = TCP_MGM_COLUMNS.filter((c) => version === 1 || !c.v1Only).map((c) => `    ${colSql(driver, c)}`);
  let out = `INSERT INTO version (table_name, table_version) values ('${table}','${version}');\n`;
  out += `CREATE TABLE ${table} (\n${cols.join(',\n')}\n)${driver === 'mysql' ? ' ENGINE=InnoDB' : ''};\n\n`;
  if (driver === 'postgres') out += `ALTER SEQUENCE ${table}_id_seq MAXVALUE 2147483647 CYCLE;\n`;
  return out;
}

/** The `version` table of OpenSIPS's standard-create.sql, for a database that has none yet. */
export function versionTableSql(driver: DbDriver): string {
  if (driver === 'sqlite') return 'CREATE TABLE version (\n    table_name CHAR(32) NOT NULL,\n    table_version INTEGER DEFAULT 0 NOT NULL,\n    CONSTRAINT version_t_name_idx  UNIQUE (table_name)\n);\n';
  if (driver === 'postgres') return 'CREATE TABLE version (\n    table_name VARCHAR(32) NOT NULL,\n    table_version INTEGER DEFAULT 0 NOT NULL,\n    CONSTRAINT version_t_name_idx UNIQUE (table_name)\n);\n';
  return 'CREATE TABLE version (\n    table_name CHAR(32) NOT NULL,\n    table_version INT UNSIGNED DEFAULT 0 NOT NULL,\n    CONSTRAINT t_name_idx UNIQUE (table_name)\n) ENGINE=InnoDB;\n';
}
