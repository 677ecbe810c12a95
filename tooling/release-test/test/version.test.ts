// The release flow, dry: in a clone of the committed tree, with one changeset touching only
// @x/core-conn, `pnpm release --dry-run` must bump core-conn (minor) and exactly the packages
// that depend on it at runtime (patch, transitively), say it would publish exactly those that
// are public, upload nothing, and the packed dependents must point at the new version.
import { cpSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readManifest, repoRoot, run, workspacePackages } from './workspace.js';
import type { Manifest, WorkspacePackage } from './workspace.js';

const root = repoRoot();
const TARGET = '@x/core-conn';
let tmp = '';
let clone = '';
let before: WorkspacePackage[] = [];
let plan: { releases: { name: string; type: string; oldVersion: string; newVersion: string }[] } = { releases: [] };
let releaseOut = '';
let refusedOut = '';
let changesetsLeft: string[] = [];
let registryUrl = '';
let registry: Server | undefined;
/** Every request the throwaway registry received: a dry run must send none. */
const registryHits: string[] = [];

const changesetBin = join(root, 'node_modules', '@changesets', 'cli', 'bin.js');
const changeset = (args: string[]) => run(process.execPath, [changesetBin, ...args], { cwd: clone, timeout: 60_000 });

/** The environment of a child run in the clone: no CI report dir (its vitest runs are not ours). */
function cloneEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, COREPACK_ENABLE_DOWNLOAD_PROMPT: '0' };
  delete env.X_VITEST_JSON_DIR;
  return env;
}

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
  // changesets measures from the base branch "main": a clone of another branch (a worktree) has
  // none locally; name the cloned commit so, as it is on a clone of main
  await run('git', ['rev-parse', '--verify', '--quiet', 'refs/heads/main'], { cwd: clone }).catch(() => run('git', ['branch', 'main', 'HEAD'], { cwd: clone }));
  // Pending changesets of other work would blur what this one releases: keep only ours.
  const dir = join(clone, '.changeset');
  for (const f of readdirSync(dir)) if (f.endsWith('.md') && f !== 'README.md') rmSync(join(dir, f));
  writeFileSync(join(dir, 'release-test-probe.md'), `---\n"${TARGET}": minor\n---\n\nRelease-test probe.\n`);
  before = workspacePackages(clone);
  await changeset(['status', `--output=${join(tmp, 'plan.json')}`]);
  plan = JSON.parse(readFileSync(join(tmp, 'plan.json'), 'utf8')) as typeof plan;

  // A throwaway registry on 127.0.0.1 that records and refuses everything: the dry run is
  // pointed at it, so an upload (or any registry call) would show up here.
  registry = createServer((req, res) => {
    registryHits.push(`${req.method ?? '?'} ${req.url ?? ''}`);
    req.resume();
    res.writeHead(418, { 'content-type': 'application/json' }).end('{"error":"release-test registry: no requests expected"}');
  });
  await new Promise<void>((ok) => registry!.listen(0, '127.0.0.1', ok));
  registryUrl = `http://127.0.0.1:${(registry.address() as AddressInfo).port}/`;

  // The clone's dependencies, from the store only; esbuild's binary comes with its platform package.
  await run('corepack', ['pnpm', 'install', '--offline', '--no-frozen-lockfile', '--ignore-scripts'], {
    cwd: clone, env: cloneEnv(), timeout: 90_000, maxBuffer: 16 << 20,
  });
  // --skip-build with nothing built is refused before anything is written
  refusedOut = await run('corepack', ['pnpm', 'release', '--dry-run', '--offline', '--skip-build', '--skip-pack-proof', '--registry', registryUrl], {
    cwd: clone, env: cloneEnv(), timeout: 60_000, maxBuffer: 16 << 20,
  }).then((r) => `exit 0\n${r.stdout}\n${r.stderr}`, (e: { stdout?: string; stderr?: string }) => `${e.stdout ?? ''}\n${e.stderr ?? ''}`);
  changesetsLeft = readdirSync(join(clone, '.changeset')).filter((f) => f.endsWith('.md') && f !== 'README.md');

  // CI builds once: the clone publishes the workspace's build (same sources: only versions
  // differ), and the pack proof is pack.test.ts of this same run, so neither is redone here.
  for (const p of before) {
    const built = join(root, relative(clone, p.dir), 'dist');
    if (!p.manifest.private && existsSync(built)) cpSync(built, join(p.dir, 'dist'), { recursive: true });
  }
  try {
    const r = await run('corepack', ['pnpm', 'release', '--dry-run', '--offline', '--skip-build', '--skip-pack-proof', '--registry', registryUrl], {
      cwd: clone, env: cloneEnv(), timeout: 240_000, maxBuffer: 64 << 20,
    });
    releaseOut = `${r.stdout}\n${r.stderr}`;
  } catch (e) {
    const { stdout = '', stderr = '' } = e as { stdout?: string; stderr?: string };
    throw new Error(`pnpm release --dry-run failed: ${String(e)}\n${stdout.slice(-4000)}\n${stderr.slice(-4000)}`);
  }
}, 300_000);

afterAll(async () => {
  if (registry) await new Promise((ok) => registry!.close(ok));
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe('pnpm release --dry-run for a core-conn-only change', () => {
  it('--skip-build with a package unbuilt is refused before any version is written', () => {
    expect(refusedOut).not.toMatch(/^exit 0/);
    expect(refusedOut).toMatch(/--skip-build: no dist\/ in .*packages\/core-conn/);
    expect(changesetsLeft).toEqual(['release-test-probe.md']);
    expect(refusedOut).not.toContain('changeset version');
  });

  it('publishes the workspace build as it is and leaves the pack proof to pack.test.ts', () => {
    expect(releaseOut).toContain('build skipped (--skip-build)');
    expect(releaseOut).toContain('pack proof skipped (--skip-pack-proof)');
    expect(releaseOut).not.toContain('build (turbo)');
  });

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

  it('would publish exactly the bumped public packages, at their new versions, uploading nothing', () => {
    const expected = expectedBumps(versionable(before));
    const bumpedPublic = before.filter((p) => expected.has(p.manifest.name) && !p.manifest.private);
    const would = [...releaseOut.matchAll(/^would publish (\S+)@(\d+\.\d+\.\d+\S*) /gm)].map((m) => `${m[1]}@${m[2]}`);
    expect(new Set(would), releaseOut.slice(-3000))
      .toEqual(new Set(bumpedPublic.map((p) => `${p.manifest.name}@${readManifest(p.dir).version}`)));
    expect(would.length, 'each package published once').toBe(bumpedPublic.length);
    // npm was really asked (dry) to publish to the throwaway registry, and it saw no request.
    expect(releaseOut).toContain(`Publishing to ${registryUrl}`);
    expect(registryHits).toEqual([]);
    // Dependencies are published before their dependents.
    expect(would[0]).toBe(`${TARGET}@${readManifest(join(clone, 'packages', 'core-conn')).version}`);
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
