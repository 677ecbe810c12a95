/**
 * Feeds a Tracing from core-conn's connection events. Only core-conn is subscribed to, never a
 * proto-* package: any protocol registered on the engine is traced the same way.
 */
import type { CloseEvent, ConnectionInfo, Engine } from '@x/core-conn';
import type { Tracing } from './tracer.js';

/** Subscribes `tracing` to the engine's accept / connect / close events; returns the undo function. */
export function attachTracing(engine: Pick<Engine, 'on' | 'off'>, tracing: Tracing): () => void {
  const onAccept = (c: ConnectionInfo): void => tracing.accepted(c);
  const onConnect = (c: ConnectionInfo): void => tracing.connected(c);
  const onClose = (ev: CloseEvent): void => tracing.closed(ev.conn, ev.reason);
  engine.on('accept', onAccept);
  engine.on('connect', onConnect);
  engine.on('close', onClose);
  return () => {
    engine.off('accept', onAccept);
    engine.off('connect', onConnect);
    engine.off('close', onClose);
  };
}
