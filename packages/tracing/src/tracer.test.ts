import type { PeerCertificate } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { createStatsRegistry, type TraceSink } from '@x/core-conn';
import type { TracePacket } from '@x/proto-hep';
import { checkTraceDestinations, createTracing, type TracedConnection } from './tracer.js';
import { TracingError } from './errors.js';
import { MSRP_PROTO_TYPE } from './events.js';

function sinks(names: string[], accept = () => true) {
  const got: Record<string, TracePacket[]> = {};
  const map = new Map<string, TraceSink<TracePacket>>();
  for (const n of names) {
    got[n] = [];
    map.set(n, { name: n, send: (tp) => (accept() ? (got[n]!.push(tp), true) : false) });
  }
  return { got, lookup: { get: <P,>(n: string) => map.get(n) as TraceSink<P> | undefined, names: () => [...map.keys()] } };
}

let nextId = 1;
function conn(proto: string, remote = '127.0.0.1', accepted = true): TracedConnection {
  const id = nextId++;
  return { id, cid: BigInt(id) | (1n << 40n), proto, remote: { host: remote, port: 40000 + id }, local: { host: '127.0.0.1', port: 5060 }, accepted };
}
const text = (tp: TracePacket) => tp.parts!.map(([, v]) => v).join(':');

describe('createTracing', () => {
  it('an unknown trace_destination is refused (OpenSIPS disables tracing silently)', () => {
    const s = sinks(['hep_dst']);
    expect(() => createTracing({ modules: [{ module: 'proto_tcp', protocols: ['tcp'], destination: 'nope' }], sinks: s.lookup })).toThrow(TracingError);
    expect(() => checkTraceDestinations([{ module: 'proto_tcp', destination: 'nope' }], ['hep_dst'])).toThrow(/proto_tcp: trace_destination "nope" names no hep_id \(defined: hep_dst\)/);
    expect(() => checkTraceDestinations([{ module: 'proto_msrp', destination: 'x' }], [])).toThrow(/proto_hep defines none/);
    expect(() => checkTraceDestinations([{ module: 'proto_tcp', destination: 'hep_dst' }], ['hep_dst'])).not.toThrow();
  });

  it("the protocols are the module's declaration (Module.trace().protocols), no table of its own", () => {
    const s = sinks(['d']);
    // a proto_msrp that declares msrp only: its msrps connections are not its business
    const t = createTracing({ modules: [{ module: 'proto_msrp', protocols: ['msrp'], destination: 'd', on: true }], sinks: s.lookup });
    expect(t.protocols()).toEqual(['msrp']);
    t.accepted(conn('msrps'));
    t.accepted(conn('msrp'));
    expect(s.got.d!.map(text)).toEqual(['MSRP:ACCEPTED:SUCCESS:Connection accepted...']);
    expect(() => createTracing({ modules: [{ module: 'proto_tcp', protocols: [], destination: 'd' }], sinks: s.lookup })).toThrow(/proto_tcp: give the protocols it traces/);
    expect(() => createTracing({ modules: [{ module: 'proto_tcp', protocols: ['tcp'] }, { module: 'proto_msrp', protocols: ['tcp'] }], sinks: s.lookup })).toThrow(/protocol "tcp" is already traced by proto_tcp/);
  });

  it('a failed TLS handshake: ACCEPTED / CONNECTED with status FAILURE and the error text before CLOSED; none for plain TCP', () => {
    const s = sinks(['d']);
    const t = createTracing({ modules: [{ module: 'proto_bins', protocols: ['bins', 'bin'], destination: 'd', on: true }], sinks: s.lookup });
    t.closed(conn('bins', '127.0.0.1', true), 'TLS handshake failed', new Error('client certificate rejected: bad'));
    t.closed(conn('bins', '127.0.0.1', false), 'TLS handshake failed');
    t.closed(conn('bin'), 'EOF received');
    expect(s.got.d!.map(text)).toEqual([
      'BINS:ACCEPTED:FAILURE:client certificate rejected: bad',
      'BINS:CLOSED:SUCCESS:TLS handshake failed',
      'BINS:CONNECTED:FAILURE:Failed to connect...',
      'BINS:CLOSED:SUCCESS:TLS handshake failed',
      'BIN:CLOSED:SUCCESS:EOF received',
    ]);
    expect(s.got.d![0]!.correlationId).toBe(s.got.d![1]!.correlationId);
  });

  it('accept, connect, close of a traced protocol; other protocols ignored', () => {
    const s = sinks(['hep_dst']);
    const t = createTracing({ modules: [{ module: 'proto_tcp', protocols: ['tcp'], destination: 'hep_dst', on: true }], sinks: s.lookup });
    const a = conn('tcp');
    const b = conn('tcp', '127.0.0.3', false);
    t.accepted(a);
    t.connected(b);
    t.closed(a, 'EOF received');
    t.closed(b, 'Closed by Proto layer');
    t.accepted(conn('msrp'));
    t.accepted(conn('hep_tcp'));
    expect(s.got.hep_dst!.map(text)).toEqual([
      'TCP:ACCEPTED:SUCCESS:Connection accepted...',
      'TCP:CONNECTED:SUCCESS:Successfully connected...',
      'TCP:CLOSED:SUCCESS:EOF received',
      'TCP:CLOSED:SUCCESS:Closed by Proto layer',
    ]);
    const closeB = s.got.hep_dst![3]!;
    expect(closeB).toMatchObject({ protoType: 0x59, ipProto: 6, src: b.remote, dst: b.local, correlationId: b.cid.toString() });
  });

  it('the switch: off = nothing sent; a change applies at the next event', () => {
    const s = sinks(['d']);
    const t = createTracing({ modules: [{ module: 'proto_msrp', protocols: ['msrp', 'msrps'], destination: 'd' }], sinks: s.lookup });
    const a = conn('msrp');
    t.accepted(a);
    expect(s.got.d).toHaveLength(0);
    expect(t.miCommands().map((c) => c.name)).toEqual(['msrp:trace']);
    t.miCommands()[0]!.handler({ trace_mode: 'on' });
    expect(t.switchOf('proto_msrp')!.on).toBe(true);
    t.closed(a, 'EOF received');
    const c = conn('msrps');
    t.accepted(c);
    expect(s.got.d!.map(text)).toEqual(['MSRP:CLOSED:SUCCESS:EOF received', 'MSRPS:ACCEPTED:SUCCESS:Connection accepted...']);
    expect(s.got.d![1]!.ipProto).toBe(22);
  });

  it('a filter route that drops marks the connection untraced for its whole life, close included; it runs once', () => {
    const s = sinks(['d']);
    const calls: string[] = [];
    const routes = (name: string, ctx: unknown) => {
      const c = ctx as { remote: { host: string }; proto: string };
      calls.push(`${name}:${c.remote.host}:${c.proto}`);
      return c.remote.host === '127.0.0.2' ? false : undefined;
    };
    const stats = createStatsRegistry();
    const t = createTracing({ modules: [{ module: 'proto_tcp', protocols: ['tcp'], destination: 'd', on: true, filterRoute: 'trace_filter' }], sinks: s.lookup, routes, stats });
    const kept = conn('tcp', '127.0.0.1');
    const dropped = conn('tcp', '127.0.0.2');
    t.accepted(kept);
    t.accepted(dropped);
    expect(t.message(dropped, 'in', Buffer.from('OPTIONS sip:a SIP/2.0\r\n\r\n'))).toBe(false);
    t.closed(dropped, 'EOF received');
    t.closed(kept, 'EOF received');
    expect(calls).toEqual(['trace_filter:127.0.0.1:tcp', 'trace_filter:127.0.0.2:tcp']);
    expect(s.got.d!.map((tp) => `${tp.src.host}:${text(tp)}`)).toEqual(['127.0.0.1:TCP:ACCEPTED:SUCCESS:Connection accepted...', '127.0.0.1:TCP:CLOSED:SUCCESS:EOF received']);
    expect(stats.get('tracing:trace_filtered')!.value()).toBe(1);
    expect(t.counts()).toMatchObject({ sent: 2, filtered: 1 });
  });

  it('an async filter route: events wait for its answer, in order', async () => {
    const s = sinks(['d']);
    let release!: (v: unknown) => void;
    const routes = () => new Promise((r) => (release = r));
    const t = createTracing({ modules: [{ module: 'proto_tcp', protocols: ['tcp'], destination: 'd', on: true, filterRoute: 'f' }], sinks: s.lookup, routes });
    const a = conn('tcp');
    t.accepted(a);
    t.closed(a, 'EOF received');
    expect(s.got.d).toHaveLength(0);
    release(true);
    await new Promise((r) => setImmediate(r));
    expect(s.got.d!.map(text)).toEqual(['TCP:ACCEPTED:SUCCESS:Connection accepted...', 'TCP:CLOSED:SUCCESS:EOF received']);
  });

  it('a dropping sink: counted in tracing:trace_dropped, nothing thrown', () => {
    let ok = false;
    const s = sinks(['d'], () => ok);
    const stats = createStatsRegistry();
    const t = createTracing({ modules: [{ module: 'proto_tcp', protocols: ['tcp'], destination: 'd', on: true }], sinks: s.lookup, stats });
    t.accepted(conn('tcp'));
    t.accepted(conn('tcp'));
    ok = true;
    t.accepted(conn('tcp'));
    expect(stats.get('tracing:trace_dropped')!.value()).toBe(2);
    expect(stats.get('tracing:trace_sent')!.value()).toBe(1);
  });

  it('a throwing sink never reaches the traced connection', () => {
    const t = createTracing({
      modules: [{ module: 'proto_tcp', protocols: ['tcp'], destination: 'd', on: true }],
      sinks: { get: () => ({ name: 'd', send: () => { throw new Error('boom'); } }), names: () => ['d'] },
    });
    expect(() => t.accepted(conn('tcp'))).not.toThrow();
    expect(t.counts().dropped).toBe(1);
  });

  it('message(): proto type 1, direction, Call-ID correlation, any destination by name', () => {
    const s = sinks(['d', 'other']);
    const t = createTracing({ modules: [{ module: 'proto_tcp', protocols: ['tcp'], destination: 'd', on: true }], sinks: s.lookup });
    const a = conn('tcp', '127.0.0.9');
    const bytes = Buffer.from('OPTIONS sip:a@b SIP/2.0\r\nCall-ID: abc@h\r\n\r\n');
    expect(t.message(a, 'in', bytes, { correlationId: 'abc@h' })).toBe(true);
    expect(t.message(a, 'out', bytes, { destination: 'other' })).toBe(true);
    expect(t.message(a, 'out', bytes, { destination: 'missing' })).toBe(false);
    expect(s.got.d![0]).toMatchObject({ protoType: 1, ipProto: 6, src: a.remote, dst: a.local, correlationId: 'abc@h', payload: bytes });
    expect(s.got.other![0]).toMatchObject({ src: a.local, dst: a.remote });
    expect(s.got.other![0]!.correlationId).toBeUndefined();
  });

  it('message() on an MSRP connection: proto type 0x5A (MSRP_PROTO_TYPE), not SIP\'s 1', () => {
    const s = sinks(['d']);
    const t = createTracing({ modules: [{ module: 'proto_msrp', protocols: ['msrp', 'msrps'], destination: 'd', on: true }], sinks: s.lookup });
    const bytes = Buffer.from('MSRP t1 SEND\r\nTo-Path: msrp://127.0.0.1:1/a;tcp\r\n-------t1$\r\n');
    expect(t.message(conn('msrp'), 'in', bytes, { correlationId: 't1' })).toBe(true);
    expect(t.message(conn('msrps'), 'out', bytes)).toBe(true);
    expect(s.got.d!.map((p) => [p.protoType, p.ipProto])).toEqual([[0x5a, 6], [0x5a, 22]]);
    expect(MSRP_PROTO_TYPE).toBe(0x5a);
  });

  it('TLS connections: the handshake event carries the certificate names', () => {
    const s = sinks(['d']);
    const t = createTracing({ modules: [{ module: 'proto_bins', protocols: ['bins', 'bin'], destination: 'd', on: true }], sinks: s.lookup });
    const c = {
      ...conn('bins'),
      tls: {
        domain: 'dom', authorized: true,
        // the fields read of node's PeerCertificate (the rest does not matter here)
        peerCertificate: { subject: { CN: 'peer', O: 'Ex', C: 'RO' }, issuer: { CN: 'ca' } } as unknown as PeerCertificate,
        localCertificate: { subject: { CN: 'me' }, issuer: { CN: 'ca' } },
        masterKey: Buffer.from([0xab, 0x01]),
      },
    };
    t.accepted(c);
    expect(s.got.d![0]!.parts).toEqual([
      ['Protocol', 'BINS'],
      ['client-subject', '/C=RO/O=Ex/CN=peer'],
      ['client-issuer', '/CN=ca'],
      ['server-subject', '/CN=me'],
      ['server-issuer', '/CN=ca'],
      ['master-key', 'ab01'],
      ['Event', 'ACCEPTED'],
      ['Status', 'SUCCESS'],
      ['Message', 'Connection accepted...'],
    ]);
    expect(s.got.d![0]!.ipProto).toBe(22);
  });

  it('a module without a destination: its switch and MI command, nothing sent (OpenSIPS)', () => {
    const s = sinks(['d']);
    const t = createTracing({ modules: [{ module: 'proto_tcp', protocols: ['tcp'], on: true }, { module: 'proto_bins', protocols: ['bins', 'bin'], destination: 'd', on: true }], sinks: s.lookup });
    expect(t.miCommands().map((c) => c.name)).toEqual(['tcp:trace', 'bins:trace']);
    expect(t.miCommands()[0]!.handler({})).toEqual({ 'TCP tracing': 'on' });
    t.accepted(conn('tcp'));
    t.accepted(conn('bins'));
    expect(s.got.d!.map(text)).toEqual(['BINS:ACCEPTED:SUCCESS:Connection accepted...']);
  });

  it('trace() of a message the route kept past the recent ring (an await): still traced once, from the WeakMap; a second trace() returns true and sends nothing', () => {
    const s = sinks(['d']);
    const t = createTracing({ modules: [{ module: 'proto_tcp', protocols: ['tcp'], destination: 'd', on: true }], sinks: s.lookup });
    const c = conn('tcp');
    const msgs = Array.from({ length: 100 }, (_, i) => Buffer.from(`OPTIONS sip:a@b SIP/2.0\r\nCall-ID: id-${i}\r\nCSeq: 1 OPTIONS\r\n\r\n`));
    for (const m of msgs) {
      t.messageIn({ proto: 'tcp', transport: 'tcp', conn: c as never, listener: undefined, local: c.local, remote: c.remote, bytes: m, message: m, at: 1700000000000 });
    }
    // the oldest (long out of the ring), one just out of it, the newest (in it)
    for (const i of [0, 60, 99]) {
      expect(t.trace(msgs[i])).toBe(true);
      expect(t.trace(msgs[i])).toBe(true);
    }
    expect(s.got.d!.map((tp) => tp.correlationId)).toEqual(['id-0', 'id-60', 'id-99']);
    expect(s.got.d!.every((tp) => tp.protoType === 1 && Buffer.isBuffer(tp.payload))).toBe(true);
    expect(t.trace(Buffer.from('never seen'))).toBe(false);
  });
});
