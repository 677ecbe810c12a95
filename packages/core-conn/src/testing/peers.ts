import { createServer, type Server, type Socket } from 'node:net';
import type { Address } from '../types.js';

export interface StuckPeer {
  address: Address;
  port: number;
  /** the accepted sockets (paused, never read) */
  sockets: Socket[];
  close(): Promise<void>;
}

/** A TCP peer on 127.0.0.1 that accepts and never reads, so the sender's buffers fill up. Close it when done. */
export async function stuckPeer(): Promise<StuckPeer> {
  const sockets: Socket[] = [];
  const server: Server = createServer((s) => {
    s.pause();
    s.on('error', () => {});
    sockets.push(s);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    address: { host: '127.0.0.1', port },
    port,
    sockets,
    close: () =>
      new Promise((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

export interface PausablePeer {
  address: Address;
  pause(): void;
  resume(): void;
  /** complete frames received */
  frames(): number;
  /** every frame so far carried its own index (none lost, duplicated or reordered) */
  inOrder(): boolean;
  close(): Promise<void>;
}

/**
 * A TCP peer on 127.0.0.1 that accepts one connection paused (so the sender's buffers fill
 * up) and reads when resumed. It frames what it reads as 4-byte big-endian length-prefixed
 * frames whose payload's first and last bytes are the frame's index & 0xff, and checks that
 * order.
 */
export async function pausablePeer(): Promise<PausablePeer> {
  let sock: Socket | undefined;
  let paused = true;
  let pending: Buffer = Buffer.alloc(0);
  let frames = 0;
  let ordered = true;
  const server: Server = createServer((s) => {
    sock = s;
    s.pause();
    s.on('error', () => {});
    s.on('data', (d: Buffer) => {
      pending = pending.length === 0 ? d : Buffer.concat([pending, d]);
      let off = 0;
      while (pending.length - off >= 4) {
        const len = pending.readUInt32BE(off);
        if (pending.length - off - 4 < len) break;
        const want = frames & 0xff;
        if (len === 0 || pending[off + 4] !== want || pending[off + 3 + len] !== want) ordered = false;
        frames++;
        off += 4 + len;
      }
      pending = pending.subarray(off);
    });
    if (!paused) s.resume();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const a = server.address() as { port: number };
  return {
    address: { host: '127.0.0.1', port: a.port },
    pause: () => {
      paused = true;
      sock?.pause();
    },
    resume: () => {
      paused = false;
      sock?.resume();
    },
    frames: () => frames,
    inOrder: () => ordered,
    close: () =>
      new Promise((r) => {
        sock?.destroy();
        server.close(() => r());
      }),
  };
}
