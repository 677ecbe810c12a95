// HEP over UDP, the sending side alone: CPU per datagram, each variant sending N datagrams of
// one HEP3 packet (a traced SIP OPTIONS, 357 bytes) from a bound socket to a counting UDP socket
// in another process (so only the sender's CPU is measured), in turns of B (as a traced server
// does: what a turn traced leaves at the end of the turn), waiting for the turn's completions:
//   bare           node:dgram send(buf, port, host, cb): the floor
//   engine-send    core-conn engine.send (a promise per datagram) on a udp protocol with the tap on
//   engine-dgram   core-conn engine.sendDatagram (a callback) from proto-hep's hep_udp (tap: false)
//   sender-promise HepSender.send(packet) with a promise transmit (engine.send, tap on):
//                  how proto-hep sent HEP over UDP before engine.sendDatagram
//   sender         HepSender.send(packet) of an attachHep destination (engine.sendDatagram)
//   sink           the trace sink of an attachHep destination (sendWith: encodes the packet too)
// A tap subscriber that keeps only 'tcp' is attached (as @x/tracing's is) unless X_NO_TAP=1.
// Variants interleave over ROUNDS rounds; the median per variant is printed, with the load
// average. Build first (pnpm build): it runs on the packages' dist.
//   node bench/udp-sender.mjs [N=100000] [B=32] [ROUNDS=5]     X_ONLY=bare,sender,...
import dgram from 'node:dgram';
import { fork } from 'node:child_process';
import { loadavg, cpus } from 'node:os';
import { fileURLToPath } from 'node:url';

