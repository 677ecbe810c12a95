// Reading the workspace the way a release sees it: which packages exist, which are published.
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

export const run = promisify(execFile);

export interface Manifest {
  name: string;
  version: string;
  private?: boolean;
  exports?: Record<string, unknown>;
  files?: string[];
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}

export interface WorkspacePackage {
  dir: string;
  manifest: Manifest;
}

/** The monorepo root: the nearest ancestor holding pnpm-workspace.yaml. */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'pnpm-workspace.yaml'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('pnpm-workspace.yaml not found above the test');
    dir = up;
  }
  return dir;
}

export function readManifest(dir: string): Manifest {
  return JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Manifest;
}

/** Every workspace package under the given top-level folders, whatever is present today. */
export function workspacePackages(root: string, folders = ['packages', 'apps', 'tooling']): WorkspacePackage[] {
  const out: WorkspacePackage[] = [];
  for (const folder of folders) {
    const base = join(root, folder);
    if (!existsSync(base)) continue;
    for (const name of readdirSync(base).sort()) {
      const dir = join(base, name);
      if (existsSync(join(dir, 'package.json'))) out.push({ dir, manifest: readManifest(dir) });
    }
  }
  return out;
}

/** Packages a release publishes: packages/* and apps/*, minus private ones. */
export function publishable(root: string): WorkspacePackage[] {
  return workspacePackages(root, ['packages', 'apps']).filter((p) => !p.manifest.private);
}

/** Names of workspace packages `pkg` needs at runtime (dependencies + peers), transitively. */
export function runtimeWorkspaceDeps(pkg: WorkspacePackage, all: WorkspacePackage[]): WorkspacePackage[] {
  const byName = new Map(all.map((p) => [p.manifest.name, p]));
  const seen = new Map<string, WorkspacePackage>();
  const visit = (p: WorkspacePackage) => {
    for (const dep of Object.keys({ ...p.manifest.dependencies, ...p.manifest.peerDependencies })) {
      const w = byName.get(dep);
      if (w && !seen.has(dep)) {
        seen.set(dep, w);
        visit(w);
      }
    }
  };
  visit(pkg);
  return [...seen.values()];
}

/** Subpath exports that resolve to code ("." and "./x"), not "./package.json". */
export function codeSubpaths(m: Manifest): string[] {
  if (!m.exports) return ['.'];
  return Object.keys(m.exports).filter((k) => k.startsWith('.') && !k.endsWith('.json'));
}

/** Files an export map points at for the conditions a consumer uses ("types", "import"). */
export function exportTargets(m: Manifest): string[] {
  const out: string[] = [];
  for (const value of Object.values(m.exports ?? {})) {
    if (typeof value === 'string') out.push(value);
    else if (value && typeof value === 'object') {
      for (const [cond, target] of Object.entries(value as Record<string, unknown>)) {
        if ((cond === 'import' || cond === 'types' || cond === 'default') && typeof target === 'string') out.push(target);
      }
    }
  }
  return out.map((t) => t.replace(/^\.\//, ''));
}
