// tcp_mgm as x-server runs it, on real sockets: rules from an SQLite file pick each accepted and
// outbound connection's profile, and each profile attribute changes what the connection does.
import { connect, createServer, type Server, type Socket } from 'node:net';
import { startProcess } from '@x/test-peers';
import { MiError, toTcpListEntry, type ConnectionInfo } from '@x/core-conn';
import { waitForEvent } from '@x/core-conn/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { kernelKeepalive } from '../src/index.js';
import { clientFrom, COLS, RulesFile, ssSockets, ssTimerMs, startWithRules, type Started } from './helpers.js';

const D = { connect_timeout: 100, con_lifetime: 120, msg_read_timeout: 4, send_threshold: 0, no_new_conn: 0, alias_mode: 0, keepalive: 1, keepcount: 9, keepidle: 7200, keepinterval: 75 };
type RuleRow = Partial<typeof D> & { proto?: string; remote_addr?: string | null; remote_port?: number; local_addr?: string | null; local_port?: number; priority?: number; attrs?: string | null };
const q = (v: string | number | null | undefined): string => (v === null || v === undefined ? 'NULL' : typeof v === 'number' ? String(v) : `'${v}'`);
function insert(r: RuleRow, id?: number): string {
  const v = { proto: 'tcp', remote_addr: null, remote_port: 0, local_addr: null, local_port: 0, priority: 0, attrs: null, ...D, ...r };
  const cols = COLS.split(', ');
  return `INSERT INTO tcp_mgm (${id !== undefined ? 'id, ' : ''}${COLS}) VALUES (${id !== undefined ? `${id}, ` : ''}${cols.map((c) => q((v as Record<string, string | number | null>)[c])).join(', ')});\n`;
}

let cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  const list = cleanup.reverse();
  cleanup = [];
  for (const c of list) await Promise.race([c(), new Promise((r) => setTimeout(r, 5000))]);
});

async function setup(rows: RuleRow[], sockets = ['tcp:127.0.0.1:0'], params: Record<string, unknown> = {}): Promise<Started & { file: RulesFile; port: number }> {
  const file = new RulesFile(rows.map((r) => insert(r)).join(''));
  const s = await startWithRules(file.url, sockets, params);
  cleanup.push(() => file.remove(), () => s.stop());
  return { ...s, file, port: s.engine.listeners()[0]!.address.port };
}

async function accepted(s: Started, from: string, port: number, host = '127.0.0.1'): Promise<{ sock: Socket; conn: ConnectionInfo }> {
  const acc = waitForEvent(s.engine, 'accept', (c) => c.remote.host === from);
  acc.catch(() => undefined);
  const sock = await clientFrom(from, host, port);
  cleanup.push(() => void sock.destroy());
  sock.on('error', () => undefined);
  return { sock, conn: await acc };
}

