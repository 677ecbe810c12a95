// Every publishable package, packed as `pnpm publish` would pack it, must contain only its
// build output and docs, and must install from the tarball alone (plus the tarballs of its
// workspace dependencies) and import with the same exports as the workspace build.
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codeSubpaths, exportTargets, publishable, repoRoot, run, runtimeWorkspaceDeps, workspacePackages } from './workspace.js';
import type { Manifest, WorkspacePackage } from './workspace.js';

const root = repoRoot();
const all = workspacePackages(root);
const packages = publishable(root);
const tarballs = new Map<string, string>();
let packDir = '';
let buildLog = '';
const temps: string[] = [];

// bin/*.mjs: small launchers that exist before the build (so a fresh install links the bins)
const ALLOWED = /^package\/(dist\/.+|bin\/[^/]+\.mjs|README\.md|package\.json|LICENSE(\.md|\.txt)?)$/;

async function tempDir(prefix: string): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), prefix));
  temps.push(d);
  return d;
}

/** Sorted export names of `specifier` as Node resolves it from `cwd` (import condition). */
async function exportNames(cwd: string, specifier: string): Promise<string[]> {
  const code = `const m = await import(${JSON.stringify(specifier)}); console.log(JSON.stringify(Object.keys(m).sort()));`;
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', code], { cwd, timeout: 30_000 });
  return JSON.parse(stdout.trim().split('\n').pop()!) as string[];
}

beforeAll(async () => {
  // turbo builds every publishable package before this task (they are devDependencies of
  // @x/release-test, and test dependsOn ^build); a missing dist/ fails that package's test below.
  packDir = await tempDir('x-release-pack-');
  for (const p of packages) {
    if (!existsSync(join(p.dir, 'dist'))) buildLog += `\n${p.manifest.name}: no dist/ (run \`pnpm build\` first)`;
  }
  // one destination per package, all packed at once (pnpm pack is mostly waiting on I/O)
  await Promise.all(
    packages.map(async (p) => {
      const dest = join(packDir, p.manifest.name.replace(/\W/g, '_'));
      try {
        await run('corepack', ['pnpm', 'pack', '--pack-destination', dest], { cwd: p.dir, timeout: 60_000 });
      } catch (e) {
        buildLog += `\npack ${p.manifest.name}: ${String(e)}`;
        return;
      }
      const made = (await readdir(dest)).filter((f) => f.endsWith('.tgz'));
      if (made.length !== 1) buildLog += `\npack ${p.manifest.name}: ${made.length} tarballs in ${dest}`;
      else tarballs.set(p.manifest.name, join(dest, made[0]!));
    }),
  );
});

afterAll(async () => {
  await Promise.all(temps.map((d) => rm(d, { recursive: true, force: true })));
});

describe('publishable packages', () => {
  it('are discovered from the workspace, not a fixed list', () => {
    expect(packages.length).toBeGreaterThan(0);
    for (const p of packages) expect(p.manifest.private).not.toBe(true);
    // Private tooling never ships.
    expect(packages.map((p) => p.manifest.name)).not.toContain('@x/config');
  });

  // each package's checks are independent: run them side by side (npm installs wait on I/O)
  describe.concurrent.each(packages.map((p) => [p.manifest.name, p] as [string, WorkspacePackage]))('%s', (name, pkg) => {
    it('packs only dist/**, bin/*.mjs, README.md, package.json and LICENSE, with every export and bin target present', async ({ expect }) => {
      const tgz = tarballs.get(name);
      expect(tgz, `no tarball for ${name}; build/pack log:\n${buildLog}`).toBeDefined();
      const { stdout } = await run('tar', ['-tzf', tgz!]);
      const entries = stdout.split('\n').filter(Boolean);
      const stray = entries.filter((e) => !ALLOWED.test(e));
      expect(stray, 'files outside dist/, README.md, package.json, LICENSE').toEqual([]);
      expect(entries).toContain('package/package.json');
      expect(entries).toContain('package/README.md');
      for (const target of exportTargets(pkg.manifest)) {
        expect(entries, `export target ${target} missing from the tarball`).toContain(`package/${target}`);
      }
      expect(entries, 'a LICENSE in every package').toContain('package/LICENSE');
      const packed = JSON.parse((await run('tar', ['-xzOf', tgz!, 'package/package.json'])).stdout) as Manifest;
      expect(packed.version).toBe(pkg.manifest.version);
      // the packed manifest names nothing a consumer cannot have: no devDependencies (private
      // workspace tooling), and every export / bin target of any condition is in the tarball
      expect((packed as { devDependencies?: unknown }).devDependencies).toBeUndefined();
      const targets: string[] = [];
      const walk = (v: unknown): void => {
        if (typeof v === 'string') targets.push(v);
        else if (v && typeof v === 'object') for (const x of Object.values(v)) walk(x);
      };
      walk(packed.exports);
      walk((packed as { bin?: unknown }).bin);
      for (const t of targets) expect(entries, `packed package.json points at ${t}, which is not in the tarball`).toContain(`package/${t.replace(/^\.\//, '')}`);
      // pnpm must have rewritten workspace: ranges into real semver ranges.
      expect(JSON.stringify(packed.dependencies ?? {})).not.toContain('workspace:');
      expect(JSON.stringify(packed.peerDependencies ?? {})).not.toContain('workspace:');
    });

    it('installs from tarballs with npm and imports with the workspace build\'s exports', async ({ expect }) => {
      const tgz = tarballs.get(name);
      expect(tgz, `no tarball for ${name}; build/pack log:\n${buildLog}`).toBeDefined();
      const deps = runtimeWorkspaceDeps(pkg, all);
      const depTarballs = deps.map((d) => tarballs.get(d.manifest.name));
      expect(depTarballs, `tarballs of ${deps.map((d) => d.manifest.name).join(', ')}`).not.toContain(undefined);
      const consumer = await tempDir('x-release-consumer-');
      await writeFile(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
      await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--ignore-scripts', '--loglevel=error',
        tgz!, ...(depTarballs as string[])], { cwd: consumer, timeout: 80_000, maxBuffer: 16 << 20 });

      const optionalPeers = Object.keys((pkg.manifest as { peerDependenciesMeta?: object }).peerDependenciesMeta ?? {});
      for (const sub of codeSubpaths(pkg.manifest)) {
        const specifier = sub === '.' ? name : `${name}/${sub.slice(2)}`;
        // Self-reference from the package's own folder resolves to its dist/ via "import".
        const expected = await exportNames(pkg.dir, specifier);
        expect(expected.length, `${specifier} exports nothing`).toBeGreaterThan(0);
        try {
          expect(await exportNames(consumer, specifier), specifier).toEqual(expected);
        } catch (e) {
          // A subpath built on an optional peer (e.g. a testing entry needing vitest) may only
          // fail for that peer's absence; anything else is a broken package.
          const msg = String((e as { stderr?: string }).stderr ?? e);
          const missing = /Cannot find package '([^']+)'/.exec(msg)?.[1];
          if (!missing || !optionalPeers.includes(missing)) throw e;
        }
      }
    });
  });
});
