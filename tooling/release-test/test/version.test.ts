// The release flow, dry: in a clone of the committed tree, a changeset touching only
// @x/core-conn must bump core-conn (minor) and exactly the packages that depend on it at
// runtime (patch, transitively), and the packed dependents must point at the new version.
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readManifest, repoRoot, run, workspacePackages } from './workspace.js';
import type { Manifest, WorkspacePackage } from './workspace.js';

const root = repoRoot();
const TARGET = '@x/core-conn';
let tmp = '';
let clone = '';
let before: WorkspacePackage[] = [];
let plan: { releases: { name: string; type: string; oldVersion: string; newVersion: string }[] } = { releases: [] };

const changesetBin = join(root, 'node_modules', '@changesets', 'cli', 'bin.js');
const changeset = (args: string[]) => run(process.execPath, [changesetBin, ...args], { cwd: clone, timeout: 60_000 });

/** Packages changesets may version: all workspace packages minus the config's `ignore`. */
function versionable(pkgs: WorkspacePackage[]): WorkspacePackage[] {
  const cfg = JSON.parse(readFileSync(join(clone, '.changeset', 'config.json'), 'utf8')) as { ignore?: string[] };
  return pkgs.filter((p) => !(cfg.ignore ?? []).includes(p.manifest.name));
}

/** TARGET plus everything that reaches it through `dependencies`, transitively. */
function expectedBumps(pkgs: WorkspacePackage[]): Set<string> {
  const out = new Set([TARGET]);
  for (let grew = true; grew;) {
    grew = false;
    for (const p of pkgs) {
      if (out.has(p.manifest.name)) continue;
      if (Object.keys(p.manifest.dependencies ?? {}).some((d) => out.has(d))) {
        out.add(p.manifest.name);
        grew = true;
      }
    }
  }
  return out;
}

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'x-release-version-'));
  clone = join(tmp, 'repo');
  await run('git', ['clone', '--quiet', root, clone], { timeout: 60_000 });
  // Pending changesets of other work would blur what this one releases: keep only ours.
  const dir = join(clone, '.changeset');
  for (const f of readdirSync(dir)) if (f.endsWith('.md') && f !== 'README.md') rmSync(join(dir, f));
  writeFileSync(join(dir, 'release-test-probe.md'), `---\n"${TARGET}": minor\n---\n\nRelease-test probe.\n`);
  before = workspacePackages(clone);
  await changeset(['status', `--output=${join(tmp, 'plan.json')}`]);
  plan = JSON.parse(readFileSync(join(tmp, 'plan.json'), 'utf8')) as typeof plan;
  await changeset(['version']);
  // Same as the release script: refresh the lockfile after versioning (offline: nothing new).
  await run('corepack', ['pnpm', 'install', '--offline', '--no-frozen-lockfile', '--ignore-scripts'], {
    cwd: clone, timeout: 90_000, maxBuffer: 16 << 20,
  });
});

afterAll(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe('changeset version for a core-conn-only change', () => {
  it('plans core-conn minor and a patch for each runtime dependent, nothing else', () => {
    const expected = expectedBumps(versionable(before));
    // `none` is changesets' word for "range refreshed, not released" (an ignored devDependent).
    const released = plan.releases.filter((r) => r.type !== 'none');
    expect(new Set(released.map((r) => r.name))).toEqual(expected);
    for (const r of released) expect(r.type, r.name).toBe(r.name === TARGET ? 'minor' : 'patch');
    // The probe must reach beyond core-conn, or this test would prove nothing about dependents.
    expect(expected.size).toBeGreaterThan(1);
  });

  it('writes exactly those versions and changelogs; every other package is untouched', () => {
    const expected = expectedBumps(versionable(before));
    for (const p of before) {
      const after: Manifest = readManifest(p.dir);
      const [maj, min, pat] = p.manifest.version.split('.').map(Number) as [number, number, number];
      const want = p.manifest.name === TARGET ? `${maj}.${min + 1}.0`
        : expected.has(p.manifest.name) ? `${maj}.${min}.${pat + 1}` : p.manifest.version;
      expect(after.version, p.manifest.name).toBe(want);
      expect(existsSync(join(p.dir, 'CHANGELOG.md')), `${p.manifest.name} CHANGELOG`).toBe(expected.has(p.manifest.name));
    }
    expect(readdirSync(join(clone, '.changeset')).filter((f) => f.endsWith('.md') && f !== 'README.md')).toEqual([]);
  });

  it('packs each bumped dependent with its core-conn range moved to the new version', async () => {
    const core = readManifest(join(clone, 'packages', 'core-conn'));
    const dependents = versionable(before).filter((p) => p.manifest.dependencies?.[TARGET] && !p.manifest.private);
    expect(dependents.length).toBeGreaterThan(0);
    for (const p of dependents) {
      const out = join(tmp, `pack-${p.manifest.name.replace(/\W/g, '_')}`);
      await run('corepack', ['pnpm', 'pack', '--pack-destination', out], { cwd: p.dir, timeout: 60_000 });
      const tgz = readdirSync(out).find((f) => f.endsWith('.tgz'))!;
      const packed = JSON.parse((await run('tar', ['-xzOf', join(out, tgz), 'package/package.json'])).stdout) as Manifest;
      expect(packed.dependencies?.[TARGET], p.manifest.name).toBe(`^${core.version}`);
    }
  });
});
