import { spawn, type ChildProcess } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { lpEngine, stopAll } from './helpers.js';
import { encode, lpSpec } from './lp-proto.js';

// A listener whose process never accepts (its event loop is parked in Atomics.wait) with a
// backlog of 1: once the accept queue is full the kernel drops further SYNs, so a connect
// hangs until our timeout. The child exits by itself after 8 s; we also kill it by its PID.
const CHILD = `
const s = require('node:net').createServer().listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => {
  process.stdout.write(String(s.address().port) + '\\n', () => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 8000));
});`;

let child: ChildProcess | undefined;
const fillers: Socket[] = [];
afterEach(async () => {
  for (const s of fillers.splice(0)) s.destroy();
  if (child?.pid !== undefined && child.exitCode === null) child.kill('SIGKILL');
  child = undefined;
  await stopAll();
});

async function blackhole(): Promise<number> {
  child = spawn(process.execPath, ['-e', CHILD], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    child!.stdout!.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
    child!.once('exit', () => reject(new Error('child exited')));
  });
  // fill the accept queue (backlog 1 holds 2 on Linux); extra fillers simply hang, harmlessly
  for (let i = 0; i < 4; i++) {
    const s = connect(port, '127.0.0.1');
    s.on('error', () => {});
    fillers.push(s);
  }
  await new Promise((r) => setTimeout(r, 100));
  return port;
}

describe('connect timeout', () => {
  it('async mode: a connect that does not complete within local_connect_timeout fails with ERR_CONN_CONNECT_TIMEOUT', async () => {
    const port = await blackhole();
    const engine = lpEngine({ defaultProfile: { connectTimeout: 5000 } }, lpSpec({}, { async: true, localConnectTimeout: 150 }));
    const t0 = Date.now();
    await expect(engine.send('lp', { host: '127.0.0.1', port }, encode('x'))).rejects.toMatchObject({ code: 'ERR_CONN_CONNECT_TIMEOUT' });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(140);
    expect(engine.connections()).toHaveLength(0);
  });

  it('sync mode: the profile connect_timeout bounds the connect', async () => {
    const port = await blackhole();
    const engine = lpEngine({ defaultProfile: { connectTimeout: 120 } }, lpSpec({}, { async: false, localConnectTimeout: 10_000 }));
    const closed = new Promise((r) => engine.on('close', (ev) => r(ev.reason)));
    await expect(engine.send('lp', { host: '127.0.0.1', port }, encode('x'))).rejects.toMatchObject({ code: 'ERR_CONN_CONNECT_TIMEOUT' });
    expect(await closed).toBe('Async connect failed');
  });
});
