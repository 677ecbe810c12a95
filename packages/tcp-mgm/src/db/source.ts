import { existsSync } from 'node:fs';
import { TcpMgmError, TcpMgmErrorCodes } from '../errors.js';
import { redactDbUrl, type DbDriver, type DbTarget } from './url.js';

/** A connection to the database that holds the rules. Drivers are imported on first use. */
export interface RuleSource {
  readonly driver: DbDriver;
  /** `table_version` of `table` in the `version` table; undefined when there is no row (or no version table) */
  tableVersion(table: string): Promise<number | undefined>;
  /** every row of `table`, the given columns in order, values as the driver gives them */
  select(table: string, columns: readonly string[]): Promise<unknown[][]>;
  /** runs a script of one or more statements (create scripts, test data) */
  exec(sql: string): Promise<void>;
  close(): Promise<void>;
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_$]*$/;

function ident(driver: DbDriver, name: string): string {
  if (!IDENT.test(name)) throw new TcpMgmError(TcpMgmErrorCodes.BAD_PARAM, `"${name}" is not a plain SQL identifier (letters, digits, _)`);
  return driver === 'mysql' ? `\`${name}\`` : `"${name}"`;
}

function selectSql(driver: DbDriver, table: string, columns: readonly string[]): string {
  return `SELECT ${columns.map((c) => ident(driver, c)).join(', ')} FROM ${ident(driver, table)}`;
}

/**
 * SQLite: the whole table as ONE JSON text, `[[col, col, ...], ...]`, built by SQLite. libsql
 * hands each value of a row to JavaScript through its own native call (1.8M calls for 100k rows
 * of 18 columns); one string and `JSON.parse` cost a fraction of that (the bench measures both).
 * PostgreSQL keeps the plain select: pg parses its row messages in JavaScript already, and one
 * 7 MB json_agg value is slower through it than 100k small rows.
 * Integers stay numbers, text stays strings, NULL is null; a type JSON cannot hold (an SQLite
 * BLOB) makes the query fail and the caller falls back to the plain select.
 */
function jsonSelectSql(table: string, columns: readonly string[]): string {
  return `SELECT json_group_array(json_array(${columns.map((c) => ident('sqlite', c)).join(', ')})) FROM ${ident('sqlite', table)}`;
}

/** The rows of a jsonSelectSql answer. */
function jsonRows(text: unknown): unknown[][] | undefined {
  if (typeof text !== 'string') return undefined;
  const rows: unknown = JSON.parse(text);
  return Array.isArray(rows) ? (rows as unknown[][]) : undefined;
}

function dbError(what: string, err: unknown): TcpMgmError {
  return new TcpMgmError(TcpMgmErrorCodes.DB, `${what}: ${(err as Error).message}`, { cause: err });
}

/** Statements of a script, split on `;` at line ends (the create scripts' form). */
function statements(sql: string): string[] {
  return sql.split(/;\s*(?:\n|$)/).map((s) => s.trim()).filter((s) => s !== '');
}

interface LibsqlDb {
  prepare(sql: string): { raw(on?: boolean): { all(...a: unknown[]): unknown[][]; get(...a: unknown[]): unknown[] | undefined }; get(...a: unknown[]): unknown };
  exec(sql: string): void;
  close(): void;
}

async function openSqlite(path: string, create: boolean): Promise<RuleSource> {
  if (!create && !existsSync(path)) throw new TcpMgmError(TcpMgmErrorCodes.DB, `SQLite database ${path} does not exist`);
  let db: LibsqlDb;
  try {
    const { default: Database } = (await import('libsql')) as unknown as { default: new (p: string) => LibsqlDb };
    db = new Database(path);
  } catch (err) {
    throw dbError(`cannot open SQLite database ${path}`, err);
  }
  return {
    driver: 'sqlite',
    async tableVersion(table) {
      try {
        const has = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'version'").get();
        if (!has) return undefined;
        const row = db.prepare('SELECT table_version FROM version WHERE table_name = ?').raw().all(table)[0];
        return row ? Number(row[0]) : undefined;
      } catch (err) {
        throw dbError(`SQLite ${path}: reading the version table`, err);
      }
    },
    async select(table, columns) {
      try {
        const rows = jsonRows(db.prepare(jsonSelectSql(table, columns)).raw().get()?.[0]);
        if (rows) return rows;
      } catch {
        // a BLOB value, an SQLite without JSON: the plain select below (its error, if any, is the one reported)
      }
      try {
        return db.prepare(selectSql('sqlite', table, columns)).raw().all();
      } catch (err) {
        throw dbError(`SQLite ${path}: reading table ${table}`, err);
      }
    },
    async exec(sql) {
      try {
        db.exec(sql);
      } catch (err) {
        throw dbError(`SQLite ${path}`, err);
      }
    },
    async close() {
      db.close();
    },
  };
}

