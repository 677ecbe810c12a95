// Two @x clusterer nodes over bins (self-signed CA): Up both ways, GENERIC_MSG both ways,
// Down after the peer is killed and its ping retries run out, Up again when it restarts.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '@x/core-conn';
import { createTestEngine, waitUntil } from '@x/core-conn/testing';
import { attachBin, attachClusterer, binsSpec, LinkState, type ClustererApi, type GenericMsgEvent, type NodeEvent } from '../src/index.js';
import { makePki, nodeDomains, type BinsPki, type Pem } from './certs.js';

let pki: BinsPki;
beforeAll(async () => {
  pki = await makePki();
});

interface Running {
  engine: Engine;
  cl: ClustererApi;
  gen: GenericMsgEvent[];
  events: NodeEvent[];
  stop(): Promise<void>;
}
const running: Running[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((r) => r.stop()));
});

const TIMING = { ping_interval: 1, ping_timeout: 600, node_timeout: 2 };

async function start(me: number, port: number, peer: { id: number; port: number }, cert: Pem): Promise<Running> {
  const engine = createTestEngine([binsSpec()] as never, { tlsDomains: nodeDomains(cert, pki.ca) });
  const l = await engine.listen(`bins:127.0.0.1:${port}`);
  const bin = attachBin(engine);
  const cl = attachClusterer(
    engine,
    {
      my_node_id: me,
      my_node_info: [`cluster_id=1, url=bins:127.0.0.1:${l.address.port}`],
      neighbor_node_info: [`cluster_id=1, node_id=${peer.id}, url=bins:127.0.0.1:${peer.port}, no_ping_retries=1`],
      ...TIMING,
    },
    { bin },
  );
  const gen: GenericMsgEvent[] = [];
  const events: NodeEvent[] = [];
  cl.node.onGenericMsg((e) => gen.push(e));
  cl.node.onNodeEvent((e) => events.push(e));
  const r: Running = {
    engine,
    cl,
    gen,
    events,
    async stop() {
      cl.close();
      bin.close();
      await engine.shutdown({ deadlineMs: 100 });
      const i = running.indexOf(r);
      if (i >= 0) running.splice(i, 1);
    },
  };
  running.push(r);
  return r;
}

async function freePorts(): Promise<[number, number]> {
  const e = createTestEngine([binsSpec()] as never, { tlsDomains: nodeDomains(pki.node1, pki.ca) });
  const a = await e.listen('bins:127.0.0.1:0');
  const b = await e.listen('bins:127.0.0.1:0');
  await e.shutdown({ deadlineMs: 50 });
  return [a.address.port, b.address.port];
}

describe('two @x clusterer nodes over bins', () => {
  it('reach Up both ways, exchange GENERIC_MSG, go Down when one is killed and Up when it is back', async () => {
    const [p1, p2] = await freePorts();
    const n1 = await start(1, p1, { id: 2, port: p2 }, pki.node1);
    let n2 = await start(2, p2, { id: 1, port: p1 }, pki.node2);
    await waitUntil(() => n1.cl.node.linkState(1, 2) === LinkState.UP && n2.cl.node.linkState(1, 1) === LinkState.UP, 15_000, 'Up both ways');
    const list = n1.cl.node.miList() as { Clusters: { Nodes: { node_id: number; link_state: string; next_hop: string }[] }[] };
    expect(list.Clusters[0]!.Nodes[0]).toMatchObject({ node_id: 2, link_state: 'Up', next_hop: '2', url: `bins:127.0.0.1:${p2}` });
    expect(n1.events).toEqual([{ clusterId: 1, nodeId: 2, state: 'up' }]);

    expect(n1.cl.node.sendGenericMsg(1, 2, 'ping from 1', 'tag-a')).toBe(0);
    expect(n2.cl.node.broadcastGenericMsg(1, 'hello all', 'tag-b')).toBe(0);
    await waitUntil(() => n2.gen.length === 1 && n1.gen.length === 1, 10_000, 'GENERIC_MSG both ways');
    expect(n2.gen[0]).toEqual({ clusterId: 1, sourceId: 1, reqLike: true, tag: 'tag-a', message: 'ping from 1' });
    expect(n1.gen[0]).toMatchObject({ sourceId: 2, message: 'hello all' });

    await n2.stop();
    await waitUntil(() => n1.cl.node.linkState(1, 2) === LinkState.DOWN, 20_000, 'node 2 Down');
    expect(n1.cl.node.stats()).toEqual({ nodes: 1, up: 0, down: 1 });
    expect(n1.events.at(-1)).toEqual({ clusterId: 1, nodeId: 2, state: 'down' });

    n2 = await start(2, p2, { id: 1, port: p1 }, pki.node2);
    await waitUntil(() => n1.cl.node.linkState(1, 2) === LinkState.UP && n2.cl.node.linkState(1, 1) === LinkState.UP, 20_000, 'Up again');
    expect(n1.events.at(-1)).toEqual({ clusterId: 1, nodeId: 2, state: 'up' });
  });
});
