import { createSocket } from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { createEngine } from '../src/engine/engine.js';
import type { Engine } from '../src/engine/types.js';
import { ProtocolError } from '../src/errors.js';
import { createStatsRegistry } from '../src/stats.js';
import type { DatagramEvent, ProtocolSpec } from '../src/types.js';
import { until, waitFor } from './helpers.js';
import { WRITE_DEFAULTS } from './lp-proto.js';

const engines: Engine[] = [];
afterEach(async () => {
  await Promise.all(engines.splice(0).map((e) => e.shutdown()));
});

const udpSpec: ProtocolSpec<string> = {
  name: 'du',
  transport: 'udp',
  defaultPort: null,
  decodeDatagram: (data) => {
    if (data[0] !== 0x44) throw new ProtocolError('ERR_DU_MAGIC', 'datagram must start with "D"');
    return data.subarray(1).toString();
  },
  maxMsgChunks: 0,
  maxMsgBytes: 65535,
  write: WRITE_DEFAULTS,
};

function udpEngine(): { engine: Engine; stats: ReturnType<typeof createStatsRegistry> } {
  const stats = createStatsRegistry();
  const engine = createEngine({ stats });
  engine.registerProtocol(udpSpec);
  engines.push(engine);
  return { engine, stats };
}

describe('udp', () => {
  it('decodes datagrams, emits datagram events and sends from the listener', async () => {
    const a = udpEngine();
    const b = udpEngine();
    const la = await a.engine.listen('du:127.0.0.1:0');
    const lb = await b.engine.listen('du:127.0.0.1:0');
    const got: DatagramEvent[] = [];
    a.engine.on('datagram', (d) => got.push(d));
    for (let i = 0; i < 5; i++) await expect(b.engine.send('du', la.address, Buffer.from(`Dhello${i}`))).resolves.toBeUndefined();
    await until(() => got.length === 5);
    expect(got.map((g) => g.message).sort()).toEqual(['hello0', 'hello1', 'hello2', 'hello3', 'hello4']);
    expect(got[0]!.remote).toEqual(lb.address);
    expect(got[0]!.listener.id).toBe(la.id);
    expect(got[0]!.proto).toBe('du');
    expect(a.stats.get('du:rcv_msgs')!.value()).toBe(5);
    expect(b.stats.get('du:snd_msgs')!.value()).toBe(5);
    expect(a.engine.connections()).toHaveLength(0);
  });

  it('reports the remote of a udp6 listener as Node prints it, a udp4 one as a dotted quad', async () => {
    const a = udpEngine();
    const l6 = await a.engine.listen('du:[::1]:0');
    const l4 = await a.engine.listen('du:127.0.0.1:0');
    const got: DatagramEvent[] = [];
    a.engine.on('datagram', (d) => got.push(d));
    const s6 = createSocket('udp6');
    const s4 = createSocket('udp4');
    s6.send(Buffer.from('Dsix'), l6.address.port, '::1');
    s4.send(Buffer.from('Dfour'), l4.address.port, '127.0.0.1');
    await until(() => got.length === 2);
    const by = new Map(got.map((g) => [g.message, g]));
    expect(by.get('six')!.remote.host).toBe('::1');
    expect(by.get('six')!.listener.id).toBe(l6.id);
    expect(by.get('four')!.remote.host).toBe('127.0.0.1');
    s6.close();
    s4.close();
  });

  it('drops and counts undecodable datagrams with an error event', async () => {
    const a = udpEngine();
    const la = await a.engine.listen('du:127.0.0.1:0');
    const err = waitFor(a.engine, 'error');
    const s = createSocket('udp4');
    s.send(Buffer.from('xbad'), la.address.port, '127.0.0.1');
    const ev = await err;
    expect(ev.error).toBeInstanceOf(ProtocolError);
    expect(ev.listener?.id).toBe(la.id);
    expect(a.stats.get('du:proto_errors')!.value()).toBe(1);
    s.close();
  });

  it('fails to send without a listener (ERR_CONN_NO_SOCKET)', async () => {
    const a = udpEngine();
    await expect(a.engine.send('du', { host: '127.0.0.1', port: 9 }, Buffer.from('D'))).rejects.toMatchObject({ code: 'ERR_CONN_NO_SOCKET' });
  });
});
