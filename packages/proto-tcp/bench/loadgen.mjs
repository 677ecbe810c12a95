// Load generator, run as its own process (child_process.fork) so that its event loop and CPU
// never share a thread with the server under test. It takes jobs over IPC and answers each
// with one result object. Modes:
//   closed   N persistent connections, each keeping `window` requests in flight (saturation)
//   open     persistent connections, requests offered at a fixed rate, at most `window` in
//            flight per connection (a request that cannot be sent in time is a failure)
//   percall  a new connection per request (connect, send, await the reply, close), either at
//            a fixed rate (open) or with `concurrency` calls in flight (closed)
// RTT is measured per request with process.hrtime.bigint(); for percall it includes connect.
import net from 'node:net';
import { options, Splitter } from './lib/sip.mjs';

const now = () => Number(process.hrtime.bigint()) / 1e6; // ms, sub-µs resolution

function summary(rtts, ok, failures, elapsedMs, notes) {
  rtts.sort((a, b) => a - b);
  const q = (p) => (rtts.length ? rtts[Math.min(rtts.length - 1, Math.floor(p * rtts.length))] : NaN);
  return {
    ok,
    failures,
    elapsedMs,
    rate: (ok / elapsedMs) * 1000,
    p50: q(0.5),
    p99: q(0.99),
    max: rtts.length ? rtts[rtts.length - 1] : NaN,
    notes,
  };
}

/** Persistent connections, closed (window refill) or open (timer-driven rate). */
async function persistent(job) {
  const { port, conns = 1, window = 64, durationMs, rate, expect = 200, drainMs = 1000 } = job;
  const rtts = [];
  let ok = 0;
  let failures = 0;
  const notes = new Set();
  let sending = true;
  const start = now();
  let stopAt = start + durationMs;

  const lanes = await Promise.all(
    Array.from({ length: conns }, (_, i) => new Promise((resolve, reject) => {
      const s = net.connect({ host: '127.0.0.1', port, noDelay: true });
      const lane = { s, seq: 0, sentAt: [], head: 0, inflight: 0, id: `${process.pid}-${i}` };
      lane.splitter = new Splitter((status, cseq) => {
        const expectSeq = lane.seq - lane.inflight + 1;
        const t0 = lane.sentAt[lane.head];
        lane.sentAt[lane.head++] = undefined;
        if (lane.head > 4096) { lane.sentAt = lane.sentAt.slice(lane.head); lane.head = 0; }
        lane.inflight--;
        if ((expect && status !== expect) || cseq !== expectSeq) {
          failures++;
          notes.add(`unexpected reply status=${status} cseq=${cseq} (want ${expectSeq})`);
        } else {
          ok++;
          rtts.push(now() - t0);
        }
      });
      s.once('connect', () => resolve(lane));
      s.once('error', reject);
    })),
  );

  const send = (lane, n) => {
    if (n <= 0) return;
    let out = '';
    const t = now();
    for (let k = 0; k < n; k++) {
      lane.seq++;
      out += options(port, lane.id, lane.seq);
      lane.sentAt.push(t);
    }
    lane.inflight += n;
    lane.s.write(out, 'latin1');
  };

  for (const lane of lanes) {
    lane.s.on('error', (e) => { notes.add(`socket: ${e.code ?? e.message}`); });
    lane.s.on('close', () => { lane.closed = true; failures += lane.inflight; lane.inflight = 0; });
    lane.s.on('data', (chunk) => {
      const err = lane.splitter.push(chunk);
      if (err) { failures++; notes.add(err); lane.s.destroy(); return; }
      if (sending && rate === undefined) send(lane, window - lane.inflight);
    });
  }

  let timer;
  if (rate === undefined) {
    for (const lane of lanes) send(lane, window);
  } else {
    // Open loop: each 1 ms tick tops up to the number of requests due by now.
    let offered = 0;
    let rr = 0;
    timer = setInterval(() => {
      const t = now();
      const due = Math.floor(((Math.min(t, stopAt) - start) * rate) / 1000) - offered;
      for (let k = 0; k < due; k++) {
        const lane = lanes[rr++ % conns];
        if (lane.closed || lane.inflight + (lane.pending ?? 0) >= window) {
          failures++;
          notes.add('window full: server fell behind the offered rate');
        } else {
          lane.pending = (lane.pending ?? 0) + 1;
        }
      }
      offered += Math.max(0, due);
      for (const lane of lanes) { if (lane.pending) { send(lane, lane.pending); lane.pending = 0; } }
    }, 1);
  }

  await new Promise((r) => setTimeout(r, durationMs));
  sending = false;
  if (timer) clearInterval(timer);
  const elapsedMs = now() - start;
  const okAtStop = ok;
  // Replies still in flight are awaited (bounded) so they count as late, not silently lost.
  const drainEnd = now() + drainMs;
  while (lanes.some((l) => l.inflight > 0 && !l.closed) && now() < drainEnd) {
    await new Promise((r) => setTimeout(r, 5));
  }
  for (const lane of lanes) { failures += lane.inflight; lane.inflight = 0; lane.s.destroy(); }
  stopAt = 0;
  const res = summary(rtts, ok, failures, elapsedMs, [...notes]);
  res.rate = (okAtStop / elapsedMs) * 1000;
  return res;
}

