import { isAbsolute, resolve } from 'node:path';
import { TcpMgmError, TcpMgmErrorCodes } from '../errors.js';

/** The SQL engines a db_url can name; each is OpenSIPS's db_* module of the same name. */
export type DbDriver = 'sqlite' | 'postgres' | 'mysql';

export type DbTarget =
  | { driver: 'sqlite'; path: string }
  | { driver: 'postgres' | 'mysql'; host: string; port: number | undefined; user: string | undefined; password: string | undefined; database: string };

/** The OpenSIPS module (`loadmodule "db_sqlite.so"`...) that serves each driver. */
export const DB_MODULES: Readonly<Record<DbDriver, string>> = { sqlite: 'db_sqlite', postgres: 'db_postgres', mysql: 'db_mysql' };

function bad(url: string, why: string): TcpMgmError {
  return new TcpMgmError(TcpMgmErrorCodes.BAD_URL, `db_url "${redactDbUrl(url)}": ${why} (expected sqlite:///abs/path.db, postgres://user:pass@host[:port]/db or mysql://user:pass@host[:port]/db)`);
}

/** The URL with its password replaced by "***", for logs and errors. */
export function redactDbUrl(url: string): string {
  return url.replace(/^([a-z0-9+]+:\/\/[^:/@]*:)[^@/]*@/i, '$1***@');
}

/**
 * Parses a db_url as OpenSIPS writes it: `sqlite:///abs/path.db` (three slashes: an absolute
 * path; `sqlite://rel/path.db` is taken relative to `baseDir`, default the working directory),
 * `postgres://` or `postgresql://user:pass@host[:port]/database`, `mysql://user:pass@host[:port]/database`.
 * User and password are percent-decoded.
 */
export function parseDbUrl(url: string, baseDir?: string): DbTarget {
  const m = /^([a-z][a-z0-9+.-]*):\/\/(.*)$/is.exec(url.trim());
  if (!m) throw bad(url, 'no scheme');
  const scheme = m[1]!.toLowerCase();
  const rest = m[2]!;
  if (scheme === 'sqlite') {
    const path = rest.split('?')[0]!;
    if (path === '' || path === '/') throw bad(url, 'no database file');
    return { driver: 'sqlite', path: isAbsolute(path) ? path : resolve(baseDir ?? process.cwd(), path) };
  }
  const driver: DbDriver | undefined = scheme === 'postgres' || scheme === 'postgresql' ? 'postgres' : scheme === 'mysql' ? 'mysql' : undefined;
  if (!driver) throw bad(url, `unknown scheme "${scheme}"`);
  const slash = rest.indexOf('/', rest.lastIndexOf('@') + 1);
  if (slash < 0) throw bad(url, 'no database name');
  const authority = rest.slice(0, slash);
  const database = decodeURIComponent(rest.slice(slash + 1).split('?')[0]!);
  if (database === '') throw bad(url, 'no database name');
  const at = authority.lastIndexOf('@');
  const userinfo = at < 0 ? undefined : authority.slice(0, at);
  const hostport = at < 0 ? authority : authority.slice(at + 1);
  let user: string | undefined;
  let password: string | undefined;
  if (userinfo !== undefined) {
    if (userinfo.startsWith('[')) throw bad(url, 'MySQL option groups ("[group]user") are not supported');
    const c = userinfo.indexOf(':');
    user = decodeURIComponent(c < 0 ? userinfo : userinfo.slice(0, c)) || undefined;
    password = c < 0 ? undefined : decodeURIComponent(userinfo.slice(c + 1));
  }
  let host = hostport;
  let port: number | undefined;
  const hm = /^(\[[^\]]+\]|[^:]*)(?::(\d*))?$/.exec(hostport);
  if (!hm) throw bad(url, `bad host "${hostport}"`);
  host = hm[1]!.replace(/^\[|\]$/g, '');
  if (hm[2] !== undefined && hm[2] !== '') {
    port = Number(hm[2]);
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw bad(url, `bad port "${hm[2]}"`);
  }
  if (host === '') throw bad(url, 'no host');
  return { driver, host, port, user, password, database };
}
