// The clusterer state machine between in-memory nodes on one fake clock: link states and
// their timers, topology learned through a neighbour, rerouting, GENERIC_MSG, events.
import { describe, expect, it } from 'vitest';
import { ClustererMsgType, decode, decodeClustererInternal, LinkState } from '../codec/index.js';
import { ClustererNode, SendResult, type GenericMsgEvent, type NodeEvent } from './node.js';
import { parseNodeInfo, parseNodeUrl } from './node-info.js';

interface Net {
  nodes: Map<number, ClustererNode>;
  /** node ids whose process is down (packets to them vanish) */
  dead: Set<number>;
  /** links cut: "a-b" */
  cut: Set<string>;
  advance(ms: number): void;
  log: { from: number; to: number; type: number; cap: string }[];
}

function net(ids: number[], links: [number, number][], o: { pingTimeout?: number; noPingRetries?: number } = {}): Net {
  let clock = 0;
  const n: Net = {
    nodes: new Map(),
    dead: new Set(),
    cut: new Set(),
    advance(ms) {
      const step = 50;
      for (let t = 0; t < ms; t += step) {
        clock += step;
        for (const [id, node] of n.nodes) if (!n.dead.has(id)) node.tick();
      }
    },
    log: [],
  };
  const url = (id: number) => `bin:127.0.0.${id}:5555`;
  for (const id of ids) {
    const neighbours = links.filter(([a, b]) => a === id || b === id).map(([a, b]) => (a === id ? b : a));
    const node: ClustererNode = new ClustererNode({
      myNodeId: id,
      myNodeInfo: [parseNodeInfo(`cluster_id=1, node_id=${id}, url=${url(id)}`)],
      neighbors: neighbours.map((nb) => parseNodeInfo(`cluster_id=1, node_id=${nb}, url=${url(nb)}${o.noPingRetries !== undefined ? `, no_ping_retries=${o.noPingRetries}` : ''}`)),
      pingInterval: 1,
      pingTimeout: o.pingTimeout ?? 200,
      nodeTimeout: 3,
      now: () => clock,
      unixTime: () => 1_700_000_000 + Math.floor(clock / 1000),
      send: (to, bytes) => {
        const p = decode(bytes);
        n.log.push({ from: id, to: to.nodeId, type: p.type, cap: p.capability });
        if (n.dead.has(to.nodeId) || n.dead.has(id) || n.cut.has(`${Math.min(id, to.nodeId)}-${Math.max(id, to.nodeId)}`)) return true;
        // delivered on a microtask, as a socket read comes after the write
        queueMicrotask(() => {
          clock += 1; // one ms on the wire
          n.nodes.get(to.nodeId)?.receive(p, { proto: 'bin', host: `127.0.0.${id}`, port: 40000 });
        });
        return true;
      },
    });
    n.nodes.set(id, node);
  }
  return n;
}

async function run(n: Net, ms: number): Promise<void> {
  for (let t = 0; t < ms; t += 50) {
    n.advance(50);
    for (let i = 0; i < 20; i++) await Promise.resolve();
  }
}

const ls = (n: Net, a: number, b: number) => n.nodes.get(a)!.linkState(1, b);

