import { describe, expect, it } from 'vitest';
import { CfgError, CfgErrorCodes } from '../errors.js';
import { loadConfig } from './load.js';
import { MAX_ERRORS, parseCfg } from './parser.js';

function collect(text: string, files: Record<string, string> = {}): { errors: CfgError[]; kinds: string[] } {
  const errors: CfgError[] = [];
  const out = parseCfg(text, '/c/a.cfg', {
    errors,
    readFile: (p) => {
      const f = files[p];
      if (f === undefined) throw new Error('ENOENT');
      return f;
    },
  });
  return { errors, kinds: out.statements.map((s) => (s.type === 'global' ? `global ${s.name}` : s.type === 'modparam' ? `modparam ${s.param}` : s.type)) };
}

describe('parseCfg collecting every error of a file', () => {
  it('reports each bad statement at its line and keeps the good ones around them', () => {
    const { errors, kinds } = collect(
      [
        'tcp_connection_lifetime = 600', // 1
        'modparam("proto_tcp", "tcp_port" 5060)', // 2: missing ","
        'tcp_max_connections = 100', // 3
        'loadmodule proto_tcp.so', // 4: unquoted
        'modparam("proto_tcp", "tcp_async", 1)', // 5
        'bogus statement here', // 6
        'tcp_keepidle = 5', // 7
      ].join('\n'),
    );
    expect(errors.map((e) => [e.code, e.where?.line])).toEqual([
      [CfgErrorCodes.SYNTAX, 2],
      [CfgErrorCodes.SYNTAX, 4],
      [CfgErrorCodes.UNKNOWN_STATEMENT, 6],
    ]);
    expect(kinds).toEqual(['global tcp_connection_lifetime', 'global tcp_max_connections', 'modparam tcp_async', 'global tcp_keepidle']);
  });

  it('resumes at a statement that a cut-short line ran into', () => {
    // line 1 lacks its value: the scanner reads line 2's first token as the value and fails there;
    // line 2 is a statement of its own and must not be lost
    const { errors, kinds } = collect('modparam("proto_tcp", "tcp_port",\nmodparam("proto_tcp", "tcp_async", 1)\n');
    expect(errors.map((e) => e.where?.line)).toEqual([2]);
    expect(kinds).toEqual(['modparam tcp_async']);
  });

  it('skips a whole route block (braces balanced, strings and comments respected) as one error', () => {
    const { errors, kinds } = collect(
      [
        'tcp_max_connections = 100',
        'route {',
        '  if ($rU == "}") { # } in a comment',
        '    xlog("{ not a brace }");',
        '  }',
        '  /* } */ t_relay();',
        '}',
        'tcp_keepidle = 5',
        'route[foo] { exit; }',
        'tcp_keepcount = 3',
      ].join('\n'),
    );
    expect(errors.map((e) => [e.code, e.where?.line])).toEqual([
      [CfgErrorCodes.UNKNOWN_STATEMENT, 2],
      [CfgErrorCodes.UNKNOWN_STATEMENT, 9],
    ]);
    expect(kinds).toEqual(['global tcp_max_connections', 'global tcp_keepidle', 'global tcp_keepcount']);
  });

  it('goes on after an unreadable include and reports errors inside included files', () => {
    const { errors, kinds } = collect('include_file "missing.cfg"\ninclude_file "b.cfg"\ntcp_keepidle = 5\n', {
      '/c/b.cfg': 'tcp_max_connections = 1\n= 3\ntcp_keepcount = 2\n',
    });
    expect(errors.map((e) => [e.code, e.where?.file, e.where?.line])).toEqual([
      [CfgErrorCodes.FILE, '/c/a.cfg', 1],
      [CfgErrorCodes.SYNTAX, '/c/b.cfg', 2],
    ]);
    expect(kinds).toEqual(['global tcp_max_connections', 'global tcp_keepcount', 'global tcp_keepidle']);
  });

  it('stops at an unterminated comment (nothing after it can be read) and after MAX_ERRORS', () => {
    expect(collect('a = 1\n/* never closed\nb = 2\n').errors).toHaveLength(1);
    const garbage = Array.from({ length: MAX_ERRORS * 3 }, () => '!!').join('\n');
    expect(collect(garbage).errors).toHaveLength(MAX_ERRORS);
  });

  it('still throws the first error when no collector is given', () => {
    expect(() => parseCfg('x y\nz w\n', 'a.cfg')).toThrow(/a\.cfg:1:1: unknown statement "x"/);
  });
});