if (process.argv[2] === 'recv') {
  // the collector: counts what arrives, reports on request
  const s = dgram.createSocket('udp4');
  let n = 0;
  s.on('message', () => void n++);
  s.bind(0, '127.0.0.1', () => {
    try {
      s.setRecvBufferSize(8 << 20);
    } catch {
      /* capped by net.core.rmem_max */
    }
    process.send({ port: s.address().port });
  });
  process.on('message', (m) => {
    if (m === 'count') process.send({ count: n });
    else if (m === 'exit') process.exit(0);
  });
} else {
  const { createEngine, subscribeTap } = await import('@x/core-conn');
  const { attachHep, hepUdpSpec, HepSender, packHep } = await import('@x/proto-hep');
  const N = Number(process.argv[2] ?? 100000);
  const B = Number(process.argv[3] ?? 32);
  const ROUNDS = Number(process.argv[4] ?? 5);

  const rx = fork(fileURLToPath(import.meta.url), ['recv']);
  const ask = (m) =>
    new Promise((r) => {
      rx.once('message', r);
      if (m) rx.send(m);
    });
  const { port } = await ask();
  const count = async () => (await ask('count')).count;

  const unsub = process.env.X_NO_TAP === '1' ? () => undefined : subscribeTap({ only: ['tcp'], onMessageOut: () => undefined, onMessageIn: () => undefined });

  const engine = createEngine();
  engine.registerProtocol(hepUdpSpec());
  // the same protocol with the tap on, as hep_udp was before it set tap: false
  engine.registerProtocol({ ...hepUdpSpec(), name: 'hep_udp_tapped', tap: true });
  await engine.listen('hep_udp:127.0.0.1:0');
  await engine.listen('hep_udp_tapped:127.0.0.1:0');
  let sentTotal = 0;
  let want = 0;
  let wake;
  const onSent = (n) => {
    sentTotal += n;
    if (sentTotal >= want && wake) wake();
  };
  const sinks = new Map();
  const hep = attachHep(engine, { hep_id: [`[dst] 127.0.0.1:${port}; transport=udp`] }, { registerSink: (s) => sinks.set(s.name, s), sender: { maxQueue: 65536, onSent } });
  const sink = sinks.get('dst');
  const sender = hep.sender('dst');
  const oldDest = { name: 'old', host: '127.0.0.1', port, transport: 'udp', version: 3 };
  const oldSender = new HepSender(oldDest, (d, data) => engine.send('hep_udp_tapped', { host: d.host, port: d.port }, data), { maxQueue: 65536, onSent });

  // a SIP OPTIONS as tracing sends it (proto type 1, Call-ID correlation)
  const sip = Buffer.from(
    'OPTIONS sip:bench@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:40000;branch=z9hG4bK-1\r\nFrom: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:bench@127.0.0.1>\r\nCall-ID: 1-bench@127.0.0.1\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n',
  );
  const tp = { protoType: 1, src: { host: '127.0.0.1', port: 40000 }, dst: { host: '127.0.0.1', port: 5060 }, ipProto: 6, payload: sip, correlationId: '1-bench@127.0.0.1' };
  const pkt = packHep(tp.src, tp.dst, tp.ipProto, sip, { version: 3, protoType: 1, correlationId: tp.correlationId });
  const bareSock = dgram.createSocket('udp4');
  await new Promise((r) => bareSock.bind(0, '127.0.0.1', r));

  const dest = { host: '127.0.0.1', port };
  // resolved by onSent once the turn's B packets are sent
  const viaSender = (queue) => async () => {
    for (let i = 0; i < N; i += B) {
      want = sentTotal + B;
      await new Promise((resolve) => {
        wake = resolve;
        for (let k = 0; k < B; k++) queue();
      });
      wake = undefined;
    }
  };
  const variants = {
    bare: async () => {
      for (let i = 0; i < N; i += B) {
        await new Promise((resolve) => {
          let left = B;
          const done = () => void (--left === 0 && resolve());
          for (let k = 0; k < B; k++) bareSock.send(pkt, port, '127.0.0.1', done);
        });
      }
    },
    'engine-send': async () => {
      const ps = new Array(B);
      for (let i = 0; i < N; i += B) {
        for (let k = 0; k < B; k++) ps[k] = engine.send('hep_udp_tapped', dest, pkt);
        await Promise.all(ps);
      }
    },
    'engine-dgram': async () => {
      for (let i = 0; i < N; i += B) {
        await new Promise((resolve, reject) => {
          let left = B;
          const done = (err) => (err ? reject(err) : --left === 0 && resolve());
          for (let k = 0; k < B; k++) engine.sendDatagram('hep_udp', dest, pkt, done);
        });
      }
    },
    'sender-promise': viaSender(() => oldSender.send(pkt)),
    sender: viaSender(() => sender.send(pkt)),
    sink: viaSender(() => sink.send(tp)),
  };
  const names = process.env.X_ONLY ? process.env.X_ONLY.split(',') : Object.keys(variants);
  const res = Object.fromEntries(names.map((n) => [n, []]));
  const load0 = loadavg()[0];
  let lost = 0;
  for (let round = 0; round < ROUNDS; round++) {
    for (let j = 0; j < names.length; j++) {
      const name = names[(j + round) % names.length];
      const c0 = await count();
      const u0 = process.cpuUsage();
      const t0 = performance.now();
      await variants[name]();
      const u = process.cpuUsage(u0);
      const ms = performance.now() - t0;
      await new Promise((r) => setTimeout(r, 50));
      lost += N - ((await count()) - c0);
      res[name].push({ usr: u.user / N, sys: u.system / N, wall: (ms * 1000) / N });
    }
  }
  const med = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
  console.log(`HEP over UDP sender: ${N} datagrams of ${pkt.length} bytes per run, turns of ${B}, median of ${ROUNDS} rounds; tap subscriber ${process.env.X_NO_TAP === '1' ? 'off' : 'on (only tcp)'}`);
  console.log(`  load average (1 min) ${load0.toFixed(2)} at the start, ${loadavg()[0].toFixed(2)} at the end (${cpus().length} cores); datagrams the collector missed: ${lost}`);
  for (const n of names) {
    const usr = med(res[n].map((x) => x.usr));
    const sys = med(res[n].map((x) => x.sys));
    console.log(`  ${n.padEnd(15)} ${(usr + sys).toFixed(2).padStart(6)} µs CPU/datagram (user ${usr.toFixed(2)}, sys ${sys.toFixed(2)})   wall ${med(res[n].map((x) => x.wall)).toFixed(2)} µs`);
  }
  for (const s of [sender, oldSender]) {
    const st = s.stats();
    console.log(`  ${s.dest.name}: sent ${st.sent}, dropped ${st.dropped}, failures ${st.failures}`);
  }
  unsub();
  hep.close();
  oldSender.close();
  bareSock.close();
  await engine.shutdown();
  rx.send('exit');
}