describe('ClustererNode', () => {
  it('two nodes reach Up both ways and keep pinging every ping_interval', async () => {
    const n = net([1, 2], [[1, 2]]);
    await run(n, 500);
    expect(ls(n, 1, 2)).toBe(LinkState.UP);
    expect(ls(n, 2, 1)).toBe(LinkState.UP);
    const before = n.log.filter((l) => l.type === ClustererMsgType.PING).length;
    await run(n, 3000);
    const pings = n.log.filter((l) => l.type === ClustererMsgType.PING).length - before;
    expect(pings).toBeGreaterThanOrEqual(4);
    expect(pings).toBeLessThanOrEqual(8);
    expect(ls(n, 1, 2)).toBe(LinkState.UP);
  });

  it('a node that stops answering goes Probe, then Down after its ping retries, and Up again when back', async () => {
    const n = net([1, 2], [[1, 2]]);
    const events: NodeEvent[] = [];
    n.nodes.get(1)!.onNodeEvent((e) => events.push(e));
    await run(n, 500);
    expect(events).toEqual([{ clusterId: 1, nodeId: 2, state: 'up' }]);
    n.dead.add(2);
    await run(n, 1200);
    expect([LinkState.RETRYING, LinkState.DOWN]).toContain(ls(n, 1, 2));
    // 1 regular ping + 3 retries, ping_timeout 200 ms each
    await run(n, 1500);
    expect(ls(n, 1, 2)).toBe(LinkState.DOWN);
    expect(events.at(-1)).toEqual({ clusterId: 1, nodeId: 2, state: 'down' });
    expect(n.nodes.get(1)!.stats()).toEqual({ nodes: 1, up: 0, down: 1 });
    // restarted: a fresh node 2 pings node 1, which answers and pings back at once
    n.dead.delete(2);
    await run(n, 4000);
    expect(ls(n, 1, 2)).toBe(LinkState.UP);
    expect(ls(n, 2, 1)).toBe(LinkState.UP);
    expect(events.at(-1)).toEqual({ clusterId: 1, nodeId: 2, state: 'up' });
  });

  it('a chain 1-2-3: node 1 learns node 3 from 2 topology, reaches it through 2, and GENERIC_MSG is rerouted', async () => {
    const n = net([1, 2, 3], [[1, 2], [2, 3]]);
    n.cut.add('1-3'); // 1 and 3 cannot reach each other directly
    await run(n, 1500);
    expect(ls(n, 2, 1)).toBe(LinkState.UP);
    expect(ls(n, 2, 3)).toBe(LinkState.UP);
    const one = n.nodes.get(1)!;
    // node 3 was not configured on node 1: it came with node 2's full topology update
    expect(one.nodes().map((x) => x.nodeId).sort()).toEqual([2, 3]);
    const list = one.miList() as { Clusters: { Nodes: { node_id: number; next_hop: string; link_state: string }[] }[] };
    const three = list.Clusters[0]!.Nodes.find((x) => x.node_id === 3)!;
    expect(three.next_hop).toBe('2');
    expect(one.miListTopology()).toEqual({
      Clusters: [{ cluster_id: 1, Nodes: expect.arrayContaining([{ node_id: 1, Neighbours: [2] }, { node_id: 2, Neighbours: [3, 1] }]) }],
    });
    const got: GenericMsgEvent[] = [];
    n.nodes.get(3)!.onGenericMsg((e) => got.push(e));
    expect(one.sendGenericMsg(1, 3, 'hello 3', 'tag-1')).toBe(SendResult.SUCCESS);
    for (let i = 0; i < 20; i++) await Promise.resolve();
    expect(got).toEqual([{ clusterId: 1, sourceId: 1, reqLike: true, tag: 'tag-1', message: 'hello 3' }]);
    // a broadcast reaches both
    const got2: GenericMsgEvent[] = [];
    n.nodes.get(2)!.onGenericMsg((e) => got2.push(e));
    expect(one.broadcastGenericMsg(1, 'to all', 'b')).toBe(SendResult.SUCCESS);
    for (let i = 0; i < 20; i++) await Promise.resolve();
    expect(got2.map((e) => e.message)).toEqual(['to all']);
    expect(got.map((e) => e.message)).toEqual(['hello 3', 'to all']);
  });

  it('link 2-3 cut: node 1 learns through LS_UPDATE that 3 is gone', async () => {
    const n = net([1, 2, 3], [[1, 2], [2, 3]]);
    n.cut.add('1-3');
    await run(n, 1500);
    expect(n.nodes.get(1)!.stats().nodes).toBe(2);
    n.cut.add('2-3');
    await run(n, 3000);
    expect(ls(n, 2, 3)).toBe(LinkState.DOWN);
    const one = n.nodes.get(1)!;
    const three = (one.miList() as { Clusters: { Nodes: { node_id: number; next_hop: string }[] }[] }).Clusters[0]!.Nodes.find((x) => x.node_id === 3)!;
    expect(three.next_hop).toBe('none');
    expect(one.sendGenericMsg(1, 3, 'x', 't')).toBe(SendResult.DEST_DOWN);
  });

  it('drops packets from its own id, unknown clusters and wrong addresses; answers an unknown node with UNKNOWN_ID', () => {
    const replies: Buffer[] = [];
    const node = new ClustererNode({
      myNodeId: 1,
      myNodeInfo: [parseNodeInfo('cluster_id=1, url=bin:127.0.0.1:5555')],
      neighbors: [parseNodeInfo('cluster_id=1, node_id=2, url=bin:127.0.0.2:5555')],
      send: () => true,
      reply: (_to, b) => (replies.push(b), true),
    });
    const ping = (cluster: number, src: number) => ({ version: 1, capability: 'clusterer-internal', type: 0, body: Buffer.from(new Int32Array([cluster, src, 1]).buffer) });
    expect(node.receive(ping(1, 1), { proto: 'bin', host: '127.0.0.2', port: 1 })).toBe(false);
    expect(node.receive(ping(9, 2), { proto: 'bin', host: '127.0.0.2', port: 1 })).toBe(false);
    expect(node.receive(ping(1, 2), { proto: 'bin', host: '127.0.0.9', port: 1 })).toBe(false);
    expect(node.dropped).toBe(3);
    expect(node.receive(ping(1, 7), { proto: 'bin', host: '127.0.0.7', port: 1 })).toBe(true);
    expect(decodeClustererInternal(decode(replies[0]!))).toEqual({ type: ClustererMsgType.UNKNOWN_ID, clusterId: 1, sourceId: 1 });
    // a packet whose fields do not parse is dropped and counted, not thrown
    expect(node.receive({ version: 1, capability: 'clusterer-internal', type: 1, body: Buffer.from([1, 0, 0, 0, 2, 0, 0, 0, 5]) }, { proto: 'bin', host: '127.0.0.2', port: 1 })).toBe(false);
    expect(node.dropped).toBe(4);
    // another version of clusterer-internal: discarded as OpenSIPS does
    expect(node.receive({ ...ping(1, 2), version: 2 }, { proto: 'bin', host: '127.0.0.2', port: 1 })).toBe(false);
  });

  it('the heartbeats timer period is gcd(ping_interval, ping_timeout, node_timeout)', () => {
    const mk = (o: object) => new ClustererNode({ myNodeId: 1, myNodeInfo: [], neighbors: [], send: () => true, ...o });
    expect(mk({}).tickInterval).toBe(1000);
    expect(mk({ pingTimeout: 300 }).tickInterval).toBe(100);
    expect(mk({ pingInterval: 2, pingTimeout: 1000, nodeTimeout: 10 }).tickInterval).toBe(1000);
  });
});