describe('loadConfig reports every error of a file in one run', () => {
  it('lists the syntax errors and the first check error together, first error\'s code and place', async () => {
    const text = ['socket = tcp:127.0.0.1:5060', 'loadmodule "proto_tcp.so"', 'modparam("proto_tcp" "tcp_async", 1)', 'tcp_max_connections = 10', 'route { exit; }', 'no_such_global = 3'].join('\n');
    const err = await loadConfig({ configText: text, configName: '/c/x.cfg' }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(CfgError);
    const e = err as CfgError;
    expect(e.errors.map((x) => [x.code, x.where?.line])).toEqual([
      [CfgErrorCodes.SYNTAX, 3],
      [CfgErrorCodes.UNKNOWN_STATEMENT, 5],
      [CfgErrorCodes.UNKNOWN_GLOBAL, 6],
    ]);
    expect(e.code).toBe(CfgErrorCodes.SYNTAX);
    expect(e.where?.line).toBe(3);
    expect(e.message.split('\n')).toEqual([
      '3 errors in the configuration:',
      expect.stringMatching(/^ {2}\/c\/x\.cfg:3:\d+: expected "," after the module name/),
      expect.stringMatching(/^ {2}\/c\/x\.cfg:5:1: "route" blocks are not supported/),
      expect.stringMatching(/^ {2}\/c\/x\.cfg:6:1: .*no_such_global/),
    ]);
  });

  it('checks every statement, module and socket on its own, without echoes of an error already reported', async () => {
    const text = [
      'socket = tcp:127.0.0.1:5060', // 1
      'socket = ws:127.0.0.1:8080', // 2: nothing serves ws
      'loadmodule "proto_tcp.so"', // 3
      'loadmodule "no_such_module.so"', // 4: unknown module ...
      'modparam("no_such_module", "x", 1)', // 5: ... whose modparams are not reported again
      'modparam("proto_tcp", "tcp_nope", 1)', // 6: unknown parameter
      'modparam("proto_tcp", "tcp_max_msg_chunks", "many")', // 7: wrong type
      'tcp_max_connections = "lots"', // 8: wrong type of a global
      'modparam("tm", "fr_timeout", 5)', // 9: no module matches
    ].join('\n');
    const e = (await loadConfig({ configText: text, configName: '/c/y.cfg' }).then(() => undefined, (x: unknown) => x)) as CfgError;
    expect(e).toBeInstanceOf(CfgError);
    expect(e.errors.map((x) => [x.code, x.where?.line])).toEqual([
      [CfgErrorCodes.NO_PROTO_MODULE, 2],
      [CfgErrorCodes.UNKNOWN_MODULE, 4],
      [CfgErrorCodes.UNKNOWN_PARAM, 6],
      [CfgErrorCodes.BAD_VALUE, 7],
      [CfgErrorCodes.BAD_VALUE, 8],
      [CfgErrorCodes.NO_MODULE_MATCH, 9],
    ]);
  });

  it('throws a single error as it is', async () => {
    const err = await loadConfig({ configText: 'no_such_global = 3\n', configName: '/c/x.cfg' }).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(CfgError);
    expect((err as CfgError).errors).toEqual([err]);
    expect((err as CfgError).message).toMatch(/^\/c\/x\.cfg:1:1: /);
  });
});
