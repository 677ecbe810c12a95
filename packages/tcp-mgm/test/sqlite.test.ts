// Loading rules from a real SQLite file (libsql): version 2 and version 1 tables, renamed
// table and columns, bad rows skipped, failures that keep nothing.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'libsql';
import { afterAll, describe, expect, it } from 'vitest';
import { COLUMNS_V1, COLUMNS_V2, loadRules, openRuleSource, readTable, tcpMgmCreateSql, versionTableSql, type RuleSource, type TcpMgmError } from '../src/index.js';

const dir = mkdtempSync(join(tmpdir(), 'tcpmgm-sqlite-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

function makeDb(sql: string): string {
  const path = join(dir, `t${++n}.db`);
  const db = new Database(path);
  db.exec(sql);
  db.close();
  return path;
}

describe('SQLite', () => {
  it('loads a version 2 table: valid rows in match order, bad rows skipped with id and reason', async () => {
    const path = makeDb(
      versionTableSql('sqlite') +
        tcpMgmCreateSql('sqlite') +
        `INSERT INTO tcp_mgm (proto, remote_addr, priority, msg_read_timeout) VALUES ('any', NULL, 0, 9);
         INSERT INTO tcp_mgm (proto, remote_addr, msg_read_timeout, attrs) VALUES ('tcp', '127.0.0.2', 1, 'max_msg_chunks=4;foo=bar');
         INSERT INTO tcp_mgm (proto, remote_addr) VALUES ('udp', '127.0.0.3');
         INSERT INTO tcp_mgm (proto, remote_addr, alias_mode) VALUES ('tls', '10.0.0.0/8', 5);`,
    );
    const src = await openRuleSource({ driver: 'sqlite', path });
    const r = await loadRules(src);
    await src.close();
    expect(r.version).toBe(2);
    expect(r.rows).toBe(4);
    expect(r.rules.paths.map((p) => p.id)).toEqual([2, 1]);
    expect(r.skipped).toEqual([
      { id: 3, reason: 'proto "udp" is not a TCP-based protocol' },
      { id: 4, reason: 'alias_mode 5 is invalid (0 never, 1 RFC 5923 Via alias, 2 always)' },
    ]);
    const m = r.rules.match({ proto: 'tcp', remote: { host: '127.0.0.2', port: 40000 }, local: { host: '127.0.0.1', port: 5060 } });
    expect(m?.profile).toMatchObject({ id: 2, msgReadTimeout: 1, attrs: { maxMsgChunks: 4, foo: 'bar' } });
    expect(r.rules.match({ proto: 'tcp', remote: { host: '127.0.0.3', port: 1 }, local: { host: '127.0.0.1', port: 5060 } })?.id).toBe(1);
  });

  it('reads an OpenSIPS 3.6 (version 1) table with its parallel_read column', async () => {
    const path = makeDb(versionTableSql('sqlite') + tcpMgmCreateSql('sqlite', { version: 1 }) + "INSERT INTO tcp_mgm (remote_addr, parallel_read) VALUES ('127.0.0.2', 2);");
    const src = await openRuleSource({ driver: 'sqlite', path });
    const r = await loadRules(src);
    await src.close();
    expect(r.version).toBe(1);
    expect(r.rules.paths[0]!.profile.parallelRead).toBe(2);
  });

  it('db_table and every *_col rename reach the right column', async () => {
    const renamed = tcpMgmCreateSql('sqlite', { table: 'paths' }).replace(/^ {4}(\w+) /gm, '    c_$1 ');
    const path = makeDb(versionTableSql('sqlite') + renamed + "INSERT INTO paths (c_remote_addr, c_connect_timeout, c_con_lifetime, c_msg_read_timeout, c_send_threshold, c_no_new_conn, c_alias_mode, c_priority, c_attrs) VALUES ('10.1.0.0/16', 11, 12, 13, 14, 1, 2, -3, 'z=1');");
    const src = await openRuleSource({ driver: 'sqlite', path });
    const cols = Object.fromEntries(['id', 'proto', 'remote_addr', 'remote_port', 'local_addr', 'local_port', 'priority', 'attrs', 'connect_timeout', 'con_lifetime', 'msg_read_timeout', 'send_threshold', 'no_new_conn', 'alias_mode', 'keepalive', 'keepcount', 'keepidle', 'keepinterval'].map((c) => [c, `c_${c}`]));
    const r = await loadRules(src, { table: 'paths', columns: cols });
    await src.close();
    expect(r.skipped).toEqual([]);
    expect(r.rules.paths[0]).toMatchObject({ priority: -3, remote: { prefix: 16 }, profile: { connectTimeout: 11, conLifetime: 12, msgReadTimeout: 13, sendThreshold: 14, noNewConn: true, aliasMode: 2, attrs: { z: 1 } } });
  });

  it.each([
    ['no version table', tcpMgmCreateSql('sqlite').split('\n').slice(1).join('\n'), 'ERR_TCPMGM_VERSION', /no row for table "tcp_mgm"/],
    ['version 3', versionTableSql('sqlite') + tcpMgmCreateSql('sqlite').replace("'tcp_mgm','2'", "'tcp_mgm','3'"), 'ERR_TCPMGM_VERSION', /has version 3/],
    ['a version 2 row over a version 1 table is fine, a version 1 row over a version 2 table is not', versionTableSql('sqlite') + tcpMgmCreateSql('sqlite').replace("'tcp_mgm','2'", "'tcp_mgm','1'"), 'ERR_TCPMGM_DB', /parallel_read/],
    ['no table', versionTableSql('sqlite') + "INSERT INTO version VALUES ('tcp_mgm', 2);", 'ERR_TCPMGM_DB', /no such table/],
  ])('%s: the load fails with %s', async (_name, sql, code, msg) => {
    const src = await openRuleSource({ driver: 'sqlite', path: makeDb(sql) });
    const err = (await loadRules(src).catch((e: unknown) => e)) as TcpMgmError;
    await src.close();
    expect(err.code).toBe(code);
    expect(err.message).toMatch(msg);
  });

  it('the table is read in one batch; a BLOB value (which that batch cannot carry) falls back to row by row, same answer', async () => {
    const path = makeDb(versionTableSql('sqlite') + tcpMgmCreateSql('sqlite') + "INSERT INTO tcp_mgm (remote_addr, attrs, keepidle) VALUES ('10.0.0.1', 'a=1', 30), (NULL, NULL, 0);");
    const src = await openRuleSource({ driver: 'sqlite', path });
    const plain = await readTable(src);
    await src.exec("INSERT INTO tcp_mgm (remote_addr, attrs) VALUES ('10.0.0.3', X'623D32');");
    const blob = await readTable(src);
    await src.close();
    expect(plain.rows).toEqual([
      expect.objectContaining({ id: 1, proto: 'any', remote_addr: '10.0.0.1', attrs: 'a=1', keepidle: 30, keepinterval: 75 }),
      expect.objectContaining({ id: 2, remote_addr: null, attrs: null, keepidle: 0 }),
    ]);
    expect(blob.rows.slice(0, 2)).toEqual(plain.rows);
    expect(Buffer.isBuffer(blob.rows[2]!.attrs)).toBe(true);
    const src2 = await openRuleSource({ driver: 'sqlite', path });
    const r = await loadRules(src2);
    await src2.close();
    expect(r.rules.paths.find((p) => p.id === 3)!.profile.attrs).toEqual({ b: 2 });
  });

  it('an empty table loads no rules', async () => {
    const src = await openRuleSource({ driver: 'sqlite', path: makeDb(versionTableSql('sqlite') + tcpMgmCreateSql('sqlite')) });
    const r = await loadRules(src);
    await src.close();
    expect([r.rows, r.rules.size, r.skipped]).toEqual([0, 0, []]);
  });

  it.each([[1, COLUMNS_V1], [2, COLUMNS_V2]] as const)('version %i: each selected column lands under its own name', async (version, cols) => {
    let asked: readonly string[] = [];
    const src: RuleSource = {
      driver: 'sqlite',
      tableVersion: async () => version,
      select: async (_t, c) => {
        asked = c;
        return [c.map((_, i) => i)];
      },
      exec: async () => undefined,
      close: async () => undefined,
    };
    const { rows } = await readTable(src, { columns: { keepidle: 'idle' } });
    expect(asked).toEqual(cols.map((c) => (c === 'keepidle' ? 'idle' : c)));
    expect(rows).toEqual([Object.fromEntries(cols.map((c, i) => [c, i]))]);
    expect(Object.keys(rows[0]!)).toEqual([...cols]);
  });

  it('a missing file is an error unless asked to create it', async () => {
    await expect(openRuleSource({ driver: 'sqlite', path: join(dir, 'none.db') })).rejects.toThrow(/does not exist/);
    const src = await openRuleSource({ driver: 'sqlite', path: join(dir, 'new.db') }, { create: true });
    expect(await src.tableVersion('tcp_mgm')).toBeUndefined();
    await src.close();
  });
});