/** New connection per request; source addresses rotate over 127.0.0.2..N to spread ports. */
async function percall(job) {
  const { port, durationMs, rate, concurrency = 64, maxInflight = 512, sources = 19, expect = 200,
    callTimeoutMs = 2000 } = job;
  const rtts = [];
  let ok = 0;
  let failures = 0;
  let inflight = 0;
  let n = 0;
  const notes = new Set();
  let sending = true;
  const start = now();

  const call = () => {
    const seq = ++n;
    const t0 = now();
    inflight++;
    let done = false;
    const s = net.connect({ host: '127.0.0.1', port, localAddress: `127.0.0.${2 + (seq % sources)}`, noDelay: true });
    const finish = (good, why) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      inflight--;
      if (good) { ok++; rtts.push(now() - t0); } else { failures++; notes.add(why); }
      // Graceful close from the client side: the TIME_WAIT lands on the client's
      // (source address, port) pairs, spread over `sources` addresses.
      s.end();
      if (!good) s.destroy();
      if (sending && rate === undefined) call();
    };
    const timer = setTimeout(() => finish(false, 'call timeout'), callTimeoutMs);
    const splitter = new Splitter((status, cseq) => {
      finish((!expect || status === expect) && cseq === 1, `unexpected reply status=${status}`);
    });
    s.on('connect', () => s.write(options(port, `${process.pid}-c${seq}`, 1), 'latin1'));
    s.on('data', (c) => { const e = splitter.push(c); if (e) finish(false, e); });
    s.on('error', (e) => finish(false, `socket: ${e.code ?? e.message}`));
    s.on('close', () => finish(false, 'closed before reply'));
  };

  let timer;
  if (rate === undefined) {
    for (let k = 0; k < concurrency; k++) call();
  } else {
    let offered = 0;
    timer = setInterval(() => {
      const due = Math.floor(((now() - start) * rate) / 1000) - offered;
      for (let k = 0; k < due; k++) {
        if (inflight >= maxInflight) { failures++; notes.add('too many calls in flight'); } else call();
      }
      offered += Math.max(0, due);
    }, 1);
  }
  await new Promise((r) => setTimeout(r, durationMs));
  sending = false;
  if (timer) clearInterval(timer);
  const elapsedMs = now() - start;
  const okAtStop = ok;
  const drainEnd = now() + callTimeoutMs + 100;
  while (inflight > 0 && now() < drainEnd) await new Promise((r) => setTimeout(r, 5));
  const res = summary(rtts, ok, failures, elapsedMs, [...notes]);
  res.rate = (okAtStop / elapsedMs) * 1000;
  return res;
}

process.on('message', (job) => {
  const fn = job.mode === 'percall' ? percall : persistent;
  fn(job).then(
    (res) => process.send({ id: job.id, res }),
    (err) => process.send({ id: job.id, error: String(err?.stack ?? err) }),
  );
});
process.on('disconnect', () => process.exit(0));
