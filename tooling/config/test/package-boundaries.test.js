// The x/package-boundaries rule on files of this workspace (it reads the real package.json
// "exports" of every package): public entry points pass, deep and cross-package relative
// imports fail.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RuleTester } from 'eslint';
import { afterAll, describe, it } from 'vitest';
import rule from '../eslint-rules/package-boundaries.js';

RuleTester.describe = describe;
RuleTester.it = it;
RuleTester.itOnly = it.only;
RuleTester.afterAll = afterAll;

const root = fileURLToPath(new URL('../../..', import.meta.url));
const inTcp = join(root, 'packages', 'proto-tcp', 'src', 'module', 'x.ts');
const inServer = join(root, 'apps', 'server', 'src', 'x.ts');
const tester = new RuleTester({ languageOptions: { ecmaVersion: 2022, sourceType: 'module' } });

tester.run('x/package-boundaries', rule, {
  valid: [
    { filename: inTcp, code: "import { createEngine } from '@x/core-conn';" },
    { filename: inTcp, code: "import { runFramerCompliance } from '@x/core-conn/testing';" },
    { filename: inTcp, code: "export * from '@x/core-conn';" },
    { filename: inTcp, code: "import { a } from '../params.js'; import b from './y.js';" },
    { filename: inTcp, code: "import { x } from '../../test/helpers.js';" },
    { filename: inServer, code: "const m = await import('@x/proto-hep');" },
    { filename: inServer, code: "import pino from 'pino'; import { join } from 'node:path';" },
    { filename: inServer, code: "import cfg from '@x/config/eslint';" },
  ],
  invalid: [
    { filename: inTcp, code: "import { Conn } from '@x/core-conn/src/engine/connection.js';", errors: [{ messageId: 'deep' }] },
    { filename: inTcp, code: "import { x } from '@x/core-conn/dist/index.js';", errors: [{ messageId: 'deep' }] },
    { filename: inTcp, code: "export { x } from '@x/core-conn/engine';", errors: [{ messageId: 'deep' }] },
    { filename: inTcp, code: "import { x } from '../../../core-conn/src/index.js';", errors: [{ messageId: 'relative' }] },
    { filename: inServer, code: "import { x } from '../../../packages/proto-hep/src/hep.js';", errors: [{ messageId: 'relative' }] },
    { filename: inServer, code: "const m = await import('@x/tracing/src/module.js');", errors: [{ messageId: 'deep' }] },
  ],
});
