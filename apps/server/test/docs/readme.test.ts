import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type XServer } from '../../src/runtime/server.js';
import { defaultCfgOnPort0, PKG } from '../e2e/helpers.js';

const README = readFileSync(join(PKG, 'README.md'), 'utf8');

/** the table rows of a README section (first row after the header separator on) */
function tableRows(section: string): string[][] {
  const start = README.indexOf(`\n## ${section}\n`);
  expect(start, `README section "${section}"`).toBeGreaterThan(0);
  const end = README.indexOf('\n## ', start + 1);
  const body = README.slice(start, end < 0 ? undefined : end);
  return body
    .split('\n')
    .filter((l) => l.startsWith('| ') && !/^\|[-| ]+\|$/.test(l))
    .slice(1)
    .map((l) => l.slice(2, -2).split(' | '));
}

const ticked = (cell: string): string[] => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);

let server: XServer;
beforeAll(async () => {
  server = await startServer({ configText: defaultCfgOnPort0(), configName: join(PKG, 'config', 'x.cfg'), logDestination: new Writable({ write(_c, _e, cb) { cb(); } }) });
});
afterAll(async () => {
  await server.stop();
});

describe('README of @x/server matches the default config', () => {
  it('the MI table lists every command (with its alias) the default config serves, and no other', () => {
    const rows = tableRows('MI').map(([name, alias]) => [ticked(name!)[0], ticked(alias!)[0] ?? null]);
    const served = server.mi.list().map((c) => [c.name, c.aliases?.[0] ?? null]);
    expect(rows.sort()).toEqual(served.sort());
  });

  it('the statistics table lists every statistic of the default config, and no other', () => {
    const protos = [...server.config.protocols.keys()];
    const listed = new Set<string>();
    for (const [cell] of tableRows('Metrics and health')) {
      let group = '';
      for (const t of ticked(cell!)) {
        const m = /^([^:]+):(.+)$/.exec(t);
        if (m) group = m[1]!;
        const name = m ? m[2]! : t;
        for (const g of group === '<proto>' ? protos : [group]) listed.add(`${g}:${name}`);
      }
    }
    expect([...listed].sort()).toEqual(server.stats.all().map((s) => `${s.group}:${s.name}`).sort());
  });
});
