import { afterEach, describe, expect, it } from 'vitest';
import { collect, lpEngine, stopAll, until } from './helpers.js';
import { encode } from './lp-proto.js';

afterEach(stopAll);

describe('connection reuse and aliases', () => {
  it('reuses by remote ip:port, by id, and by alias port only after addAlias', async () => {
    const a = lpEngine();
    const b = lpEngine();
    const la = await a.listen('lp:127.0.0.1:0');
    const lb = await b.listen('lp:127.0.0.1:0');
    const gotA = collect(a);
    const gotB = collect(b);
    const c1 = await b.send('lp', la.address, encode('1'));
    const c2 = await b.send('lp', la.address, encode('2'));
    expect(c2!.id).toBe(c1!.id);
    await until(() => gotA.messages.length === 2);
    const acc = a.connections()[0]!;
    expect(acc.aliases).toEqual([acc.remote.port]);
    // a -> b's listener port: no alias yet, so a new connection is opened
    const viaNew = await a.send('lp', lb.address, encode('new'));
    expect(viaNew!.id).not.toBe(acc.id);
    await until(() => gotB.messages.length === 1);
    a.close(viaNew!.id);
    await until(() => a.connections().length === 1);
    // with the alias, a reuses the accepted connection for b's listener port
    expect(a.addAlias(acc.id, lb.address.port)).toBe(true);
    expect(a.connection(acc.id)!.aliases).toEqual([acc.remote.port, lb.address.port]);
    const viaAlias = await a.send('lp', lb.address, encode('alias'));
    expect(viaAlias!.id).toBe(acc.id);
    // by id, regardless of address
    const byId = await a.send('lp', { host: '127.0.0.1', port: 1 }, encode('id'), { connectionId: acc.id });
    expect(byId!.id).toBe(acc.id);
    await until(() => gotB.messages.length === 3);
    expect(gotB.messages.slice(1).map((m) => (m.message as Buffer).toString())).toEqual(['alias', 'id']);
    expect(gotB.messages[1]!.conn.id).toBe(c1!.id);
  });

  it('reuse is keyed by the local socket too: a send from another listener opens its own connection', async () => {
    const a = lpEngine();
    const b = lpEngine();
    const la1 = await a.listen('lp:127.0.0.1:0');
    const la2 = await a.listen('lp:127.0.0.2:0');
    const lb = await b.listen('lp:127.0.0.1:0');
    const gotB = collect(b);
    const first = await a.send('lp', lb.address, encode('1'), { listenerId: la1.id });
    const again = await a.send('lp', lb.address, encode('2'), { listenerId: la1.id });
    const other = await a.send('lp', lb.address, encode('3'), { listenerId: la2.id });
    const any = await a.send('lp', lb.address, encode('4'));
    expect(again!.id).toBe(first!.id);
    expect(other!.id).not.toBe(first!.id);
    expect([first!.id, other!.id]).toContain(any!.id);
    expect(a.connections()).toHaveLength(2);
    await until(() => gotB.messages.length === 4);
    // b sees each connection coming from its listener's address
    const from = (body: string) => gotB.messages.find((m) => (m.message as Buffer).toString() === body)!.conn.remote.host;
    expect(from('1')).toBe('127.0.0.1');
    expect(from('2')).toBe('127.0.0.1');
    expect(from('3')).toBe('127.0.0.2');
  });

  it('refuses a 5th alias and an alias owned by another connection (port hijack)', async () => {
    const a = lpEngine();
    const b = lpEngine();
    const la = await a.listen('lp:127.0.0.1:0');
    await b.send('lp', la.address, encode('1'));
    const other = lpEngine();
    await other.send('lp', la.address, encode('2'));
    await until(() => a.connections().length === 2);
    const [x, y] = a.connections();
    expect(a.addAlias(x!.id, 40001)).toBe(true);
    expect(a.addAlias(x!.id, 40002)).toBe(true);
    expect(a.addAlias(x!.id, 40002)).toBe(true);
    expect(a.addAlias(y!.id, 40001)).toBe(false);
    expect(a.addAlias(y!.id, x!.remote.port)).toBe(false);
    expect(a.addAlias(x!.id, 40003)).toBe(true);
    expect(a.addAlias(x!.id, 40004)).toBe(false);
    expect(a.connection(x!.id)!.aliases).toHaveLength(4);
    expect(a.addAlias(12345678, 1)).toBe(false);
  });

  it('fails a send by unknown or closed id with ERR_CONN_NOT_FOUND', async () => {
    const a = lpEngine();
    const la = await a.listen('lp:127.0.0.1:0');
    const b = lpEngine();
    const c = await b.send('lp', la.address, encode('1'));
    b.close(c!.id);
    await expect(b.send('lp', la.address, encode('x'), { connectionId: c!.id })).rejects.toMatchObject({ code: 'ERR_CONN_NOT_FOUND' });
  });

  it('keeps order of sends issued while connecting', async () => {
    const a = lpEngine();
    const la = await a.listen('lp:127.0.0.1:0');
    const got = collect(a);
    const b = lpEngine();
    const ps = Array.from({ length: 20 }, (_, i) => b.send('lp', la.address, encode(`c${i}`)));
    const conns = await Promise.all(ps);
    expect(new Set(conns.map((c) => c!.id)).size).toBe(1);
    await until(() => got.messages.length === 20);
    expect(got.messages.map((m) => (m.message as Buffer).toString())).toEqual(Array.from({ length: 20 }, (_, i) => `c${i}`));
  });

  it('no_new_conn: the send option applies without a matching profile; a matched profile decides', async () => {
    const a = lpEngine();
    const la = await a.listen('lp:127.0.0.1:0');
    const got = collect(a);
    const b = lpEngine();
    await expect(b.send('lp', la.address, encode('x'), { noNewConn: true })).rejects.toMatchObject({ code: 'ERR_CONN_NO_NEW_CONN' });
    b.setProfileResolver(() => ({ profile: { ...b.defaultProfile, id: 3, noNewConn: false }, matched: true }));
    await expect(b.send('lp', la.address, encode('x'), { noNewConn: true })).resolves.toBeDefined();
    const c = lpEngine();
    c.setProfileResolver(() => ({ profile: { ...c.defaultProfile, id: 4, noNewConn: true }, matched: true }));
    await expect(c.send('lp', la.address, encode('x'))).rejects.toMatchObject({ code: 'ERR_CONN_NO_NEW_CONN' });
    // an existing connection is still used
    await b.send('lp', la.address, encode('y'), { noNewConn: true });
    await until(() => got.messages.length === 2);
    expect(got.messages.map((m) => (m.message as Buffer).toString())).toEqual(['x', 'y']);
  });
});
