// The index against the reference model (test/model.ts) and against a plain walk, on
// fast-check rule sets drawn from a small address space so that rules overlap and shadow
// each other, IPv4 and IPv6 mixed.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileRules, type TcpMgmRow } from '../src/index.js';
import { modelMatch, modelSort, type ModelRow } from './model.js';

const V4 = ['10.0.0.1', '10.0.0.2', '10.0.1.7', '10.1.2.3', '192.168.1.1', '127.0.0.2'];
const V6 = ['2001:db8::1', '2001:db8::2', '2001:db8:0:1::5', '::1'];
const LOCAL4 = ['127.0.0.1', '10.0.0.254'];
const LOCAL6 = ['::1', '2001:db8::fe'];
const PROTOS = ['any', 'tcp', 'tls', 'bin', 'ANY', 'TCP'];
const PORTS = [0, 5060, 5061];

const remoteArb = fc.oneof(
  fc.constantFrom(null, 'any', 'ANY'),
  fc.tuple(fc.constantFrom(...V4), fc.constantFrom('', '/0', '/8', '/16', '/23', '/24', '/31', '/32')).map(([a, p]) => a + p),
  fc.tuple(fc.constantFrom(...V6), fc.constantFrom('', '/0', '/32', '/48', '/64', '/127', '/128')).map(([a, p]) => a + p),
);

const rowArb = (id: number): fc.Arbitrary<ModelRow> =>
  fc.record({
    id: fc.constant(id),
    proto: fc.constantFrom(...PROTOS),
    remote_addr: remoteArb,
    remote_port: fc.constantFrom(...PORTS),
    local_addr: fc.constantFrom(null, 'any', ...LOCAL4, ...LOCAL6),
    local_port: fc.constantFrom(...PORTS),
    priority: fc.constantFrom(-1, 0, 0, 1),
  });

const tableArb = fc.integer({ min: 0, max: 40 }).chain((n) => fc.tuple(...Array.from({ length: n }, (_, i) => rowArb(i + 1))));

const queryArb = fc.oneof(
  fc.record({ proto: fc.constantFrom('tcp', 'tls', 'bin', 'msrp', null), remote: fc.constantFrom(...V4), rport: fc.constantFrom(...PORTS, 40000), local: fc.constantFrom(...LOCAL4, '0.0.0.0'), lport: fc.constantFrom(...PORTS, 7000) }),
  fc.record({ proto: fc.constantFrom('tcp', 'tls', 'bin', null), remote: fc.constantFrom(...V6), rport: fc.constantFrom(...PORTS, 40000), local: fc.constantFrom(...LOCAL6, '::'), lport: fc.constantFrom(...PORTS, 7000) }),
);

function full(r: ModelRow): TcpMgmRow {
  return { ...r, attrs: null, connect_timeout: 100, con_lifetime: 120, msg_read_timeout: 4, send_threshold: 0, no_new_conn: 0, alias_mode: 0, keepalive: 1, keepcount: 9, keepidle: 7200, keepinterval: 75 };
}

/** same-family rows only: a row mixing an IPv4 remote with an IPv6 local is invalid (tested elsewhere) */
const valid = (r: ModelRow): boolean => {
  const fam = (s: string | null): number => (s === null || s.toLowerCase() === 'any' ? 0 : s.includes(':') ? 6 : 4);
  const a = fam(r.remote_addr);
  const b = fam(r.local_addr);
  return a === 0 || b === 0 || a === b;
};

describe('RuleSet against the reference model', () => {
  it('first match: index = model = linear walk, for every query', () => {
    fc.assert(
      fc.property(tableArb, fc.array(queryArb, { minLength: 1, maxLength: 25 }), (rows, queries) => {
        const ok = rows.filter(valid);
        const { rules, skipped } = compileRules(ok.map(full), { version: 2 });
        expect(skipped).toEqual([]);
        for (const q of queries) {
          const pq = { proto: q.proto, remote: { host: q.remote, port: q.rport }, local: { host: q.local, port: q.lport } };
          const want = modelMatch(ok, q);
          expect(rules.match(pq)?.id, JSON.stringify(q)).toBe(want);
          expect(rules.linearMatch(pq)?.id).toBe(want);
        }
      }),
      { numRuns: 400 },
    );
  });

  it('match order (RuleSet.paths) is the model order', () => {
    fc.assert(
      fc.property(tableArb, (rows) => {
        const ok = rows.filter(valid);
        const { rules } = compileRules(ok.map(full), { version: 2 });
        expect(rules.paths.map((p) => p.id)).toEqual(modelSort(ok).map((r) => r.id));
      }),
      { numRuns: 300 },
    );
  });

  it('rules shuffled in the table give the same answers', () => {
    fc.assert(
      fc.property(tableArb.chain((rows) => fc.tuple(fc.constant(rows), fc.shuffledSubarray(rows, { minLength: rows.length, maxLength: rows.length }))), fc.array(queryArb, { minLength: 1, maxLength: 10 }), ([rows, shuffled], queries) => {
        const a = compileRules(rows.filter(valid).map(full), { version: 2 }).rules;
        const b = compileRules(shuffled.filter(valid).map(full), { version: 2 }).rules;
        for (const q of queries) {
          const pq = { proto: q.proto, remote: { host: q.remote, port: q.rport }, local: { host: q.local, port: q.lport } };
          expect(b.match(pq)?.id).toBe(a.match(pq)?.id);
        }
      }),
      { numRuns: 150 },
    );
  });
});
