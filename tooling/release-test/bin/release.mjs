#!/usr/bin/env node
// `pnpm release [--dry-run] [--offline] [--registry <url>]`: versions the packages named by
// the pending changesets (and their dependents), refreshes the lockfile, builds, proves every
// publishable package packs and installs alone, then publishes.
//
//   --dry-run         everything but the upload: each bumped public package goes through
//                     `pnpm publish --dry-run` with npm forced offline, so nothing is written to
//                     (or read from) a registry; prints one `would publish <name>@<version>` line
//                     per package. Versions, changelogs and the lockfile ARE written locally.
//   --offline         install from the pnpm store only (the lockfile refresh never fetches).
//   --registry <url>  the registry to publish to (default: npm's configuration).
//   --skip-build      use each package's dist/ as it is (built by CI from the same tree, or
//                     copied in); refuses to go on when a publishable package has none.
//   --skip-pack-proof leave out the pack/install/import proof (release-test's pack.test.ts),
//                     for a caller that runs that proof itself on the same build.
//
// Plain Node ESM, no dependencies: it drives the workspace's own changesets, pnpm and turbo.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const USAGE = 'usage: pnpm release [--dry-run] [--offline] [--registry <url>] [--skip-build] [--skip-pack-proof]';

function parseArgs(argv) {
  const opts = { dryRun: false, offline: false, registry: undefined, skipBuild: false, skipPackProof: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') continue;
    if (a === '--dry-run') opts.dryRun = true;
    else if (a === '--offline') opts.offline = true;
    else if (a === '--skip-build') opts.skipBuild = true;
    else if (a === '--skip-pack-proof') opts.skipPackProof = true;
    else if (a === '--registry' || a.startsWith('--registry=')) {
      const v = a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[++i];
      if (!v || !/^https?:\/\//.test(v)) throw new Error(`--registry needs an http(s) URL\n${USAGE}`);
      opts.registry = v;
    } else if (a === '--help' || a === '-h') {
      console.log(USAGE);
      process.exit(0);
    } else throw new Error(`unknown option ${a}\n${USAGE}`);
  }
  return opts;
}

/** The monorepo root: the nearest ancestor of this script holding pnpm-workspace.yaml. */
function repoRoot() {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'pnpm-workspace.yaml'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('pnpm-workspace.yaml not found above the release script');
    dir = up;
  }
  return dir;
}

/** Workspace packages from pnpm-workspace.yaml's `- folder/*` entries, with their manifests. */
function workspacePackages(root) {
  const yaml = readFileSync(join(root, 'pnpm-workspace.yaml'), 'utf8');
  const block = /^packages:\s*\n((?:[ \t]+.*\n?|\s*\n)*)/m.exec(yaml)?.[1] ?? '';
  const globs = [...block.matchAll(/^\s*-\s*['"]?([^'"\s#]+)['"]?\s*$/gm)].map((m) => m[1]);
  if (globs.length === 0) throw new Error('pnpm-workspace.yaml: no `packages:` entries');
  const out = [];
  for (const glob of globs) {
    if (!glob.endsWith('/*')) throw new Error(`pnpm-workspace.yaml: only "folder/*" entries are supported, got ${glob}`);
    const base = join(root, glob.slice(0, -2));
    if (!existsSync(base)) continue;
    for (const name of readdirSync(base).sort()) {
      const file = join(base, name, 'package.json');
      if (existsSync(file)) out.push({ dir: join(base, name), manifest: JSON.parse(readFileSync(file, 'utf8')) });
    }
  }
  return out;
}

/** pnpm as the running one (`pnpm release` sets npm_execpath), else through corepack. */
function pnpmCommand() {
  const exec = process.env.npm_execpath;
  if (exec && /pnpm\.c?js$/.test(exec)) return [process.execPath, [exec]];
  return ['corepack', ['pnpm']];
}

/** Runs a command; resolves with its stdout when `capture`, rejects on a non-zero exit. */
function sh(cmd, args, { cwd, env, capture = false } = {}) {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, {
      cwd, env: { ...process.env, ...env }, stdio: ['ignore', capture ? 'pipe' : 'inherit', 'inherit'],
    });
    let stdout = '';
    child.stdout?.setEncoding('utf8').on('data', (d) => { stdout += d; });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code === 0) resolvePromise(stdout);
      else reject(new Error(`${[cmd, ...args].join(' ')} exited with ${signal ?? code}${capture ? `\n${stdout}` : ''}`));
    });
  });
}

