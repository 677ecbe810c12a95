import { describe, expect, it } from 'vitest';
import { formatMiError, formatMiResult, miParams, shellSplit } from './mi-args.js';

describe('x-cli mi argument mapping (opensips-cli)', () => {
  it.each<[string, string[], unknown]>([
    ['get_statistics', ['tcp:', 'core:rcv_requests'], [['tcp:', 'core:rcv_requests']]],
    ['get_statistics', [], {}],
    ['list_statistics', ['all'], [['all']]],
    ['reset_statistics', ['statistics=core:rcv_requests core:rcv_replies'], { statistics: ['core:rcv_requests', 'core:rcv_replies'] }],
    ['statistics:get', ['core:'], ['core:']],
    ['bins:trace', ['on'], ['on']],
    ['list_tcp_conns', ['proto=tls'], { proto: 'tls' }],
    ['tcp:close', ['ipport=tcp:1.2.3.4:5060'], { ipport: 'tcp:1.2.3.4:5060' }],
    ['log_level', ['4', 'pid=12'], ['4', 'pid=12']],
    ['log_level', ['level='], { level: '' }],
    ['log_level', ['4'], ['4']],
    ['raise_event', ['E_X', 'a', 'b'], ['E_X', ['a', 'b']]],
    ['raise_event', ['E_X'], ['E_X']],
    ['x', ['a=b', '1=2'], ['a=b', '1=2']],
    ['version', [], {}],
    ['dlg_push_var', ['1234', 'v', 'a', 'b'], ['1234', 'v', ['a', 'b']]],
    ['dlg_push_var', ['DID=a b'], { DID: ['a', 'b'] }],
    ['b2b_trigger_scenario', ['top hiding', 'p1', 'p2'], ['top hiding', ['p1', 'p2']]],
    ['fs_subscribe', ['fs1', 'E1', 'E2'], ['fs1', ['E1', 'E2']]],
  ])('%s %j -> %j', (cmd, args, want) => {
    expect(miParams(cmd, args)).toEqual(want);
  });
  it('splits quoted words', () => {
    expect(shellSplit(`a "b c" 'd e'  f`)).toEqual(['a', 'b c', 'd e', 'f']);
  });
  it('prints results as json.dumps(indent=4)', () => {
    expect(formatMiResult({ a: [1, 'x'], b: {}, c: [] })).toBe('{\n    "a": [\n        1,\n        "x"\n    ],\n    "b": {},\n    "c": []\n}');
    expect(formatMiResult('OK')).toBe('"OK"');
    expect(formatMiResult(null)).toBe('null');
    expect(formatMiResult({ name: 'Zoë 😀' })).toBe('{\n    "name": "Zo\\u00eb \\ud83d\\ude00"\n}');
  });
  it('formats errors as opensips-cli', () => {
    expect(formatMiError('get_statistics', { code: 404, message: 'Statistics Not Found' })).toBe("ERROR: command 'get_statistics' returned: 404: Statistics Not Found");
    expect(formatMiError('list', { code: -32001, message: 'Method ambiguous', data: 'supported names: a:list, b:list' })).toBe("ERROR: command 'list' returned: -32001: Method ambiguous (supported names: a:list, b:list)");
  });
});
