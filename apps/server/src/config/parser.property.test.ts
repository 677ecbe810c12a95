import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CfgError } from '../errors.js';
import { parseCfg } from './parser.js';

const ident = fc.stringMatching(/^[a-z_][a-z0-9_]{0,15}$/).filter((s) => !['loadmodule', 'modparam', 'socket', 'listen', 'include_file', 'import_file', 'route', 'yes', 'no', 'on', 'off', 'true', 'false', 'enable', 'disable', 'log_facility', 'syslog_facility', 'tcp_workers'].includes(s) && !s.endsWith('_route'));
const str = fc.string({ maxLength: 30 }).filter((s) => !/["\\\n\r]/.test(s));
const value = fc.oneof(fc.integer({ min: -1e9, max: 1e9 }).map((n) => ({ kind: 'int' as const, value: n })), str.map((s) => ({ kind: 'string' as const, value: s })));
const render = (v: { kind: 'int' | 'string'; value: number | string }): string => (v.kind === 'int' ? String(v.value) : JSON.stringify(v.value));
const junk = fc.constantFrom('', ' ', '\t', '\n', '# c\n', '// c\n', '/* c */', '/* a\nb */', ';');

describe('parseCfg properties', () => {
  it('rendered globals and modparams parse back to the same values, whatever trivia sits between', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.boolean(), ident, ident, value, junk), { maxLength: 12 }), (items) => {
        let text = '';
        const lines: number[] = [];
        for (const [isMod, a, b, v, j] of items) {
          lines.push(text.split('\n').length);
          text += isMod ? `modparam(${JSON.stringify(a)}, ${JSON.stringify(b)}, ${render(v)})${j}\n` : `${a} = ${render(v)}${j}\n`;
        }
        const st = parseCfg(text, 'p.cfg').statements;
        expect(st).toHaveLength(items.length);
        items.forEach(([isMod, a, b, v], i) => {
          const s = st[i]!;
          expect(s.where).toEqual({ file: 'p.cfg', line: lines[i]!, col: 1 });
          if (isMod) expect(s).toMatchObject({ type: 'modparam', module: a, param: b, value: v });
          else expect(s).toMatchObject({ type: 'global', name: a, value: v });
        });
      }),
      { numRuns: 300 },
    );
  });

  it('arbitrary input either parses or fails with a CfgError whose position lies inside the text', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200, unit: fc.constantFrom('a', '=', '"', "'", '(', ')', ',', '/', '*', '#', '\n', ' ', '1', '-', 'x', ';', '{', '}', '\\', 'socket', 'modparam', 'loadmodule', 'route') }), (text) => {
        try {
          parseCfg(text, 'f.cfg', { readFile: () => '' });
        } catch (e) {
          expect(e).toBeInstanceOf(CfgError);
          const w = (e as CfgError).where!;
          const lines = text.split('\n');
          expect(w.line).toBeGreaterThanOrEqual(1);
          expect(w.line).toBeLessThanOrEqual(lines.length);
          expect(w.col).toBeGreaterThanOrEqual(1);
          expect(w.col).toBeLessThanOrEqual(lines[w.line - 1]!.length + 1);
          expect((e as CfgError).message.startsWith(`f.cfg:${w.line}:${w.col}: `)).toBe(true);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('survives a huge file of comments and a very long string quickly enough to be bounded', () => {
    const text = `${'/* x */ # y\n'.repeat(20_000)}route_script = "${'a'.repeat(100_000)}"\n`;
    const st = parseCfg(text, 'big.cfg').statements;
    expect(st).toHaveLength(1);
    expect(st[0]!.where.line).toBe(20_001);
  });
});
