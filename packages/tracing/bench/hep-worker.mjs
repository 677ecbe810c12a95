// PROTOTYPE (see ring-sink.mjs): drains the SharedArrayBuffer ring of HEPv3 packets to a TCP
// collector, one write per published batch, zero copy (the read position advances once the
// socket took the bytes).
import net from 'node:net';
import { workerData } from 'node:worker_threads';

const { sab, ctrl: ctrlSab, host, port } = workerData;
const ring = Buffer.from(sab);
const ctrl = new Int32Array(ctrlSab);
const [W, R, WRAP, WRITES] = [0, 1, 2, 3];
const sock = net.connect(port, host);
sock.setNoDelay(true);
sock.on('error', () => undefined);
let r = 0;

function drain() {
  const w = Atomics.load(ctrl, W);
  if (w === r) {
    const res = Atomics.waitAsync(ctrl, W, w);
    if (res.async) void res.value.then(drain);
    else drain();
    return;
  }
  if (w < r && Atomics.load(ctrl, WRAP) === r) {
    // the producer wrapped here: go on from 0
    Atomics.store(ctrl, WRAP, -1);
    r = 0;
    Atomics.store(ctrl, R, 0);
    drain();
    return;
  }
  const end = w > r ? w : Atomics.load(ctrl, WRAP);
  ctrl[WRITES]++;
  sock.write(ring.subarray(r, end), () => {
    r = end;
    Atomics.store(ctrl, R, r);
    drain();
  });
}
sock.once('connect', drain);
