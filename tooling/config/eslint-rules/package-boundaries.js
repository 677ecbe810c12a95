// x/package-boundaries: an import from one workspace package into another goes through the
// other package's public entry points (its package.json "exports"), never into its files:
// no `@x/foo/src/...`, `@x/foo/dist/...` or any subpath foo does not export, and no relative
// path (`../../foo/src/x.js`) that leaves the importing package's folder.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve, sep } from 'node:path';

/** the workspace root: the nearest folder up from `from` with a pnpm-workspace.yaml */
function workspaceRoot(from) {
  let dir = from;
  for (;;) {
    if (existsSync(join(dir, 'pnpm-workspace.yaml'))) return dir;
    const up = dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
}

const cache = new Map();
/** the workspace's packages: folder -> { name, exports (subpaths, '.'-relative) } */
function workspacePackages(root) {
  let pkgs = cache.get(root);
  if (pkgs) return pkgs;
  pkgs = [];
  for (const group of ['packages', 'apps', 'tooling']) {
    const base = join(root, group);
    if (!existsSync(base)) continue;
    for (const d of readdirSync(base, { withFileTypes: true })) {
      if (!d.isDirectory()) continue;
      const file = join(base, d.name, 'package.json');
      if (!existsSync(file)) continue;
      const pj = JSON.parse(readFileSync(file, 'utf8'));
      const exp = pj.exports;
      const subpaths = exp === undefined ? ['.'] : typeof exp === 'string' || Array.isArray(exp) || !Object.keys(exp).some((k) => k.startsWith('.')) ? ['.'] : Object.keys(exp);
      pkgs.push({ dir: join(base, d.name), name: pj.name, subpaths });
    }
  }
  cache.set(root, pkgs);
  return pkgs;
}

/** the workspace package whose folder holds `path` (the longest match) */
function packageOf(pkgs, path) {
  let best;
  for (const p of pkgs) {
    if ((path === p.dir || path.startsWith(p.dir + sep)) && (!best || p.dir.length > best.dir.length)) best = p;
  }
  return best;
}

/** whether `subpath` ('./testing') is one of the exported subpaths (a `*` pattern matches any text) */
function exported(subpaths, subpath) {
  return subpaths.some((s) => {
    if (!s.includes('*')) return s === subpath;
    const [pre, post] = s.split('*');
    return subpath.startsWith(pre) && subpath.endsWith(post) && subpath.length >= pre.length + post.length;
  });
}

export default {
  meta: {
    type: 'problem',
    docs: { description: "imports between workspace packages go through the other package's public entry points" },
    schema: [],
    messages: {
      deep: 'import of "{{source}}": {{pkg}} exports no "{{subpath}}" (exports: {{list}}); import its public entry point instead',
      relative: 'import of "{{source}}" leaves {{from}} for {{to}}: import "{{to}}" (its public entry point) instead',
    },
  },
  create(context) {
    const file = context.physicalFilename ?? context.filename;
    const root = workspaceRoot(dirname(file));
    if (!root) return {};
    const pkgs = workspacePackages(root);
    const here = packageOf(pkgs, file);
    const check = (node, source) => {
      if (typeof source !== 'string') return;
      if (source.startsWith('.')) {
        if (!here) return;
        const target = resolve(dirname(file), source);
        const there = packageOf(pkgs, target);
        if (there && there !== here) context.report({ node, messageId: 'relative', data: { source, from: here.name, to: there.name } });
        return;
      }
      const target = pkgs.find((p) => source === p.name || source.startsWith(`${p.name}/`));
      if (!target || target === here) return;
      const subpath = source === target.name ? '.' : `.${source.slice(target.name.length)}`;
      if (!exported(target.subpaths, subpath)) {
        context.report({ node, messageId: 'deep', data: { source, pkg: target.name, subpath, list: target.subpaths.join(', ') } });
      }
    };
    const fromSource = (node) => check(node.source ?? node, node.source?.value);
    return {
      ImportDeclaration: fromSource,
      ExportAllDeclaration: fromSource,
      ExportNamedDeclaration: (node) => node.source && fromSource(node),
      ImportExpression: (node) => node.source.type === 'Literal' && check(node.source, node.source.value),
      TSImportType: (node) => {
        const arg = node.argument?.type === 'TSLiteralType' ? node.argument.literal : node.argument;
        if (arg?.type === 'Literal') check(arg, arg.value);
      },
    };
  },
};