describe('rules pick the profile at accept', () => {
  it('127.0.0.2 and 127.0.0.3 get different profiles; msg_read_timeout closes one and not the other', async () => {
    const s = await setup([{ remote_addr: '127.0.0.2', msg_read_timeout: 1 }, { remote_addr: '127.0.0.3', msg_read_timeout: 60 }]);
    const a = await accepted(s, '127.0.0.2', s.port);
    const b = await accepted(s, '127.0.0.3', s.port);
    expect(a.conn.profile).toMatchObject({ id: 1, msgReadTimeout: 1 });
    expect(b.conn.profile).toMatchObject({ id: 2, msgReadTimeout: 60 });
    expect(toTcpListEntry(a.conn)).toContainEqual(['Profile', 1]);
    const closed = waitForEvent(s.engine, 'close', (e) => e.conn.id === a.conn.id, 15_000);
    a.sock.write('partial message without its end');
    b.sock.write('partial message without its end');
    expect((await closed).reason).toBe('Timeout waiting for a complete message');
    expect(s.engine.connection(b.conn.id)?.state).toBe(0);
  });

  it('con_lifetime: an idle connection of a 1 s rule is closed, the default one is not', async () => {
    const s = await setup([{ remote_addr: '127.0.0.2', con_lifetime: 1 }]);
    const a = await accepted(s, '127.0.0.2', s.port);
    const b = await accepted(s, '127.0.0.3', s.port);
    expect(b.conn.profile.id).toBe(0);
    expect(toTcpListEntry(b.conn).some(([k]) => k === 'Profile')).toBe(false);
    expect((await waitForEvent(s.engine, 'close', (e) => e.conn.id === a.conn.id, 15_000)).reason).toBe('Timeout on no traffic');
    expect(s.engine.connection(b.conn.id)).toBeDefined();
  });

  it('attrs max_msg_chunks=2: a message in 3 reads is too many chunks for the rule, fine for the default', async () => {
    const s = await setup([{ remote_addr: '127.0.0.2', attrs: 'max_msg_chunks=2;team=7' }]);
    const a = await accepted(s, '127.0.0.2', s.port);
    const b = await accepted(s, '127.0.0.3', s.port);
    expect(a.conn.profile.attrs).toEqual({ maxMsgChunks: 2, team: 7 });
    const gotB = waitForEvent(s.engine, 'message', (m) => m.conn.id === b.conn.id);
    const closedA = waitForEvent(s.engine, 'close', (e) => e.conn.id === a.conn.id);
    for (const part of ['one ', 'two ', 'three ', 'four\n']) {
      for (const c of [a, b]) c.sock.write(part);
      // one read per part: wait until the engine saw it before writing the next
      await new Promise((r) => setTimeout(r, 60));
    }
    expect((await closedA).reason).toBe('Too many read chunks');
    expect((await gotB).message).toBe('one two three four');
  });

  it('local_addr by socket tag and by address: the rule follows the listener it names', async () => {
    const s = await setup([{ proto: 'tcp', local_addr: 'inner', msg_read_timeout: 7 }, { proto: 'any', local_addr: '127.0.0.1', local_port: 0, msg_read_timeout: 9 }], ['tcp:127.0.0.1:0', 'tcp:127.0.0.4:0 tag inner']);
    const [outer, inner] = s.engine.listeners();
    expect((await accepted(s, '127.0.0.2', inner!.address.port, '127.0.0.4')).conn.profile).toMatchObject({ id: 1, msgReadTimeout: 7 });
    expect((await accepted(s, '127.0.0.2', outer!.address.port)).conn.profile).toMatchObject({ id: 2, msgReadTimeout: 9 });
  });
});

describe('keepalive and keepidle, as the kernel shows them (ss -tno)', () => {
  it('ss timer text in ms', () => {
    expect([ssTimerMs('119min'), ssTimerMs('1min5sec'), ssTimerMs('36sec'), ssTimerMs('9.500ms'), ssTimerMs('200ms')]).toEqual([7_140_000, 65_000, 36_000, 9500, 200]);
    expect(() => ssTimerMs('soon')).toThrow();
  });

  it('accept: keepidle 37 s, keepalive off, off but forced on by keepidle 53 s, and the default profile (OS idle time)', async () => {
    const off = { keepalive: 0, keepcount: 0, keepidle: 0, keepinterval: 0 };
    const s = await setup([
      { remote_addr: '127.0.0.2', keepalive: 1, keepidle: 37 },
      { remote_addr: '127.0.0.3', ...off },
      // OpenSIPS: any non-zero keep* value turns SO_KEEPALIVE on, whatever the keepalive column says
      { remote_addr: '127.0.0.5', ...off, keepidle: 53 },
    ]);
    const conns = new Map<string, number>();
    for (const from of ['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5']) conns.set(from, (await accepted(s, from, s.port)).conn.profile.id);
    expect([...conns.values()]).toEqual([1, 2, 0, 3]);
    // the server's side of each connection: local port = the listener's
    const byPeer = new Map((await ssSockets(s.port)).filter((x) => x.localPort === s.port).map((x) => [x.peer, x.timer]));
    expect(byPeer.size).toBe(4);
    const t2 = byPeer.get('127.0.0.2');
    expect(t2?.name).toBe('keepalive');
    expect(t2!.ms).toBeLessThanOrEqual(37_000);
    expect(t2!.ms).toBeGreaterThan(20_000); // counting down from 37 s, not the OS's 7200 s
    expect(byPeer.get('127.0.0.3')).toBeUndefined(); // no SO_KEEPALIVE: no timer at all on an idle socket
    const t5 = byPeer.get('127.0.0.5');
    expect(t5?.name).toBe('keepalive');
    expect(t5!.ms).toBeLessThanOrEqual(53_000);
    expect(t5!.ms).toBeGreaterThan(37_000);
    const t4 = byPeer.get('127.0.0.4'); // default profile: keepalive on, idle time the kernel's (tcp_keepalive_time)
    expect(t4?.name).toBe('keepalive');
    expect(t4!.ms).toBeGreaterThan(60_000);
  });

  it('send: a new outbound connection gets the keepidle of the rule matching its destination', async () => {
    const port = await sinkPort();
    const s = await setup([{ remote_addr: '127.0.0.1', remote_port: port, keepidle: 41 }]);
    const conn = await s.engine.send('tcp', { host: '127.0.0.1', port }, Buffer.from('x\n'));
    expect(conn?.profile).toMatchObject({ id: 1, keepidle: 41 });
    await s.engine.drained(conn!.id);
    // our side: remote port = the sink's; wait until the sink acknowledged the line (no retransmit timer in the way)
    const mine = await waitForSs(port, (x) => x.peerPort === port && x.timer?.name === 'keepalive');
    expect(mine.timer!.ms).toBeLessThanOrEqual(41_000);
    expect(mine.timer!.ms).toBeGreaterThan(20_000);
  });
});

