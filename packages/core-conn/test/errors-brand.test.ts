import { cpSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import * as A from '../src/index.js';

// A second copy of the package: its build copied elsewhere and imported from there (what two
// versions of @x/core-conn in one node_modules tree give), so its classes are other objects.
const copyDir = mkdtempSync(join(tmpdir(), 'x-core-conn-copy-'));
cpSync(new URL('../dist', import.meta.url), copyDir, { recursive: true });
const B = (await import(/* @vite-ignore */ pathToFileURL(join(copyDir, 'index.js')).href)) as typeof A;

describe('error classes: own name, code, instanceof across two copies of the package', () => {
  it('the second copy really has other classes', () => {
    expect(B.ProtocolError).not.toBe(A.ProtocolError);
    expect(Object.getPrototypeOf(new B.ProtocolError('E', 'x'))).not.toBe(A.ProtocolError.prototype);
  });

  it.each([
    ['ProtocolError', (m: typeof A) => new m.ProtocolError('ERR_P', 'p')],
    ['LimitError', (m: typeof A) => new m.LimitError('ERR_L', 'l')],
    ['ConnectionError', (m: typeof A) => new m.ConnectionError('ERR_C', 'c')],
    ['ConfigError', (m: typeof A) => new m.ConfigError('ERR_G', 'g')],
    ['SocketSpecError', (m: typeof A) => new m.SocketSpecError('s', 3)],
  ] as const)('%s: name, code, and instanceof of either copy (and of XError and Error)', (name, make) => {
    for (const [made, other] of [[A, B], [B, A]] as const) {
      const e = make(made);
      expect(e.name).toBe(name);
      expect(e).toBeInstanceOf(Error);
      expect(e instanceof other.XError).toBe(true);
      expect(e instanceof (other as unknown as Record<string, new () => unknown>)[name]!).toBe(true);
      expect(e instanceof made.XError).toBe(true);
    }
  });

  it('a class is not the instance of a sibling or of a subclass, in either copy', () => {
    const p = new A.ProtocolError('ERR_P', 'p');
    expect(p instanceof B.LimitError).toBe(false);
    expect(p instanceof B.ConfigError).toBe(false);
    expect(new B.ConfigError('E', 'x') instanceof A.SocketSpecError).toBe(false);
    expect(new A.SocketSpecError('x', 0) instanceof B.ConfigError).toBe(true);
    expect(new Error('plain') instanceof A.XError).toBe(false);
    expect((null as unknown) instanceof A.XError).toBe(false);
    expect({ code: 'ERR_P', name: 'ProtocolError' } instanceof A.ProtocolError).toBe(false);
  });

  it('a subclass in another package keeps its own name and is a ProtocolError of every copy; an unbranded one falls back to the prototype check', () => {
    class FooError extends B.ProtocolError {}
    B.brandError(FooError, '@x/test:FooError');
    const f = new FooError('ERR_FOO', 'foo');
    expect(f.name).toBe('FooError');
    expect(f instanceof A.ProtocolError).toBe(true);
    expect(f instanceof FooError).toBe(true);
    expect(new A.ProtocolError('E', 'x') instanceof FooError).toBe(false);
    class Unbranded extends A.LimitError {}
    expect(new Unbranded('E', 'x') instanceof Unbranded).toBe(true);
    expect(new A.LimitError('E', 'x') instanceof Unbranded).toBe(false);
    expect(new Unbranded('E', 'x').name).toBe('LimitError');
  });

  it('MiError (numeric code) is branded too', () => {
    const e = new B.MiError(404, 'not found', 'd');
    expect(e instanceof A.MiError).toBe(true);
    expect([e.name, e.code, e.data]).toEqual(['MiError', 404, 'd']);
    expect(new A.XError('E', 'x') instanceof B.MiError).toBe(false);
  });

  it('ConfigError carries the setting at fault and the cause', () => {
    const cause = new Error('why');
    const e = new A.ConfigError('ERR_X', 'bad', { param: 'hep_id', index: 2, cause });
    expect([e.param, e.index, e.cause]).toEqual(['hep_id', 2, cause]);
    const plain = new A.ConfigError('ERR_X', 'bad');
    expect('param' in plain || 'index' in plain || 'cause' in plain).toBe(false);
  });

  it('the engine reports its own errors as branded classes', async () => {
    const engine = A.createEngine();
    try {
      const err = await engine.send('nope', { host: '127.0.0.1', port: 1 }, Buffer.from('x')).then(() => undefined, (e: unknown) => e);
      expect(err instanceof B.XError).toBe(true);
      expect((err as A.XError).code).toBe('ERR_CONN_UNKNOWN_PROTOCOL');
    } finally {
      await engine.shutdown();
    }
  });
});
