// The create scripts shipped in sql/ are what tcpMgmCreateSql() generates, and they create a
// table SQLite accepts with the documented defaults (PostgreSQL and MariaDB: test/interop).
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'libsql';
import { describe, expect, it } from 'vitest';
import { COLUMNS_V1, COLUMNS_V2, tcpMgmCreateSql, versionTableSql } from '../src/index.js';

const root = join(import.meta.dirname, '..');

describe('create scripts', () => {
  for (const d of ['sqlite', 'postgres', 'mysql'] as const) {
    it(`sql/${d} matches the generator`, () => {
      const files = { 'tcp_mgm-create.sql': tcpMgmCreateSql(d), 'version-create.sql': versionTableSql(d) };
      for (const [f, text] of Object.entries(files)) {
        const p = join(root, 'sql', d, f);
        if (process.env.UPDATE_SQL && !existsSync(p)) {
          mkdirSync(join(root, 'sql', d), { recursive: true });
          writeFileSync(p, text);
        }
        expect(readFileSync(p, 'utf8')).toBe(text);
      }
    });
  }

  it('version 2 has the 18 columns in OpenSIPS order, version 1 adds parallel_read after alias_mode', () => {
    const cols = (sql: string): string[] => [...sql.matchAll(/^ {4}(\w+) /gm)].map((m) => m[1]!);
    expect(cols(tcpMgmCreateSql('mysql'))).toEqual([...COLUMNS_V2]);
    expect(cols(tcpMgmCreateSql('postgres', { version: 1 }))).toEqual([...COLUMNS_V1]);
    expect(COLUMNS_V2).toHaveLength(18);
    expect(tcpMgmCreateSql('sqlite', { version: 1 })).toContain("values ('tcp_mgm','1')");
    expect(tcpMgmCreateSql('postgres', { table: 'paths' })).toContain('ALTER SEQUENCE paths_id_seq MAXVALUE 2147483647 CYCLE;');
    expect(() => tcpMgmCreateSql('sqlite', { table: 'x; DROP' })).toThrow(/plain SQL identifier/);
  });

  it('SQLite: an inserted row with only the mandatory values gets the documented defaults', () => {
    const db = new Database(':memory:');
    db.exec(versionTableSql('sqlite') + tcpMgmCreateSql('sqlite'));
    db.exec("INSERT INTO tcp_mgm (remote_addr) VALUES ('10.0.0.0/8')");
    const row = db.prepare('SELECT * FROM tcp_mgm').get() as Record<string, unknown>;
    expect(row).toMatchObject({
      id: 1, proto: 'any', remote_addr: '10.0.0.0/8', remote_port: 0, local_addr: null, local_port: 0, priority: 0, attrs: null,
      connect_timeout: 100, con_lifetime: 120, msg_read_timeout: 4, send_threshold: 0, no_new_conn: 0, alias_mode: 0,
      keepalive: 1, keepcount: 9, keepidle: 7200, keepinterval: 75,
    });
    expect(db.prepare("SELECT table_version FROM version WHERE table_name = 'tcp_mgm'").get()).toMatchObject({ table_version: 2 });
    db.close();
  });
});
