import { connect, type Socket } from 'node:net';
import type { Engine, EngineOptions } from '../src/engine/types.js';
import { createEngine } from '../src/engine/engine.js';
import type { CloseEvent, ConnectionInfo, EngineEvents, ListenerInfo, MessageEvent, ProtocolSpec } from '../src/types.js';
import { lpSpec } from './lp-proto.js';
import { waitForEvent } from '../src/testing/engine.js';

const engines: Engine[] = [];

/** An engine with the lp protocol registered; collected by `stopAll`. */
export function lpEngine(opts: EngineOptions = {}, spec: ProtocolSpec<Buffer> = lpSpec()): Engine {
  const e = createEngine({ sweepInterval: 20, ...opts });
  e.registerProtocol(spec);
  engines.push(e);
  return e;
}

export async function stopAll(): Promise<void> {
  const list = engines.splice(0);
  await Promise.all(list.map((e) => e.shutdown({ deadlineMs: 100 })));
}

/** Resolves with the first event matching `pred`, or rejects after `ms` (the testing helper, 3 s by default here). */
export function waitFor<K extends keyof EngineEvents>(
  engine: Engine,
  event: K,
  pred: (arg: Parameters<EngineEvents[K]>[0]) => boolean = () => true,
  ms = 3000,
): Promise<Parameters<EngineEvents[K]>[0]> {
  return waitForEvent(engine, event, pred, ms);
}

export function collect(engine: Engine): { messages: MessageEvent[]; closes: CloseEvent[]; accepts: ConnectionInfo[] } {
  const out = { messages: [] as MessageEvent[], closes: [] as CloseEvent[], accepts: [] as ConnectionInfo[] };
  engine.on('message', (m) => out.messages.push(m));
  engine.on('close', (c) => out.closes.push(c));
  engine.on('accept', (c) => out.accepts.push(c));
  return out;
}

/** A raw client socket to a listener, connected. */
export function rawClient(l: ListenerInfo): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: l.address.host, port: l.address.port }, () => resolve(s));
    s.once('error', reject);
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `cond` until true or `ms` passes. */
export async function until(cond: () => boolean, ms = 3000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}
