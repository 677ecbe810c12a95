import pkg from '../package.json' with { type: 'json' };

export const VERSION: string = pkg.version;

declare const __X_GIT_REVISION__: string | undefined;

/**
 * What MI `version revision` adds, as OpenSIPS's VERSIONTYPE / THISREVISION ("git":
 * "e6c1a35a34"): the git revision the dist was built from, else the npm version.
 */
export const REVISION: { type: string; value: string } =
  typeof __X_GIT_REVISION__ === 'string' && __X_GIT_REVISION__ !== '' ? { type: 'git', value: __X_GIT_REVISION__ } : { type: 'npm', value: VERSION };