describe('node info', () => {
  it('parses my_node_info / neighbor_node_info as OpenSIPS', () => {
    expect(parseNodeInfo('cluster_id=1, node_id=2, url=bin:127.0.0.1:25562')).toEqual({ clusterId: 1, nodeId: 2, url: 'bin:127.0.0.1:25562' });
    expect(parseNodeInfo('cluster_id=3,url=bins:[::1]:5556,priority=10,no_ping_retries=1,sip_addr=sip:a,flags=seed')).toEqual({
      clusterId: 3, url: 'bins:[::1]:5556', priority: 10, noPingRetries: 1, sipAddr: 'sip:a', flags: 'seed',
    });
    expect(parseNodeUrl('bins:[::1]:5556')).toEqual({ proto: 'bins', host: '::1', port: 5556 });
    expect(parseNodeUrl('bin:10.0.0.1')).toEqual({ proto: 'bin', host: '10.0.0.1', port: null });
    for (const bad of ['node_id=2, url=bin:1.2.3.4', 'cluster_id=1', 'cluster_id=x, url=bin:a', 'cluster_id=1, url=udp:1.2.3.4', 'cluster_id=1, url=bin:a, colour=red']) {
      expect(() => parseNodeInfo(bad), bad).toThrow(expect.objectContaining({ code: 'ERR_BIN_NODE_INFO' }));
    }
  });
});
