import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { MODULE_PACKAGES, moduleServing, resolveModule } from './catalog.js';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { dependencies: Record<string, string> };

describe('THE module table (catalog.ts)', () => {
  it('every module of the table is served by a package apps/server depends on, which exports a descriptor of that name', async () => {
    for (const [name, p] of Object.entries(MODULE_PACKAGES)) {
      expect(Object.keys(pkg.dependencies), `${name}: ${p}`).toContain(p);
      const lm = await resolveModule(name);
      expect(lm.kind === 'package' && lm.module.name, name).toBe(name);
    }
  });

  it('the "load ..." hint comes from the table: the module whose protocols serve it', async () => {
    expect(await moduleServing('tcp')).toBe('proto_tcp');
    expect(await moduleServing('tls')).toBe('proto_tls');
    expect(await moduleServing('hep_tcp')).toBe('proto_hep');
    expect(await moduleServing('bins')).toBe('proto_bins');
    expect(await moduleServing('msrps')).toBe('proto_msrp');
    expect(await moduleServing('udp')).toBeUndefined();
  });
});
