import { createEngine, createStatsRegistry, MiError, type MiCommand } from '@x/core-conn';
import { afterEach, describe, expect, it } from 'vitest';
import { coreCommands, ctime } from './core-commands.js';
import { handleRpc, matchRecipe } from './jsonrpc.js';
import { MiRegistry } from './registry.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- replies are inspected field by field
type Rpc = any;

const cmd = (name: string, recipes: string[][], extra: Partial<MiCommand> = {}): MiCommand => ({ name, recipes, handler: (p) => ({ got: p }), ...extra });

async function call(reg: MiRegistry, req: unknown): Promise<{ status: number; json: Rpc }> {
  const r = await handleRpc(reg, typeof req === 'string' ? req : JSON.stringify(req));
  return { status: r.status, json: r.body === '' ? undefined : JSON.parse(r.body) };
}

describe('MI lookup (module:cmd, local names, aliases, ambiguity)', () => {
  const reg = new MiRegistry();
  reg.add(cmd('tcp:list', [[]], { aliases: ['list_tcp_conns'] }));
  reg.add(cmd('tls_mgm:list', [[]], { aliases: ['tls_list'] }));
  reg.add(cmd('tcp:trace', [[]], { aliases: ['tcp_trace'] }));
  reg.add(cmd('bins:trace', [[]], { aliases: ['tls_trace'] }));
  reg.add(cmd('tls:trace', [[]], { aliases: ['tls_trace'] }));
  reg.add(cmd('core:version', [[]], { aliases: ['version'] }));

  it.each([
    ['tcp:list', 'tcp:list'],
    ['list_tcp_conns', 'tcp:list'],
    ['version', 'core:version'],
    ['tls_list', 'tls_mgm:list'],
    ['tcp_trace', 'tcp:trace'],
  ])('%s -> %s', (m, want) => {
    const r = reg.lookup(m);
    expect(r.ok && r.cmd.name).toBe(want);
  });
  it('a local name shared by two modules is ambiguous', async () => {
    expect(await call(reg, { jsonrpc: '2.0', method: 'list', id: 1 })).toEqual({
      status: 200, json: { jsonrpc: '2.0', error: { code: -32001, message: 'Method ambiguous', data: 'supported names: tcp:list, tls_mgm:list' }, id: 1 },
    });
  });
  it('an alias mapping to two commands is ambiguous', () => {
    expect(reg.lookup('tls_trace')).toEqual({ ok: false, code: -32001, message: 'Method ambiguous', data: 'supported names: bins:trace, tls:trace' });
  });
  it('unknown -> -32601', async () => {
    expect((await call(reg, { jsonrpc: '2.0', method: 'nope', id: 'a' })).json).toEqual({ jsonrpc: '2.0', error: { code: -32601, message: 'Method not found' }, id: 'a' });
    expect(reg.lookup('xx:list').ok).toBe(false);
  });
});

describe('recipe matching', () => {
  const two = cmd('m:two', [['a'], ['b'], ['a', 'b']]);
  it.each([
    [undefined, { ok: false, data: 'Too few or too many parameters' }],
    [[], { ok: false, data: 'Too few or too many parameters' }],
    [['x'], { ok: false, data: 'Ambiguous call, use named parameters instead' }],
    [['x', 'y'], { ok: true, params: { a: 'x', b: 'y' } }],
    [['x', 'y', 'z'], { ok: false, data: 'Too few or too many parameters' }],
    [{ b: 1 }, { ok: true, params: { b: 1 } }],
    [{ c: 1 }, { ok: false, data: 'Named parameters do not match' }],
    [{ a: 1, c: 2 }, { ok: false, data: 'Named parameters do not match' }],
    [{ a: 1, b: 2, c: 3 }, { ok: false, data: 'Too few or too many parameters' }],
  ])('%j -> %j', (params, want) => {
    expect(matchRecipe(two, params)).toEqual(want);
  });
  it('no params needs a zero recipe; named-only rejects arrays', () => {
    expect(matchRecipe(cmd('m:z', [[], ['a']]), {})).toEqual({ ok: true, params: {} });
    expect(matchRecipe(cmd('m:n', [['a']], { namedOnly: true }), ['x'])).toEqual({ ok: false, data: 'Command only supports named parameters' });
  });
});