interface PgClient {
  connect(): Promise<void>;
  query(q: string | { text: string; values?: unknown[]; rowMode?: 'array'; types?: unknown }, values?: unknown[]): Promise<{ rows: unknown[] }>;
  end(): Promise<void>;
  on(ev: 'error', fn: (err: Error) => void): void;
}

async function openPostgres(t: Extract<DbTarget, { driver: 'postgres' | 'mysql' }>, url: string): Promise<RuleSource> {
  const pg = (await import('pg')) as unknown as { default: { Client: new (c: unknown) => PgClient; types: { getTypeParser(oid: number, fmt?: string): (v: string) => unknown } } };
  const client = new pg.default.Client({ host: t.host, port: t.port ?? 5432, user: t.user, password: t.password, database: t.database, connectionTimeoutMillis: 10_000 });
  client.on('error', () => undefined); // a dropped connection fails the next query instead of crashing
  try {
    await client.connect();
  } catch (err) {
    throw dbError(`cannot connect to ${redactDbUrl(url)}`, err);
  }
  // int8 (BIGINT) columns as bigint, not as text: OpenSIPS accepts INT or BIGINT integer columns
  const types = { getTypeParser: (oid: number, fmt?: string) => (oid === 20 ? (v: string) => BigInt(v) : pg.default.types.getTypeParser(oid, fmt)) };
  return {
    driver: 'postgres',
    async tableVersion(table) {
      try {
        const r = await client.query({ text: "SELECT to_regclass('version') IS NOT NULL", rowMode: 'array' });
        if (!(r.rows[0] as unknown[])[0]) return undefined;
        const v = await client.query({ text: 'SELECT table_version FROM version WHERE table_name = $1', values: [table], rowMode: 'array' });
        const row = v.rows[0] as unknown[] | undefined;
        return row ? Number(row[0]) : undefined;
      } catch (err) {
        throw dbError(`${redactDbUrl(url)}: reading the version table`, err);
      }
    },
    async select(table, columns) {
      try {
        return (await client.query({ text: selectSql('postgres', table, columns), rowMode: 'array', types })).rows as unknown[][];
      } catch (err) {
        throw dbError(`${redactDbUrl(url)}: reading table ${table}`, err);
      }
    },
    async exec(sql) {
      try {
        await client.query(sql);
      } catch (err) {
        throw dbError(redactDbUrl(url), err);
      }
    },
    async close() {
      await client.end().catch(() => undefined);
    },
  };
}

interface MysqlConn {
  query(o: { sql: string; values?: unknown[]; rowsAsArray?: boolean }): Promise<[unknown, unknown]>;
  end(): Promise<void>;
  on(ev: 'error', fn: (err: Error) => void): void;
}

async function openMysql(t: Extract<DbTarget, { driver: 'postgres' | 'mysql' }>, url: string): Promise<RuleSource> {
  const mysql = (await import('mysql2/promise')) as unknown as { default: { createConnection(c: unknown): Promise<MysqlConn> } };
  let conn: MysqlConn;
  try {
    conn = await mysql.default.createConnection({ host: t.host, port: t.port ?? 3306, user: t.user, password: t.password, database: t.database, connectTimeout: 10_000, supportBigNumbers: true, bigNumberStrings: false });
  } catch (err) {
    throw dbError(`cannot connect to ${redactDbUrl(url)}`, err);
  }
  conn.on('error', () => undefined);
  return {
    driver: 'mysql',
    async tableVersion(table) {
      try {
        const [has] = await conn.query({ sql: "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = 'version'", rowsAsArray: true });
        if (Number((has as unknown[][])[0]![0]) === 0) return undefined;
        const [rows] = await conn.query({ sql: 'SELECT table_version FROM version WHERE table_name = ?', values: [table], rowsAsArray: true });
        const row = (rows as unknown[][])[0];
        return row ? Number(row[0]) : undefined;
      } catch (err) {
        throw dbError(`${redactDbUrl(url)}: reading the version table`, err);
      }
    },
    async select(table, columns) {
      try {
        const [rows] = await conn.query({ sql: selectSql('mysql', table, columns), rowsAsArray: true });
        return rows as unknown[][];
      } catch (err) {
        throw dbError(`${redactDbUrl(url)}: reading table ${table}`, err);
      }
    },
    async exec(sql) {
      try {
        for (const s of statements(sql)) await conn.query({ sql: s });
      } catch (err) {
        throw dbError(redactDbUrl(url), err);
      }
    },
    async close() {
      await conn.end().catch(() => undefined);
    },
  };
}

/**
 * Opens the database a db_url names. `create`: an SQLite file that does not exist yet is created
 * (empty); otherwise a missing file is an error.
 */
export async function openRuleSource(target: DbTarget, opts: { url?: string; create?: boolean } = {}): Promise<RuleSource> {
  const url = opts.url ?? target.driver;
  if (target.driver === 'sqlite') return openSqlite(target.path, opts.create === true);
  if (target.driver === 'postgres') return openPostgres(target, url);
  return openMysql(target, url);
}
