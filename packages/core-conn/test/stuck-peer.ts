import { createServer, type Server, type Socket } from 'node:net';
import type { Address } from '../src/types.js';

/** A TCP peer that accepts and never reads, so the sender's kernel buffers fill up. */
export async function stuckPeer(): Promise<{ address: Address; sockets: Socket[]; close(): Promise<void> }> {
  const sockets: Socket[] = [];
  const server: Server = createServer((s) => {
    s.pause();
    s.on('error', () => {});
    sockets.push(s);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const a = server.address() as { port: number };
  return {
    address: { host: '127.0.0.1', port: a.port },
    sockets,
    close: () =>
      new Promise((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}
