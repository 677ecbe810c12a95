import { describe, expect, it } from 'vitest';
import { CfgError } from '../errors.js';
import { parseCfg } from './parser.js';

function err(text: string): CfgError {
  try {
    parseCfg(text, 'a.cfg');
  } catch (e) {
    expect(e).toBeInstanceOf(CfgError);
    return e as CfgError;
  }
  throw new Error('expected a CfgError');
}

describe('parseCfg', () => {
  it('reads globals, loadmodule, modparam and sockets with positions', () => {
    const p = parseCfg(
      [
        '# a comment',
        'log_level = -1 // trailing',
        '/* block',
        '   comment */ tcp_keepalive = yes;',
        'socket = tcp:127.0.0.1:5060 as 1.2.3.4:5060 tag pub # c',
        'listen = "hep_udp:127.0.0.1"',
        'loadmodule "/usr/lib/opensips/modules/proto_tcp.so"',
        'modparam("proto_tcp", "tcp_max_msg_chunks", 8);',
        "modparam('tls_mgm', 'certificate', '[srv]/etc/c.pem')",
      ].join('\n'),
      'a.cfg',
    );
    expect(p.statements).toEqual([
      { type: 'global', name: 'log_level', value: { kind: 'int', value: -1 }, where: { file: 'a.cfg', line: 2, col: 1 }, valueWhere: { file: 'a.cfg', line: 2, col: 13 } },
      { type: 'global', name: 'tcp_keepalive', value: { kind: 'int', value: 1 }, where: { file: 'a.cfg', line: 4, col: 15 }, valueWhere: { file: 'a.cfg', line: 4, col: 31 } },
      { type: 'socket', keyword: 'socket', text: 'tcp:127.0.0.1:5060 as 1.2.3.4:5060 tag pub', where: { file: 'a.cfg', line: 5, col: 1 }, valueWhere: { file: 'a.cfg', line: 5, col: 10 } },
      { type: 'socket', keyword: 'listen', text: 'hep_udp:127.0.0.1', where: { file: 'a.cfg', line: 6, col: 1 }, valueWhere: { file: 'a.cfg', line: 6, col: 10 }, quoted: true },
      { type: 'loadmodule', path: '/usr/lib/opensips/modules/proto_tcp.so', where: { file: 'a.cfg', line: 7, col: 1 }, valueWhere: { file: 'a.cfg', line: 7, col: 12 } },
      {
        type: 'modparam', module: 'proto_tcp', param: 'tcp_max_msg_chunks', value: { kind: 'int', value: 8 },
        where: { file: 'a.cfg', line: 8, col: 1 }, moduleWhere: { file: 'a.cfg', line: 8, col: 10 }, paramWhere: { file: 'a.cfg', line: 8, col: 23 }, valueWhere: { file: 'a.cfg', line: 8, col: 45 },
      },
      {
        type: 'modparam', module: 'tls_mgm', param: 'certificate', value: { kind: 'string', value: '[srv]/etc/c.pem' },
        where: { file: 'a.cfg', line: 9, col: 1 }, moduleWhere: { file: 'a.cfg', line: 9, col: 10 }, paramWhere: { file: 'a.cfg', line: 9, col: 21 }, valueWhere: { file: 'a.cfg', line: 9, col: 36 },
      },
    ]);
  });

  it('takes a bare flag name (or a string / number) for tcp_no_new_conn_bflag / _rplflag', () => {
    const p = parseCfg('tcp_no_new_conn_bflag = TCP_NO_CONNECT;\ntcp_no_new_conn_rplflag = "NO_NEW"\ntcp_no_new_conn_bflag = 7', 'a.cfg');
    expect(p.statements.map((s) => [s.type === 'global' && s.name, s.type === 'global' && s.value, s.valueWhere.line, s.valueWhere.col])).toEqual([
      ['tcp_no_new_conn_bflag', { kind: 'string', value: 'TCP_NO_CONNECT' }, 1, 25],
      ['tcp_no_new_conn_rplflag', { kind: 'string', value: 'NO_NEW' }, 2, 27],
      ['tcp_no_new_conn_bflag', { kind: 'string', value: '7' }, 3, 25],
    ]);
    expect(() => parseCfg('\ntcp_no_new_conn_bflag = (', 'a.cfg')).toThrow('a.cfg:2:25: expected a name after "tcp_no_new_conn_bflag =", found "("');
  });

  it('accepts tcp_workers / udp_workers = N use_auto_scaling_profile P', () => {
    const p = parseCfg('tcp_workers = 4 use_auto_scaling_profile PROFILE_TCP\nudp_workers = 8 use_auto_scaling_profile "PROFILE_SIP";\nlog_level = 2', 'a.cfg');
    expect(p.statements.map((s) => s.type === 'global' && [s.name, s.value.value])).toEqual([['tcp_workers', 4], ['udp_workers', 8], ['log_level', 2]]);
    expect(() => parseCfg('tcp_workers = 4 use_auto_scaling_profile =', 'a.cfg')).toThrow('a.cfg:1:42: expected an auto-scaling profile name after use_auto_scaling_profile, found "="');
  });

  it('keeps # and // inside strings', () => {
    const p = parseCfg('route_script = "./r#1//x.mjs"', 'a.cfg');
    expect(p.statements[0]).toMatchObject({ value: { kind: 'string', value: './r#1//x.mjs' } });
  });

  it('follows include_file relative to the including file', () => {
    const seen: string[] = [];
    const p = parseCfg('include_file "more.cfg"\nlog_level = 2', '/etc/x/main.cfg', {
      readFile: (path) => {
        seen.push(path);
        return '\n  tcp_keepidle = 5';
      },
    });
    expect(seen).toEqual(['/etc/x/more.cfg']);
    expect(p.statements.map((s) => [s.type, s.where.file, s.where.line, s.where.col])).toEqual([
      ['global', '/etc/x/more.cfg', 2, 3],
      ['global', '/etc/x/main.cfg', 2, 1],
    ]);
  });

  const cases: Array<[string, string, string]> = [
    ['unterminated string', 'log_level = "abc\n', 'a.cfg:1:13: unterminated string: missing closing "'],
    ['unterminated comment', 'log_level = 1\n  /* oops', 'a.cfg:2:3: unterminated comment'],
    ['route block', 'log_level = 1\nroute {\n  exit;\n}', 'a.cfg:2:1: "route" blocks are not supported: routing is JavaScript'],
    ['onreply_route block', 'onreply_route[1] { }', 'a.cfg:1:1: "onreply_route" blocks are not supported'],
    ['unknown statement', 'log_level = 1\n\n   frobnicate 3', 'a.cfg:3:4: unknown statement "frobnicate"'],
    ['loadmodule without quotes', 'loadmodule proto_tcp', 'a.cfg:1:12: expected a quoted module name or path after loadmodule'],
    ['modparam missing paren', 'modparam "a", "b", 1)', 'a.cfg:1:10: expected "(" after modparam, found string "a"'],
    ['modparam missing comma', 'modparam("a" "b", 1)', 'a.cfg:1:14: expected "," after the module name, found string "b"'],
    ['modparam bad value', 'modparam("a", "b", foo)', 'a.cfg:1:20: expected a quoted string or an integer as the modparam value, found "foo"'],
    ['modparam unclosed', 'modparam("a", "b", 1\nlog_level = 1', 'a.cfg:2:1: expected ")" closing modparam, found "log_level"'],
    ['global without value', 'log_level =\n', 'a.cfg:2:1: expected a quoted string or an integer after "log_level =", found end of file'],
    ['bad number', 'tcp_keepidle = 12ab', 'a.cfg:1:16: bad number "12a...": expected an integer'],
    ['stray character', 'log_level = 1\n@', 'a.cfg:2:1: unexpected character "@"'],
    ['empty socket', 'socket =   # nothing', 'a.cfg:1:21: expected proto:host[:port] after "socket =", found end of line'],
    ['bond without a name', 'socket = bond: { "udp:1.2.3.4" }', 'a.cfg:1:15: expected a bond name after "bond:"'],
    ['bond without "{"', 'socket = bond:ext "udp:1.2.3.4"', 'a.cfg:1:19: expected "{" after bond:ext'],
    ['bond member not quoted', 'socket = bond:ext {\n  udp:1.2.3.4 }', 'a.cfg:2:3: expected a member socket as a quoted string'],
    ['bond member list not closed', 'socket = bond:ext { "udp:1.2.3.4"\nlog_level = 1', 'a.cfg:2:1: expected "," or "}" after a member of bond:ext, found "log_level"'],
    ['empty bond', 'socket = bond:ext { }', 'a.cfg:1:21: expected a member socket as a quoted string'],
  ];
  it.each(cases)('%s -> precise line:col', (_name, text, msg) => {
    const e = err(text);
    expect(e.message.startsWith(msg), `${e.message} should start with ${msg}`).toBe(true);
    expect(e.code).toMatch(/^ERR_CFG_/);
  });

  it('reads socket options as the rest of the line, and a bond (on one or more lines) into its members', () => {
    const p = parseCfg(
      [
        'socket = udp:127.0.0.1:5060 use_workers 4 tos 0x10 reuse_port # a comment',
        'socket = BOND:ext {',
        '  "udp:127.0.0.1:5060",   # first',
        '  "tcp:127.0.0.1:5060" };',
        'socket = bond:int { "tcp:127.0.0.1" }',
      ].join('\n'),
      'a.cfg',
    );
    expect(p.statements).toEqual([
      { type: 'socket', keyword: 'socket', text: 'udp:127.0.0.1:5060 use_workers 4 tos 0x10 reuse_port', where: { file: 'a.cfg', line: 1, col: 1 }, valueWhere: { file: 'a.cfg', line: 1, col: 10 } },
      {
        type: 'bond', name: 'ext', where: { file: 'a.cfg', line: 2, col: 1 }, valueWhere: { file: 'a.cfg', line: 2, col: 10 }, nameWhere: { file: 'a.cfg', line: 2, col: 15 },
        members: [
          { text: 'udp:127.0.0.1:5060', where: { file: 'a.cfg', line: 3, col: 3 } },
          { text: 'tcp:127.0.0.1:5060', where: { file: 'a.cfg', line: 4, col: 3 } },
        ],
      },
      {
        type: 'bond', name: 'int', where: { file: 'a.cfg', line: 5, col: 1 }, valueWhere: { file: 'a.cfg', line: 5, col: 10 }, nameWhere: { file: 'a.cfg', line: 5, col: 15 },
        members: [{ text: 'tcp:127.0.0.1', where: { file: 'a.cfg', line: 5, col: 21 } }],
      },
    ]);
  });

  it('reports an unreadable include at its name', () => {
    const e = (() => {
      try {
        parseCfg('\n include_file "nope.cfg"', '/x/a.cfg', { readFile: () => { throw new Error('ENOENT'); } });
      } catch (x) {
        return x as CfgError;
      }
      throw new Error('no error');
    })();
    expect(e.code).toBe('ERR_CFG_FILE');
    expect(e.message).toMatch(/^\/x\/a\.cfg:2:15: cannot read included file "nope.cfg": ENOENT/);
  });

  it('stops include loops', () => {
    expect(() => parseCfg('include_file "a.cfg"', '/x/a.cfg', { readFile: () => 'include_file "a.cfg"' })).toThrow(/include depth exceeds 10/);
  });
});