/** Orders packages so every package comes after the workspace packages it depends on. */
function topological(pkgs) {
  const byName = new Map(pkgs.map((p) => [p.manifest.name, p]));
  const done = new Set();
  const out = [];
  const visit = (p, path) => {
    if (done.has(p.manifest.name)) return;
    if (path.includes(p.manifest.name)) throw new Error(`dependency cycle: ${[...path, p.manifest.name].join(' -> ')}`);
    const deps = { ...p.manifest.dependencies, ...p.manifest.peerDependencies, ...p.manifest.optionalDependencies };
    for (const d of Object.keys(deps)) {
      const dep = byName.get(d);
      if (dep) visit(dep, [...path, p.manifest.name]);
    }
    done.add(p.manifest.name);
    out.push(p);
  };
  for (const p of pkgs) visit(p, []);
  return out;
}

/** npm's `publish --json` report: `{ name, version, ... }` (npm ≤ 10) or keyed by name (npm 11). */
function publishReport(stdout, name) {
  const start = stdout.search(/^\{/m);
  if (start < 0) throw new Error(`no JSON report from the dry publish of ${name}:\n${stdout}`);
  const json = JSON.parse(stdout.slice(start));
  return json[name] ?? json;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const root = repoRoot();
  const [pnpm, pnpmArgs] = pnpmCommand();
  const run = (args, more) => sh(pnpm, [...pnpmArgs, ...args], { cwd: root, ...more });
  const step = (text) => console.log(`\nrelease${opts.dryRun ? ' (dry run)' : ''}: ${text}`);

  const before = new Map(workspacePackages(root).map((p) => [p.manifest.name, p.manifest.version]));

  if (opts.skipBuild) {
    // checked before anything is written, so a refused run leaves the tree as it was
    const unbuilt = workspacePackages(root).filter((p) => !p.manifest.private && !existsSync(join(p.dir, 'dist')));
    if (unbuilt.length > 0) throw new Error(`--skip-build: no dist/ in ${unbuilt.map((p) => relative(root, p.dir)).join(', ')}`);
  }

  step('changeset version');
  await run(['exec', 'changeset', 'version']);

  step('refresh the lockfile');
  await run(['install', '--no-frozen-lockfile', opts.offline ? '--offline' : '--prefer-offline']);

  if (opts.skipBuild) {
    step('build skipped (--skip-build): publishing the dist/ already there');
  } else {
    step('build (turbo)');
    await run(['run', 'build']);
  }

  // Only the pack proof: the versioning proof (test/version.test.ts) runs this script itself.
  if (opts.skipPackProof) step('pack proof skipped (--skip-pack-proof)');
  else {
    step('pack, install and import every publishable package (release-test pack.test.ts)');
    await run(['--filter', '@x/release-test', 'exec', 'vitest', 'run', 'test/pack.test.ts']);
  }

  const after = workspacePackages(root);
  const bumped = after.filter((p) => before.get(p.manifest.name) !== p.manifest.version);
  for (const p of bumped) {
    console.log(`versioned ${p.manifest.name} ${before.get(p.manifest.name) ?? '(new)'} -> ${p.manifest.version}${p.manifest.private ? ' (private, not published)' : ''}`);
  }
  const toPublish = topological(bumped.filter((p) => !p.manifest.private));
  const registryEnv = opts.registry ? { npm_config_registry: opts.registry } : {};

  if (!opts.dryRun) {
    step('changeset publish');
    await run(['exec', 'changeset', 'publish'], { env: registryEnv });
    return;
  }

  const config = JSON.parse(readFileSync(join(root, '.changeset', 'config.json'), 'utf8'));
  step(`pnpm publish --dry-run of ${toPublish.length} bumped public package(s), npm offline`);
  for (const p of toPublish) {
    // The flags `changeset publish` passes, plus --dry-run; offline so npm neither checks the
    // registry for the version nor asks who is logged in.
    const args = ['publish', '--dry-run', '--json', '--access', config.access ?? 'restricted', '--tag', 'latest', '--no-git-checks'];
    const stdout = await sh(pnpm, [...pnpmArgs, ...args], {
      cwd: p.dir, capture: true, env: { ...registryEnv, npm_config_dry_run: 'true', npm_config_offline: 'true' },
    });
    const report = publishReport(stdout, p.manifest.name);
    if (report.name !== p.manifest.name || report.version !== p.manifest.version) {
      throw new Error(`dry publish in ${relative(root, p.dir)} reported ${report.name}@${report.version}, expected ${p.manifest.name}@${p.manifest.version}`);
    }
    console.log(`would publish ${report.name}@${report.version} (${report.entryCount ?? report.files?.length ?? '?'} files, ${report.size ?? '?'} bytes packed) from ${relative(root, p.dir) || '.'}`);
  }
  if (toPublish.length === 0) console.log('would publish nothing: no pending changeset bumped a public package');
}

main().catch((e) => {
  console.error(`\nrelease failed: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
