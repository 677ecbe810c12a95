// The same table, rows and answers on real PostgreSQL and MariaDB servers (Debian packages),
// created with the package's own create scripts: version 2 and version 1 tables, renamed
// columns, BIGINT columns, bad rows skipped, a missing version row refused.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadRules, openRuleSource, tcpMgmCreateSql, versionTableSql, type DbDriver, type RuleSource } from '../../src/index.js';
import { startMariadb, startPostgres, type DbServer } from './dbservers.js';

const ROWS = `INSERT INTO tcp_mgm (proto, remote_addr, remote_port, priority, msg_read_timeout, attrs) VALUES ('any', NULL, 0, 0, 9, NULL);
INSERT INTO tcp_mgm (proto, remote_addr, remote_port, priority, msg_read_timeout, attrs) VALUES ('tcp', '127.0.0.2', 0, 1, 1, 'max_msg_chunks=4;foo=bar');
INSERT INTO tcp_mgm (proto, remote_addr, remote_port, priority, msg_read_timeout, attrs) VALUES ('udp', '127.0.0.3', 0, 0, 4, NULL);
INSERT INTO tcp_mgm (proto, remote_addr, remote_port, priority, msg_read_timeout, attrs) VALUES ('tls', '2001:db8::/32', 5061, 0, 4, NULL);
`;

for (const [name, start, driver] of [
  ['PostgreSQL', startPostgres, 'postgres'],
  ['MariaDB', startMariadb, 'mysql'],
] as Array<[string, () => Promise<DbServer>, DbDriver]>) {
  describe(name, () => {
    let srv: DbServer;
    let src: RuleSource;
    beforeAll(async () => {
      srv = await start();
      src = await openRuleSource(srv.target, { url: srv.url });
      await src.exec(versionTableSql(driver) + tcpMgmCreateSql(driver) + ROWS);
    }, 180_000);
    afterAll(async () => {
      await src?.close();
      await srv?.stop();
    });

    it('loads the version 2 table: rows, order, skipped row, answers', async () => {
      const r = await loadRules(src);
      expect(r.version).toBe(2);
      expect(r.rows).toBe(4);
      expect(r.skipped).toEqual([{ id: 3, reason: 'proto "udp" is not a TCP-based protocol' }]);
      expect(r.rules.paths.map((p) => p.id)).toEqual([4, 1, 2]);
      const q = (proto: string, host: string, port: number): number | undefined => r.rules.match({ proto, remote: { host, port }, local: { host: host.includes(':') ? '::1' : '127.0.0.1', port: 5060 } })?.id;
      expect(q('tcp', '127.0.0.2', 1000)).toBe(1); // priority 1 evaluates after the priority 0 catch-all
      expect(q('tls', '2001:db8::7', 5061)).toBe(4);
      expect(q('tls', '2001:db8::7', 5062)).toBe(1);
      expect(r.rules.paths.find((p) => p.id === 2)!.profile.attrs).toEqual({ maxMsgChunks: 4, foo: 'bar' });
    });

    it('the defaults the create script gives a bare row are the documented ones', async () => {
      const r = await loadRules(src);
      expect(r.rules.paths.find((p) => p.id === 1)!.profile).toEqual({
        id: 1, connectTimeout: 100, conLifetime: 120, msgReadTimeout: 9, sendThreshold: 0, noNewConn: false, aliasMode: 0, parallelRead: 0,
        keepalive: true, keepcount: 9, keepidle: 7200, keepinterval: 75, attrs: {},
      });
    });

    it('a version 1 (OpenSIPS 3.6) table under another name, with renamed and BIGINT columns', async () => {
      const v1 = tcpMgmCreateSql(driver, { table: 'paths36', version: 1 }).replace(/^ {4}keepidle INT(?:EGER| UNSIGNED)/m, '    idle_s BIGINT').replace(/^ {4}priority /m, '    prio ');
      await src.exec(v1 + "INSERT INTO paths36 (proto, remote_addr, parallel_read, idle_s, prio) VALUES ('tcp', '10.0.0.0/8', 2, 30, -2);");
      const r = await loadRules(src, { table: 'paths36', columns: { keepidle: 'idle_s', priority: 'prio' } });
      expect(r.version).toBe(1);
      expect(r.skipped).toEqual([]);
      expect(r.rules.paths[0]).toMatchObject({ priority: -2, profile: { parallelRead: 2, keepidle: 30 } });
    });

    it('an empty table loads no rules; a BIGINT value past the column range is a skipped row naming the value', async () => {
      await src.exec(tcpMgmCreateSql(driver, { table: 'empty' }));
      expect(await loadRules(src, { table: 'empty' })).toMatchObject({ rows: 0, skipped: [] });
      const big = tcpMgmCreateSql(driver, { table: 'big' }).replace(/^ {4}keepidle INT(?:EGER| UNSIGNED)/m, '    keepidle BIGINT');
      await src.exec(big + "INSERT INTO big (remote_addr, keepidle) VALUES ('10.0.0.1', 5000000000);\nINSERT INTO big (remote_addr, keepidle) VALUES ('10.0.0.2', 60);");
      const r = await loadRules(src, { table: 'big' });
      expect(r.skipped).toEqual([{ id: 1, reason: 'column keepidle: 5000000000 is out of range 0..2147483647' }]);
      expect(r.rules.paths.map((p) => [p.id, p.profile.keepidle])).toEqual([[2, 60]]);
    });

    it('a table without a version row is refused (nothing loaded)', async () => {
      await src.exec(tcpMgmCreateSql(driver, { table: 'nover' }).split('\n').slice(1).join('\n'));
      await expect(loadRules(src, { table: 'nover' })).rejects.toMatchObject({ code: 'ERR_TCPMGM_VERSION' });
    });

    it('a wrong column rename fails the load with the database error', async () => {
      await expect(loadRules(src, { columns: { attrs: 'no_such_col' } })).rejects.toMatchObject({ code: 'ERR_TCPMGM_DB', message: expect.stringMatching(/no_such_col/) });
    });
  });
}
