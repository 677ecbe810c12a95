// Kamailio 5.6 itself checks every config the builders write (`kamailio -c`): the benches' responder
// (with and without siptrace), which no interop test starts, and the recipes the interop tests do.
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { kamailioConfig } from '../../bench/kamailio.mjs';
import { kamailioModuleDir, makeTempDir, requireBinary, runBounded, sipcaptureConfig, sipcaptureLogConfig, sipcaptureTcpFrontConfig, writeKamailioConfig } from '../../src/index.js';

describe('kamailio -c accepts what the builders write', () => {
  const configs: Record<string, string> = {
    'bench responder': kamailioConfig(5070),
    'bench responder + siptrace tcp': kamailioConfig(5070, { siptrace: { port: 9000, transport: 'tcp' } }),
    'bench responder + siptrace udp': kamailioConfig(5070, { siptrace: { port: 9000, transport: 'udp' } }),
    stateless: writeKamailioConfig('stateless', { port: 5060, logRequests: true }),
    'stateless, load': writeKamailioConfig('stateless', { port: 5060, load: true }),
    sipcapture: sipcaptureConfig(9060, 'capture.db'),
    'sipcapture HEP-over-TCP front': sipcaptureTcpFrontConfig(9061, 9060, 'capture.db'),
    'sipcapture logger': sipcaptureLogConfig(9062, 'capture.db'),
  };
  for (const [name, text] of Object.entries(configs)) {
    it(name, async () => {
      const bin = requireBinary('kamailio');
      const dir = makeTempDir('x-kam-check-');
      const cfg = join(dir, 'kamailio.cfg');
      writeFileSync(cfg, text.replaceAll('capture.db', join(dir, 'capture.db')));
      const r = await runBounded(bin, ['-c', '-f', cfg, '-L', kamailioModuleDir(), '-Y', dir], 30, dir);
      expect(r.code, `${r.stderr.slice(-2000)}${r.stdout.slice(-500)}`).toBe(0);
    });
  }
});
