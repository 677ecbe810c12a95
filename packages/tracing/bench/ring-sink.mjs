// PROTOTYPE for a design decision, not what x-server runs: a trace sink whose packets leave
// through a worker thread. The traced thread encodes each HEPv3 packet (proto-hep's
// Hep3TraceEncoder, the same bytes) straight into a SharedArrayBuffer ring and, once per turn of
// the event loop, publishes the write position; the worker (hep-worker.mjs) writes what is
// between its read position and that to its own TCP connection to the collector, and advances
// the read position when the socket took it. A full ring drops the packet (counted), never waits.
// Not handled (a product would have to): reconnecting, back-off and cooldown, HEP over UDP.
import { Worker } from 'node:worker_threads';
import { buildHomer5Payload, Hep3TraceEncoder } from '@x/proto-hep';

/** ctrl slots (Int32): the published write position, the read position, where the producer wrapped (-1: not), writes done */
const W = 0;
const R = 1;
const WRAP = 2;
const WRITES = 3;

export function ringSink(name, port, { size = 4 << 20, captureId = 1 } = {}) {
  const sab = new SharedArrayBuffer(size);
  const ctrlSab = new SharedArrayBuffer(16);
  const ring = Buffer.from(sab);
  const ctrl = new Int32Array(ctrlSab);
  ctrl[WRAP] = -1;
  const worker = new Worker(new URL('./hep-worker.mjs', import.meta.url), { workerData: { sab, ctrl: ctrlSab, host: '127.0.0.1', port } });
  const enc = new Hep3TraceEncoder(captureId);
  const stats = { sent: 0, dropped: 0 };
  let w = 0;
  let scheduled = false;
  const publish = () => {
    scheduled = false;
    Atomics.store(ctrl, W, w);
    Atomics.notify(ctrl, W);
  };
  const put = (tp, payload) => {
    const r = Atomics.load(ctrl, R);
    // one byte stays free, so that w === r means empty
    let end = enc.write(ring.subarray(0, r > w ? r - 1 : size), w, tp, payload, 0);
    if (end < 0 && r <= w && r - 1 >= -end) {
      // no room before the end: the reader jumps back to 0 where this packet would have started
      Atomics.store(ctrl, WRAP, w);
      w = 0;
      end = enc.write(ring.subarray(0, r - 1), 0, tp, payload, 0);
    }
    return end;
  };
  return {
    name,
    stats,
    writes: () => ctrl[WRITES],
    send(tp) {
      const end = put(tp, tp.parts ? buildHomer5Payload(tp.parts) : tp.payload);
      if (end <= 0) {
        stats.dropped++;
        return false;
      }
      w = end;
      stats.sent++;
      if (!scheduled) {
        scheduled = true;
        setImmediate(publish);
      }
      return true;
    },
    close: () => worker.terminate(),
  };
}