describe('JSON-RPC envelope', () => {
  const reg = new MiRegistry();
  reg.add(cmd('t:echo', [[], ['a']]));
  reg.add(cmd('t:none', [[]], { handler: () => undefined }));
  reg.add(cmd('t:null', [[]], { handler: () => null }));
  reg.add(cmd('t:fail', [[]], { handler: () => { throw new MiError(404, 'Statistics Not Found'); } }));
  reg.add(cmd('t:boom', [[]], { handler: () => { throw new Error('kaput'); } }));
  reg.add(cmd('t:slow', [[]], { handler: async () => { await new Promise((r) => setTimeout(r, 20)); return 'OK'; } }));

  it.each([
    ['not json', '{"jsonrpc":', { code: -32700, message: 'Parse error' }, null],
    ['array body', '[]', { code: -32600, message: 'Invalid Request' }, null],
    ['wrong version', { jsonrpc: '1.0', method: 't:echo', id: 3 }, { code: -32600, message: 'Invalid Request' }, 3],
    ['missing method', { jsonrpc: '2.0', id: 4 }, { code: -32600, message: 'Invalid Request' }, 4],
    ['method not a string', { jsonrpc: '2.0', method: 5, id: 4 }, { code: -32600, message: 'Invalid Request' }, 4],
    ['bad id type', { jsonrpc: '2.0', method: 't:echo', id: { a: 1 } }, { code: -32600, message: 'Invalid Request' }, null],
    ['params not array/object', { jsonrpc: '2.0', method: 't:echo', params: 'x', id: 5 }, { code: -32600, message: 'Invalid Request' }, 5],
    ['too many params', { jsonrpc: '2.0', method: 't:echo', params: [1, 2], id: 6 }, { code: -32602, message: 'Invalid params', data: 'Too few or too many parameters' }, 6],
    ['handler returned nothing', { jsonrpc: '2.0', method: 't:none', id: 7 }, { code: -32000, message: 'Server error', data: 'Command handler returned null' }, 7],
    ['command error code', { jsonrpc: '2.0', method: 't:fail', id: 8 }, { code: 404, message: 'Statistics Not Found' }, 8],
    ['thrown error', { jsonrpc: '2.0', method: 't:boom', id: 9 }, { code: -32000, message: 'Server error', data: 'kaput' }, 9],
  ])('%s', async (_n, req, error, id) => {
    expect(await call(reg, req)).toEqual({ status: 200, json: { jsonrpc: '2.0', error, id } });
  });

  it('success keeps the id; null is a valid result; async handlers are awaited', async () => {
    expect((await call(reg, { jsonrpc: '2.0', method: 'echo', params: { a: 1 }, id: 'x' })).json).toEqual({ jsonrpc: '2.0', result: { got: { a: 1 } }, id: 'x' });
    expect((await call(reg, { jsonrpc: '2.0', method: 't:null', id: null })).json).toEqual({ jsonrpc: '2.0', result: null, id: null });
    expect((await call(reg, { jsonrpc: '2.0', method: 't:slow', id: 1 })).json.result).toBe('OK');
  });

  it('notifications get 202 and no body, except parse errors / invalid requests', async () => {
    expect(await call(reg, { jsonrpc: '2.0', method: 't:echo' })).toEqual({ status: 202, json: undefined });
    expect(await call(reg, { jsonrpc: '2.0', method: 'nope' })).toEqual({ status: 202, json: undefined });
    expect(await call(reg, { jsonrpc: '2.1', method: 't:echo' })).toEqual({ status: 200, json: { jsonrpc: '2.0', error: { code: -32600, message: 'Invalid Request' }, id: null } });
  });
});

