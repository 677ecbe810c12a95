import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, expect, it } from 'vitest';
import type { SipTcp } from '../src/index.js';
import { rawPeer, sipReq, until } from './helpers.js';

let dir: string | undefined;
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

it('the README example runs and answers OPTIONS with 200', async () => {
  const readme = await readFile(fileURLToPath(new URL('../README.md', import.meta.url)), 'utf8');
  const code = /```ts\n([\s\S]*?)```/.exec(readme)![1]!;
  const src = pathToFileURL(fileURLToPath(new URL('../src/index.ts', import.meta.url))).href;
  dir = await mkdtemp(join(tmpdir(), 'proto-tcp-readme-'));
  const file = join(dir, 'example.ts');
  await writeFile(file, code.replace("'@x/proto-tcp'", JSON.stringify(src)).replace('tcp:127.0.0.1:5060', 'tcp:127.0.0.1:0') + '\nexport { sip };\n');
  const mod = (await import(/* @vite-ignore */ pathToFileURL(file).href)) as { sip: SipTcp };
  try {
    const peer = await rawPeer(mod.sip.listeners[0]!.address.port);
    peer.sock.write(sipReq('readme'));
    peer.sock.write(sipReq('readme-info', { method: 'INFO' }));
    await until(() => peer.messages.length === 2);
    expect(peer.messages.map((m) => m.toString().split('\r\n')[0])).toEqual(['SIP/2.0 200 OK', 'SIP/2.0 501 Not Implemented']);
    expect(peer.messages[0]!.toString()).toContain('Allow: OPTIONS\r\n');
    peer.sock.destroy();
  } finally {
    await mod.sip.close();
  }
});
