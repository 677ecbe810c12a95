import { readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type XServer } from '../runtime/server.js';
import { handleRpc } from './jsonrpc.js';

// OpenSIPS 3.6.8's own answers to the same MI requests (captured, test/fixtures): every JSON-RPC
// exchange is replayed against x-server and compared by shape and JSON types -- errors exactly;
// results key by key (values of the kind OpenSIPS gives), except what cannot be the same: the
// processes (one here), the per-process load keys, and groups x-server does not have (rpmem,
// pkmem, dns, sql, cdb, sl).

interface Case {
  case: string;
  http_method: string;
  request: unknown;
  opensips_body: string;
}
const cases = readFileSync(new URL('../../test/fixtures/opensips-mi-3.6-responses.jsonl', import.meta.url), 'utf8')
  .split('\n')
  .filter(Boolean)
  .map((l) => JSON.parse(l) as Case)
  // HTTP-level cases (GET, PUT, notifications, empty body) are mi_http's; these are the JSON-RPC replies
  .filter((c) => c.opensips_body.startsWith('{'));

/** the JSON-RPC request text of a case (raw bodies, or method + params of the later cases) */
function requestOf(c: Case, id: number): string {
  if (c.http_method === 'POST') return c.request as string;
  return JSON.stringify({ jsonrpc: '2.0', method: c.http_method, ...(c.request === null ? {} : { params: c.request }), id });
}

/** commands of 3.6 x-server does not have (the README's MI table says so); tcp_trace is @x/tracing's */
const NOT_SUPPORTED = new Set<string>([]);

const OURS_ONLY_GROUPS = new Set(['server', 'conn', 'tcp', 'hep_udp', 'hep_tcp', 'proto_hep', 'tracing']);
const THEIRS_ONLY_GROUPS = new Set(['rpmem', 'pkmem', 'dns', 'sql', 'cdb', 'sl']);

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function typeOf(v: Json): string {
  return v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v;
}

/** compares a result of ours with OpenSIPS's; returns the differences */
function diff(caseName: string, ours: Json, theirs: Json, path = 'result'): string[] {
  if (typeOf(ours) !== typeOf(theirs)) return [`${path}: ${typeOf(ours)} vs OpenSIPS's ${typeOf(theirs)}`];
  if (Array.isArray(ours) && Array.isArray(theirs)) {
    if (theirs.length === 0 || ours.length === 0) return [];
    return diff(caseName, ours[0]!, theirs[0]!, `${path}[0]`);
  }
  if (typeOf(ours) !== 'object') return [];
  const o = ours as Record<string, Json>;
  const t = theirs as Record<string, Json>;
  const isStats = Object.keys(t).some((k) => /^[a-z]+:/.test(k)) || Object.keys(o).some((k) => /^[a-z_]+:/.test(k));
  const keep = (k: string, only: Set<string>): boolean => !(isStats && (only.has(k.split(':')[0]!) || /^load:load(1m|10m)?-proc-/.test(k)));
  const ok = Object.keys(o).filter((k) => keep(k, OURS_ONLY_GROUPS));
  const tk = Object.keys(t).filter((k) => keep(k, THEIRS_ONLY_GROUPS));
  const out: string[] = [];
  if (JSON.stringify(ok) !== JSON.stringify(tk)) out.push(`${path} keys: ${JSON.stringify(ok)} vs OpenSIPS's ${JSON.stringify(tk)}`);
  for (const k of tk) if (k in o) out.push(...diff(caseName, o[k]!, t[k]!, `${path}.${k}`));
  return out;
}

describe('MI as OpenSIPS 3.6.8 answers it (the captured requests replayed)', () => {
  let s: XServer;
  beforeAll(async () => {
    s = await startServer({
      configText: 'socket = tcp:127.0.0.1:0\nloadmodule "proto_tcp.so"\nloadmodule "httpd.so"\nloadmodule "mi_http.so"\nmodparam("httpd", "port", 0)\n',
      configName: 'mi36.cfg',
      logDestination: new Writable({ write: (_c, _e, cb) => cb() }),
    });
  });
  afterAll(() => s.stop());

  it.each(cases.map((c, i) => [c.case, c, i] as const))('%s', async (_name, c, i) => {
    const theirs = JSON.parse(c.opensips_body) as { result?: Json; error?: Json; id: Json };
    const ours = JSON.parse((await handleRpc(s.mi, requestOf(c, i))).body) as { result?: Json; error?: Json; id: Json };
    // 3.6 has no module:cmd names; x-server keeps OpenSIPS 4.0's as well, so these answer there
    if (/^[a-z]+:[a-z_]+$/.test(c.http_method) && theirs.error) {
      expect(ours.error).toBeUndefined();
      return;
    }
    if (NOT_SUPPORTED.has(c.http_method)) {
      expect(ours.error).toEqual({ code: -32601, message: 'Method not found' });
      return;
    }
    if (theirs.error !== undefined) {
      expect(ours.error ?? ours).toEqual(theirs.error);
      return;
    }
    expect(ours.error, JSON.stringify(ours.error)).toBeUndefined();
    if (c.case.startsWith('which (no params)')) {
      // every core command 3.6 lists that x-server has, in 3.6's order
      const mine = ours.result as string[];
      const common = (theirs.result as string[]).filter((n) => mine.includes(n));
      expect(mine.filter((n) => common.includes(n))).toEqual(common);
      expect(common.length).toBeGreaterThanOrEqual(14);
      return;
    }
    if (c.case === 'version positional extra') {
      // 3.6's "git": "<revision>"; x-server's dist says "git" too, run from source "npm": "<version>"
      expect(Object.keys(ours.result as object)).toEqual(['Server', expect.stringMatching(/^(git|npm)$/)]);
      return;
    }
    expect(diff(c.case, ours.result!, theirs.result!)).toEqual([]);
  });
});