/** a TCP server on 127.0.0.1 that reads and drops everything (reading: so it sees the FIN when the engine closes) */
async function sinkPort(): Promise<number> {
  const sink: Server = createServer((c) => {
    c.on('error', () => undefined);
    c.resume();
  });
  await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r));
  cleanup.push(() => new Promise<void>((r) => sink.close(() => r())));
  return (sink.address() as { port: number }).port;
}

/** polls ss (an external observer: there is no event for "the kernel re-armed a timer") a bounded number of times */
async function waitForSs(port: number, pred: (x: Awaited<ReturnType<typeof ssSockets>>[number]) => boolean): Promise<Awaited<ReturnType<typeof ssSockets>>[number]> {
  let last: unknown;
  for (let i = 0; i < 50; i++) {
    const list = await ssSockets(port);
    const hit = list.find(pred);
    if (hit) return hit;
    last = list;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no such socket in ss: ${JSON.stringify(last)}`);
}

describe('IPv6', () => {
  it('a ::1 connection gets the IPv6 rule (the /64 before any-remote), a 127.0.0.2 one the IPv4 rule', async () => {
    const s = await setup([{ remote_addr: null, msg_read_timeout: 3 }, { remote_addr: '::/64', msg_read_timeout: 6 }, { remote_addr: '127.0.0.0/8', msg_read_timeout: 8 }], ['tcp:[::1]:0', 'tcp:127.0.0.1:0']);
    const [v6, v4] = s.engine.listeners();
    const acc = waitForEvent(s.engine, 'accept', (c) => c.remote.host === '::1');
    const sock = await clientFrom('::1', '::1', v6!.address.port);
    cleanup.push(() => void sock.destroy());
    expect((await acc).profile).toMatchObject({ id: 2, msgReadTimeout: 6 });
    expect((await accepted(s, '127.0.0.2', v4!.address.port)).conn.profile).toMatchObject({ id: 3, msgReadTimeout: 8 });
  });
});

describe('rules on send', () => {
  it('no_new_conn: a send to a matching destination never opens a connection; others do', async () => {
    const port = await sinkPort();
    const s = await setup([{ remote_addr: '127.0.0.1', remote_port: port, no_new_conn: 1 }]);
    await expect(s.engine.send('tcp', { host: '127.0.0.1', port }, Buffer.from('x\n'))).rejects.toMatchObject({ code: 'ERR_CONN_NO_NEW_CONN' });
    s.file.exec(`UPDATE tcp_mgm SET no_new_conn = 0;`);
    expect(await s.mi('tcp_reload')).toBe('OK');
    const c = await s.engine.send('tcp', { host: '127.0.0.1', port }, Buffer.from('x\n'));
    expect(c?.profile).toMatchObject({ id: 1, noNewConn: false });
  });

  it('connect_timeout: a connect that the peer never completes fails after the rule\'s time, not the default 100 ms', async () => {
    // a black hole on loopback: a socket that listens with backlog 0 and never accepts (perl is
    // in every Debian: perl-base is essential); once its accept queue is full, SYNs are dropped
    const hole = await startProcess('perl', ['-MSocket', '-e', PERL_HOLE], { timeoutSec: 120, readyLog: /^\d+$/m, settleMs: 0 });
    cleanup.push(() => hole.stop().then(() => undefined));
    const port = Number(/^(\d+)$/m.exec(hole.log())![1]);
    const fillers: Socket[] = [];
    cleanup.push(() => fillers.forEach((f) => f.destroy()));
    // fill the queue: connects that complete (the kernel's handshake) until one does not
    for (let i = 0; i < 8; i++) {
      const f = connect({ host: '127.0.0.1', port });
      f.on('error', () => undefined);
      fillers.push(f);
      const ok = await new Promise<boolean>((resolve) => {
        f.once('connect', () => resolve(true));
        setTimeout(() => resolve(false), 500);
      });
      if (!ok) break;
    }
    const s = await setup([{ remote_addr: '127.0.0.1', remote_port: port, connect_timeout: 1500 }]);
    const t0 = Date.now();
    const err = (await s.engine.send('tcp', { host: '127.0.0.1', port }, Buffer.from('x\n')).catch((e: unknown) => e)) as { code: string };
    const took = Date.now() - t0;
    expect(err.code).toBe('ERR_CONN_CONNECT_TIMEOUT');
    expect(took).toBeGreaterThanOrEqual(1400);
    // the default profile's 100 ms, for comparison, on the same black hole
    s.file.exec('DELETE FROM tcp_mgm;');
    await s.mi('tcp_reload');
    const t1 = Date.now();
    await expect(s.engine.send('tcp', { host: '127.0.0.1', port }, Buffer.from('x\n'))).rejects.toMatchObject({ code: 'ERR_CONN_CONNECT_TIMEOUT' });
    expect(Date.now() - t1).toBeLessThan(1400);
  });

  it('send_threshold: sends on a rule with a 1 µs threshold count as slow sends and warn; the default profile (0 = off) never does', async () => {
    const s = await setup([{ remote_addr: '127.0.0.2', send_threshold: 1 }]);
    const a = await accepted(s, '127.0.0.2', s.port);
    const b = await accepted(s, '127.0.0.3', s.port);
    const slow = s.stats.get('tcp:slow_sends')!;
    for (let i = 0; i < 20; i++) s.engine.write(b.conn.id, Buffer.from(`reply ${i}\n`));
    expect(slow.value()).toBe(0);
    for (let i = 0; i < 20; i++) s.engine.write(a.conn.id, Buffer.from(`reply ${i}\n`));
    expect(slow.value()).toBeGreaterThan(0);
    expect(s.log.lines.some((l) => l.level === 'warn' && l.msg === 'slow send')).toBe(true);
  });
});

describe('MI', () => {
  it('tcp_mgm:list in match order, tcp_mgm:match with and without a local address', async () => {
    const s = await setup([{ proto: 'any', remote_addr: '10.0.0.0/8' }, { proto: 'tcp', remote_addr: '10.1.0.0/16', priority: 5 }, { proto: 'tls', remote_addr: '::1', remote_port: 5061 }]);
    const list = (await s.mi('tcp_mgm:list')) as { Version: number; Rules: Array<{ id: number }> };
    expect(list.Version).toBe(2);
    expect(list.Rules.map((r) => r.id)).toEqual([3, 1, 2]);
    expect(list.Rules[0]).toMatchObject({ id: 3, proto: 'tls', remote_addr: '::1', remote_port: 5061, local_addr: 'any', keepidle: 7200 });
    const m = (await s.mi('tcp_mgm:match', { proto: 'tcp', remote_ip: '10.1.2.3', remote_port: '5060' })) as { Matched: boolean; Rule: { id: number }; Query: { local: string }; Profile: { id: number } };
    expect(m).toMatchObject({ Matched: true, Rule: { id: 1 }, Profile: { id: 1 }, Query: { local: `127.0.0.1:${s.port}` } });
    expect(await s.mi('tcp_mgm:match', { proto: 'tls', remote_ip: '[::1]', remote_port: 5061, local_ip: '::1', local_port: 5061 })).toMatchObject({ Matched: true, Rule: { id: 3 } });
    expect(await s.mi('tcp_mgm:match', { proto: 'tcp', remote_ip: '192.0.2.1', remote_port: 1 })).toMatchObject({ Matched: false, Rule: null, Profile: { id: 0 } });
    await expect(s.mi('tcp_mgm:match', { proto: 'tcp', remote_ip: 'nope', remote_port: 1 })).rejects.toMatchObject({ code: 400, message: expect.stringContaining('remote_ip') });
    await expect(s.mi('tcp_mgm:match', { proto: 'tcp', remote_ip: '10.0.0.1', remote_port: 70000 })).rejects.toBeInstanceOf(MiError);
  });

  it('tcp_reload swaps the rules: the next connection gets the new profile, the existing one keeps its own', async () => {
    const s = await setup([{ remote_addr: '127.0.0.2', msg_read_timeout: 5 }]);
    const first = await accepted(s, '127.0.0.2', s.port);
    s.file.exec('UPDATE tcp_mgm SET msg_read_timeout = 11;' + insert({ remote_addr: '127.0.0.3', msg_read_timeout: 12 }));
    expect(await s.mi('tcp_mgm:reload')).toBe('OK');
    const second = await accepted(s, '127.0.0.2', s.port);
    expect(second.conn.profile).toMatchObject({ id: 1, msgReadTimeout: 11 });
    expect(s.engine.connection(first.conn.id)!.profile).toMatchObject({ id: 1, msgReadTimeout: 5 });
    expect((await accepted(s, '127.0.0.3', s.port)).conn.profile.id).toBe(2);
    expect(s.stats.get('tcp_mgm:reloads')!.value()).toBe(1);
  });

  it('a reload that fails answers 500 "Failed to reload" and keeps the rules in force', async () => {
    const s = await setup([{ remote_addr: '127.0.0.2' }]);
    s.file.exec("UPDATE version SET table_version = 7 WHERE table_name = 'tcp_mgm';");
    const err = (await s.mi('tcp_reload').catch((e: unknown) => e)) as MiError;
    expect(err).toBeInstanceOf(MiError);
    expect(err).toMatchObject({ code: 500, message: 'Failed to reload', data: expect.stringContaining('has version 7') });
    expect(s.api.rules.size).toBe(1);
    expect((await accepted(s, '127.0.0.2', s.port)).conn.profile.id).toBe(1);
    expect(s.stats.get('tcp_mgm:reload_failures')!.value()).toBe(1);
  });
});

describe('load', () => {
  it('bad rows are logged with id and reason; what Node cannot apply is logged once per load', async () => {
    const s = await setup([{ proto: 'udp' }, { remote_addr: '127.0.0.2', attrs: 'parallel_read=1', keepcount: 3, keepinterval: 7 }, { local_addr: '127.0.0.99' }, { remote_addr: '127.0.0.5' }]);
    const errors = s.log.lines.filter((l) => l.level === 'error').map((l) => l.msg);
    expect(errors).toEqual([
      'tcp_mgm row 1 skipped: proto "udp" is not a TCP-based protocol',
      'tcp_mgm row 3 skipped: local_addr "127.0.0.99" matches no tcp listener (a listener address or, with local_port 0, a socket tag)',
    ]);
    const warns = s.log.lines.filter((l) => l.level === 'warn').map((l) => l.msg);
    // rule 4 has the schema's keepcount 9 / keepinterval 75: reported only where the kernel's differ
    const k = kernelKeepalive();
    const list = (v: number | undefined, d: number) => (v === d ? '2' : '2, 4');
    expect(warns).toEqual([
      'parallel_read is not applied (one Node event loop reads every connection; there are no TCP reader processes to re-balance): rules 2',
      `keepcount is not applied (Node sets SO_KEEPALIVE and TCP_KEEPIDLE only; TCP_KEEPCNT stays the kernel's${k.keepcount ? ` tcp_keepalive_probes = ${k.keepcount}` : ''}): rules ${list(k.keepcount, 9)}`,
      `keepinterval is not applied (Node sets SO_KEEPALIVE and TCP_KEEPIDLE only; TCP_KEEPINTVL stays the kernel's${k.keepinterval ? ` tcp_keepalive_intvl = ${k.keepinterval}` : ''}): rules ${list(k.keepinterval, 75)}`,
    ]);
    const a = await accepted(s, '127.0.0.2', s.port);
    expect(a.conn.profile.parallelRead).toBe(1);
    expect(s.log.lines.filter((l) => l.level === 'warn')).toHaveLength(3); // not per connection
  });

  it('db_url is mandatory; an SQLite file that does not exist is created with an empty version-2 table', async () => {
    await expect(startWithRules(undefined as never, [])).rejects.toThrow(/"db_url" is mandatory/);
    const file = new RulesFile();
    cleanup.push(() => file.remove());
    const s = await startWithRules(`sqlite://${file.dir}/fresh.db`, ['tcp:127.0.0.1:0']);
    cleanup.push(() => s.stop());
    expect(s.api.rules.size).toBe(0);
    expect(s.log.lines.some((l) => /created SQLite database .*fresh\.db with an empty tcp_mgm table/.test(l.msg))).toBe(true);
    expect(await s.mi('tcp_mgm:list')).toMatchObject({ Version: 2, Rules: [] });
  });

  it('a start against an unreachable database fails with the reason', async () => {
    await expect(startWithRules('postgres://u:secret@127.0.0.1:1/db', [])).rejects.toThrow(/cannot load the rules from postgres:\/\/u:\*\*\*@127\.0\.0\.1:1\/db/);
  });
});

const PERL_HOLE = 'socket(S, PF_INET, SOCK_STREAM, 0) or die; bind(S, sockaddr_in(0, inet_aton("127.0.0.1"))) or die; listen(S, 0) or die; my ($p) = sockaddr_in(getsockname(S)); $| = 1; print "$p\\n"; sleep 120;';