describe('core commands', () => {
  const engines: Array<{ shutdown(): Promise<void> }> = [];
  afterEach(async () => {
    await Promise.all(engines.splice(0).map((e) => e.shutdown()));
  });
  function setup() {
    const stats = createStatsRegistry();
    const engine = createEngine({ stats });
    engines.push(engine);
    const registry = new MiRegistry();
    let level = 3;
    let xlog = 3;
    let killed = 0;
    stats.counter('core', 'rcv_requests', 'requests').inc(5);
    stats.counter('core', 'rcv_replies', 'replies').inc(2);
    stats.gauge('tst', 'level_now', 'a computed gauge', () => 7);
    for (const c of coreCommands({
      engine, stats, registry, version: '1.2.3', startedAt: Date.now() - 5000,
      getLogLevel: () => level, setLogLevel: (l) => { level = l; }, getXlogLevel: () => xlog, setXlogLevel: (l) => { xlog = l; },
      kill: () => { killed++; }, reload: async () => ({ Reloaded: ['log_level'] }),
    })) registry.add(c);
    const rpc = async (method: string, params?: unknown): Promise<Rpc> => (await call(registry, { jsonrpc: '2.0', method, ...(params === undefined ? {} : { params }), id: 1 })).json;
    return { engine, stats, rpc, level: () => level, killed: () => killed };
  }

  it('version, uptime, ps, which, help, pwd, arg', async () => {
    const { rpc } = setup();
    expect((await rpc('version')).result).toEqual({ Server: `x-server (1.2.3 (${process.arch}/${process.platform}))` });
    // any revision argument adds the build's revision, as 3.6's "git" key (npm version without one)
    expect((await rpc('version', [1])).result).toEqual({ Server: `x-server (1.2.3 (${process.arch}/${process.platform}))`, npm: '1.2.3' });
    expect((await rpc('version', { foo: 1 })).error).toEqual({ code: -32602, message: 'Invalid params', data: 'Named parameters do not match' });
    const up = (await rpc('core:uptime')).result;
    expect(Object.keys(up)).toEqual(['Now', 'Up since', 'Up time']);
    expect(up['Up time']).toMatch(/^[56] \[sec\]$/);
    expect((await rpc('ps')).result).toEqual({ Processes: [{ ID: 0, PID: process.pid, Type: 'main' }] });
    // which lists 3.6's names; the 4.0 names still answer
    const names = (await rpc('which')).result as string[];
    expect(names.slice(0, 14)).toEqual(['get_statistics', 'list_statistics', 'reset_statistics', 'reset_all_statistics', 'uptime', 'version', 'pwd', 'arg', 'which', 'ps', 'kill', 'log_level', 'xlog_level', 'list_tcp_conns']);
    expect(names).not.toContain('statistics:get');
    expect((await rpc('statistics:get', { statistics: ['rcv_requests'] })).result).toEqual({ 'core:rcv_requests': 5 });
    expect((await rpc('which', ['log_level'])).result).toEqual([[], ['level'], ['level', 'pid']]);
    expect((await rpc('which', { command: 'version' })).result).toEqual([[], ['revision']]);
    expect((await rpc('which', ['nope'])).error).toEqual({ code: 404, message: 'unknown MI command' });
    expect((await rpc('help', { mi_cmd: 'version' })).result).toEqual({ Help: 'prints the version string of a running x-server', 'Exported by': 'core' });
    expect((await rpc('help')).result).toBe("Usage: help mi_cmd - returns information about 'mi_cmd'");
    expect((await rpc('help', ['nope'])).error).toEqual({ code: 404, message: 'unknown MI command' });
    expect((await rpc('pwd')).result).toEqual({ WD: process.cwd() });
    expect((await rpc('arg')).result).toEqual(process.argv.slice(1));
  });

  it('log_level and xlog_level show, set, and name a bad parameter as 3.6', async () => {
    const { rpc, level } = setup();
    expect((await rpc('log_level')).result).toEqual({ Processes: [{ PID: process.pid, 'Log level': 3, Type: 'main' }] });
    expect((await rpc('log_level', ['4'])).result).toEqual({ 'New global log level': 4 });
    expect(level()).toBe(4);
    expect((await rpc('log_level', { level: 'abc' })).error).toEqual({ code: -32602, message: 'Invalid params', data: "Bad type for parameter 'level'" });
    // pid 0 is global; our pid answers "Log level"; any other pid is "Bad PID"
    expect((await rpc('log_level', { level: 3, pid: 0 })).result).toEqual({ 'New global log level': 3 });
    expect((await rpc('log_level', { level: 2, pid: process.pid })).result).toEqual({ 'Log level': 2 });
    expect(level()).toBe(2);
    expect((await rpc('log_level', { level: 2, pid: 1 })).error).toEqual({ code: -32602, message: 'Invalid params', data: 'Bad PID' });
    expect((await rpc('log_level', { level: 2, pid: 'x' })).error).toEqual({ code: -32602, message: 'Invalid params', data: "Bad type for parameter 'pid'" });
    expect((await rpc('xlog_level')).result).toEqual({ 'xLog Level': 3 });
    expect((await rpc('xlog_level', [4])).result).toEqual({ 'New xLog level': 4 });
    expect((await rpc('xlog_level')).result).toEqual({ 'xLog Level': 4 });
    expect((await rpc('xlog_level', ['x'])).error).toEqual({ code: -32602, message: 'Invalid params', data: "Bad type for parameter 'level'" });
  });

  it('list_tcp_conns takes no parameter (3.6); tcp:list is null without a TCP listener and rejects a bad protocol', async () => {
    const { rpc } = setup();
    expect(await rpc('list_tcp_conns')).toEqual({ jsonrpc: '2.0', result: null, id: 1 });
    expect((await rpc('list_tcp_conns', ['foo'])).error).toEqual({ code: -32602, message: 'Invalid params', data: 'Too few or too many parameters' });
    expect((await rpc('tcp:list', ['bogus'])).error).toEqual({ code: 400, message: 'Bad protocol' });
    expect((await rpc('tcp:list', { proto: 'tls' })).result).toBeNull();
  });

  it('tcp:close parses ids and [proto:]ip:port', async () => {
    const { rpc } = setup();
    expect((await rpc('tcp:close', ['12345'])).result).toBeNull();
    expect((await rpc('tcp:close', ['tcp:127.0.0.1:5060'])).result).toBeNull();
    expect((await rpc('tcp:close', ['[::1]:5060'])).result).toBeNull();
    expect((await rpc('tcp:close', ['not-an-address'])).error).toEqual({ code: 400, message: 'Bad tcp connection' });
    expect((await rpc('tcp:close', ['1.2.3.4:99999'])).error).toEqual({ code: 400, message: 'Bad tcp connection' });
  });

  it('statistics get/list/reset with all, group: and bare names, as 3.6', async () => {
    const { rpc, stats } = setup();
    expect((await rpc('get_statistics', [['core:', 'level_now']])).result).toEqual({ 'core:rcv_requests': 5, 'core:rcv_replies': 2, 'tst:level_now': 7 });
    expect((await rpc('statistics:get', { statistics: ['RCV_replies'] })).result).toEqual({ 'core:rcv_replies': 2 });
    expect(Object.keys((await rpc('get_statistics', [['all']])).result)).toEqual(expect.arrayContaining(['core:rcv_requests', 'tst:level_now']));
    // nothing matched: {} (group:name is not a name in 3.6)
    expect((await rpc('get_statistics', [['nope:']])).result).toEqual({});
    expect((await rpc('get_statistics', [['core:rcv_requests']])).result).toEqual({});
    expect((await rpc('get_statistics', { statistics: 'all' })).error).toEqual({ code: -32602, message: 'Invalid params', data: "Bad type for parameter 'statistics'" });
    expect((await rpc('get_statistics', { statistics: [] })).error).toEqual({ code: -32602, message: 'Invalid params', data: "Empty array in parameter 'statistics'" });
    expect((await rpc('get_statistics', [[{}]])).error).toEqual({ code: -32602, message: 'Invalid params', data: "Bad type for array item in parameter 'statistics'" });
    expect((await rpc('list_statistics', [['tst:']])).result).toEqual({ 'tst:level_now': 'non-incremental' });
    expect((await rpc('list_statistics', [['rcv_requests']])).result).toEqual({ rcv_requests: 'incremental' });
    // reset: names only; a group is not found; a non-incremental one is OK and left alone
    expect((await rpc('reset_statistics', [['core:']])).error).toEqual({ code: 404, message: 'Statistics Not Found' });
    expect((await rpc('reset_statistics', [['core:rcv_requests']])).error).toEqual({ code: 404, message: 'Statistics Not Found' });
    expect((await rpc('reset_statistics', [['rcv_requests', 'level_now']])).result).toBe('OK');
    expect(stats.get('core:rcv_requests')!.value()).toBe(0);
    expect(stats.get('core:rcv_replies')!.value()).toBe(2);
    expect((await rpc('reset_all_statistics')).result).toBe('OK');
    expect(stats.get('core:rcv_replies')!.value()).toBe(0);
    expect(stats.get('tst:level_now')!.value()).toBe(7);
  });

  it('kill answers OK then stops; reload reports what it reloaded', async () => {
    const { rpc, killed } = setup();
    expect((await rpc('kill')).result).toBe('OK');
    await new Promise((r) => setImmediate(r));
    expect(killed()).toBe(1);
    expect((await rpc('reload')).result).toEqual({ Reloaded: ['log_level'] });
  });

  it('ctime looks like C ctime()', () => {
    expect(ctime(new Date(2026, 10, 4, 9, 5, 7).getTime())).toBe('Wed Nov  4 09:05:07 2026');
  });
});
