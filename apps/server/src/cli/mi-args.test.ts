import { describe, expect, it } from 'vitest';
import { formatMiError, miParams, shellSplit } from './mi-args.js';

describe('x-cli mi argument mapping (opensips-cli)', () => {
  it.each<[string, string[], unknown]>([
    ['get_statistics', ['tcp:', 'core:rcv_requests'], [['tcp:', 'core:rcv_requests']]],
    ['get_statistics', [], []],
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
    ['version', [], []],
  ])('%s %j -> %j', (cmd, args, want) => {
    expect(miParams(cmd, args)).toEqual(want);
  });
  it('splits quoted words', () => {
    expect(shellSplit(`a "b c" 'd e'  f`)).toEqual(['a', 'b c', 'd e', 'f']);
  });
  it('formats errors as opensips-cli', () => {
    expect(formatMiError('get_statistics', { code: 404, message: 'Statistics Not Found' })).toBe("ERROR: command 'get_statistics' returned: 404: Statistics Not Found");
  });
});
