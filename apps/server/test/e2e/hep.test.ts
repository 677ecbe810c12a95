import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packHep } from '@x/proto-hep';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, optionsRequest, PKG, startX, tempDir, writeFiles, type Running } from './helpers.js';

const running: Running[] = [];
afterEach(() => {
  for (const r of running.splice(0)) r.kill();
});
beforeAll(() => {
  ensureBuilt();
});

describe('x-server with proto_hep', () => {
  it('runs the hep route for a HEPv3 packet received on the hep_udp listener', async () => {
    const dir = tempDir();
    const cfg = readFileSync(join(PKG, 'config', 'x.cfg'), 'utf8')
      .replace(/(socket = [a-z_]+:127\.0\.0\.1):\d+/g, '$1:0')
      .replace('modparam("httpd", "port", 8888)', 'modparam("httpd", "port", 0)');
    writeFiles(dir, { 'x.cfg': cfg, 'routes.mjs': readFileSync(join(PKG, 'config', 'routes.mjs'), 'utf8') });
    const x = await startX(join(dir, 'x.cfg'));
    running.push(x);
    const payload = optionsRequest(7, 5060);
    const pkt = packHep({ host: '10.1.2.3', port: 5060 }, { host: '10.1.2.4', port: 5060 }, 'udp', payload);
    const sock = createSocket('udp4');
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
    const from = sock.address().port;
    sock.send(pkt, x.ports.get('hep_udp')!, '127.0.0.1');
    let line: (typeof x.lines)[number] | undefined;
    for (let i = 0; i < 100 && !line; i++) {
      await new Promise((r) => setTimeout(r, 20));
      line = x.lines.find((l) => l.module === 'route' && typeof l.msg === 'string' && l.msg.startsWith('HEP packet'));
    }
    sock.close();
    expect(line).toMatchObject({ msg: `HEP packet from 127.0.0.1:${from}`, si: '127.0.0.1', sp: from, proto: 'hep_udp', bytes: Buffer.byteLength(payload) });
    x.child.kill('SIGTERM');
    expect((await x.exited).code).toBe(0);
  });
});
