/**
 * Feeds a Tracing from core-conn's observation tap (node:diagnostics_channel, `subscribeTap`).
 * Only core-conn is subscribed to, never an engine's events nor a proto-* package: any protocol
 * an engine registers is traced the same way.
 *
 * The tap is process-wide: one attached Tracing sees the connections and messages of EVERY
 * engine of the process that speaks a traced protocol (a test's peer engine included). It keeps
 * only the protocols of its configured modules (`only`), so its own HEP output (hep_udp,
 * hep_tcp, hep_tls) is never traced.
 */
import { subscribeTap } from '@x/core-conn';
import type { Tracing } from './tracer.js';

/**
 * Subscribes `tracing` to the tap: accept / connect / close become net events, message in / out
 * feed SIP and MSRP message tracing (`tracing.trace(message)`). Returns the unsubscribe function.
 */
export function attachTracing(tracing: Tracing): () => void {
  // the protocols the traced modules declared (Module.trace().protocols), never HEP's own output
  const only = tracing.protocols().filter((p) => !p.startsWith('hep_'));
  return subscribeTap({
    only,
    onAccept: (ev) => tracing.accepted(ev.conn),
    onConnect: (ev) => tracing.connected(ev.conn),
    onClose: (ev) => tracing.closed(ev.conn, ev.reason, ev.error),
    onMessageIn: (ev) => tracing.messageIn(ev),
    onMessageOut: (ev) => tracing.messageOut(ev),
  });
}
