import { connect, type Socket } from 'node:net';
import { createEngine } from '../engine/engine.js';
import type { Engine, EngineOptions } from '../engine/types.js';
import { DEFAULT_PROFILE } from '../profile.js';
import { ConnState } from '../types.js';
import type { ConnectionInfo, EngineEvents, ListenerInfo, ProtocolSpec } from '../types.js';

/** An engine for tests: fast sweep (20 ms), the given protocols registered. Shut it down when done. */
export function createTestEngine(protocols: ProtocolSpec<unknown>[] = [], opts: EngineOptions = {}): Engine {
  const e = createEngine({ sweepInterval: 20, ...opts });
  for (const p of protocols) e.registerProtocol(p);
  return e;
}

/** A raw TCP client connected to a listener (to send hand-made bytes). */
export function rawConnect(l: ListenerInfo): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: l.address.host, port: l.address.port }, () => {
      s.removeListener('error', reject);
      resolve(s);
    });
    s.once('error', reject);
  });
}

/** Resolves with the first `event` matching `pred`; rejects after `ms`. */
export function waitForEvent<K extends keyof EngineEvents>(
  engine: Engine,
  event: K,
  pred: (arg: Parameters<EngineEvents[K]>[0]) => boolean = () => true,
  ms = 15_000,
): Promise<Parameters<EngineEvents[K]>[0]> {
  return new Promise((resolve, reject) => {
    const fn = ((arg: Parameters<EngineEvents[K]>[0]) => {
      if (!pred(arg)) return;
      clearTimeout(t);
      engine.off(event, fn);
      resolve(arg);
    }) as EngineEvents[K];
    const t = setTimeout(() => {
      engine.off(event, fn);
      reject(new Error(`timed out after ${ms} ms waiting for "${event}"`));
    }, ms);
    engine.on(event, fn);
  });
}

/** Polls `cond` every 5 ms until true; throws after `ms` (default 15 s: a bound for a busy machine, not a wait). */
export async function waitUntil(cond: () => boolean, ms = 15_000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A stand-in ConnectionInfo for calling `createFramer` outside an engine. */
export function fakeConnection(spec: Pick<ProtocolSpec, 'name' | 'transport'>, over: Partial<ConnectionInfo> = {}): ConnectionInfo {
  const now = Date.now();
  return {
    id: 1,
    cid: 1n,
    proto: spec.name,
    transport: spec.transport,
    remote: { host: '127.0.0.1', port: 40000 },
    local: { host: '127.0.0.1', port: 5060 },
    listener: undefined,
    state: ConnState.OK,
    accepted: true,
    createdAt: now,
    lastUsedAt: now,
    lifetime: now + 120_000,
    aliases: [40000],
    profile: DEFAULT_PROFILE,
    queuedBytes: 0,
    queuedChunks: 0,
    paused: false,
    inMessage: false,
    ...over,
  };
}
