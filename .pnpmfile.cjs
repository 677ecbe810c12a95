// pnpm hooks for this workspace. beforePacking shapes the package.json that `pnpm pack` and
// `pnpm publish` put in a tarball: what only the workspace needs is left out.
'use strict';

/** Drops the "@x/source" export condition (it points at src/, which is not shipped). */
function withoutSourceCondition(exp) {
  if (exp === null || typeof exp !== 'object' || Array.isArray(exp)) return exp;
  const out = {};
  for (const [k, v] of Object.entries(exp)) {
    if (k === '@x/source') continue;
    out[k] = withoutSourceCondition(v);
  }
  return out;
}

module.exports = {
  hooks: {
    beforePacking(pkg) {
      // devDependencies name private workspace tooling (@x/config, @x/test-peers) a consumer
      // can neither install nor needs
      delete pkg.devDependencies;
      if (pkg.exports !== undefined) pkg.exports = withoutSourceCondition(pkg.exports);
      return pkg;
    },
  },
};
