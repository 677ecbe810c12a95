import { describe, expect, it } from 'vitest';
import { TcpMgmError } from '../errors.js';
import { parseDbUrl, redactDbUrl } from './url.js';

describe('db_url', () => {
  it('sqlite:///abs/path is an absolute path; sqlite://rel is relative to the base dir', () => {
    expect(parseDbUrl('sqlite:///var/lib/x/tcp.db')).toEqual({ driver: 'sqlite', path: '/var/lib/x/tcp.db' });
    expect(parseDbUrl('sqlite://db/tcp.db', '/etc/x')).toEqual({ driver: 'sqlite', path: '/etc/x/db/tcp.db' });
  });
  it('postgres and mysql as OpenSIPS writes them, user and password percent-decoded', () => {
    expect(parseDbUrl('postgres://opensips:opensipsrw@localhost/opensips')).toEqual({ driver: 'postgres', host: 'localhost', port: undefined, user: 'opensips', password: 'opensipsrw', database: 'opensips' });
    expect(parseDbUrl('postgresql://u@127.0.0.1:5433/db')).toMatchObject({ driver: 'postgres', port: 5433, user: 'u', password: undefined });
    expect(parseDbUrl('mysql://root:p%40ss%3Aw@[::1]:3307/opensips')).toEqual({ driver: 'mysql', host: '::1', port: 3307, user: 'root', password: 'p@ss:w', database: 'opensips' });
  });
  it.each([
    ['opensips', 'no scheme'],
    ['oracle://u:p@h/db', 'unknown scheme "oracle"'],
    ['mysql://u:p@h', 'no database name'],
    ['mysql://u:p@h/', 'no database name'],
    ['mysql://u:p@h:99999/db', 'bad port "99999"'],
    ['mysql://[grp]u:p@h/db', 'option groups'],
    ['sqlite://', 'no database file'],
  ])('%s is refused: %s', (url, why) => {
    let err: unknown;
    try {
      parseDbUrl(url);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TcpMgmError);
    expect((err as TcpMgmError).code).toBe('ERR_TCPMGM_BAD_URL');
    expect((err as Error).message).toContain(why);
  });
  it('never prints a password', () => {
    expect(redactDbUrl('mysql://root:secret@h/db')).toBe('mysql://root:***@h/db');
    expect(() => parseDbUrl('mysql://root:secret@h')).toThrow(/root:\*\*\*@h/);
  });
});
