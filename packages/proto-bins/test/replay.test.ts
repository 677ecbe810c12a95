// The capture as the peer: an @x clusterer node takes the place of one OpenSIPS 3.6.8 node of
// the capture; the other node's packets are replayed at it in capture order, and every packet
// it sends must be byte for byte what the OpenSIPS node it replaces sent at that point.
import { describe, expect, it } from 'vitest';
import { ClustererNode, decode, parseNodeInfo, splitTrailer, type BinPacket, type ModulePacket, type NodeAddress } from '../src/index.js';
import { capturedPackets, NODE1_PORT, NODE2_PORT } from './capture.js';

const TS = 0x6b03b60f; // the topology timestamp both OpenSIPS nodes wrote (time(NULL) of the capture)
const packets = capturedPackets();
const isPing = (b: Buffer) => decode(b).capability === 'clusterer-internal' && decode(b).type === 0;

function xNode(me: 1 | 2) {
  const other = me === 1 ? 2 : 1;
  let clock = 1_000_000;
  const sent: { to: NodeAddress; bytes: Buffer }[] = [];
  const node = new ClustererNode({
    myNodeId: me,
    myNodeInfo: [parseNodeInfo(`cluster_id=1, node_id=${me}, url=bin:127.0.0.1:${me === 1 ? NODE1_PORT : NODE2_PORT}`)],
    neighbors: [parseNodeInfo(`cluster_id=1, node_id=${other}, url=bin:127.0.0.1:${other === 1 ? NODE1_PORT : NODE2_PORT}`)],
    now: () => clock,
    unixTime: () => TS,
    send: (to, bytes) => (sent.push({ to, bytes }), true),
  });
  const repl: ModulePacket[] = [];
  node.registerCapability(1, 'usrloc-contact-repl', (p) => repl.push(p));
  const rcv = { proto: 'bin', host: '127.0.0.1', port: 40000 + other };
  return {
    node,
    sent,
    repl,
    advance: (ms: number) => (clock += ms),
    feed: (b: Buffer) => node.receive(decode(b) as BinPacket, rcv),
  };
}

/**
 * Replays the capture at an @x node standing for node `me`: the peer's packets are fed in
 * order; before each of the replaced node's own packets the node gets the chance to send it
 * (its timer ticks when that packet is a PING, which only the heartbeats timer sends).
 */
/** (usrloc's own packets are sent through the node's module API at the point the capture has them) */
function replay(me: 1 | 2) {
  const x = xNode(me);
  const expected: Buffer[] = [];
  for (const p of packets) {
    if (p.from === me) {
      expected.push(p.bytes);
      if (x.sent.length < expected.length && isPing(p.bytes)) {
        x.advance(x.node.timing.pingInterval * 1000);
        x.node.tick();
      }
      const pkt = decode(p.bytes);
      if (pkt.capability === 'usrloc-contact-repl') {
        // usrloc replicates a REGISTER: a module broadcast (cl_send_all), the trailer's -1
        // rewritten to each destination's id
        expect(x.node.broadcastModulePacket(1, pkt.capability, pkt.type, pkt.version, splitTrailer(pkt.body).fields)).toBe(0);
      }
    } else {
      x.advance(5);
      x.feed(p.bytes);
    }
  }
  return { x, expected };
}

describe('replaying the OpenSIPS 3.6.8 capture at an @x clusterer node', () => {
  for (const me of [2, 1] as const) {
    it(`as node ${me}: every packet it sends is the OpenSIPS node's, byte for byte, in order`, () => {
      const { x, expected } = replay(me);
      expect(x.sent.length).toBe(expected.length);
      x.sent.forEach((s, i) => {
        expect(s.to.nodeId).toBe(me === 1 ? 2 : 1);
        expect(s.bytes.toString('hex'), `packet ${i} of node ${me}`).toBe(expected[i]!.toString('hex'));
      });
      // what the transcript's MI shows for this node
      expect(x.node.miList()).toEqual({
        Clusters: [
          {
            cluster_id: 1,
            Nodes: [
              {
                node_id: me === 1 ? 2 : 1,
                db_id: -1,
                url: `bin:127.0.0.1:${me === 1 ? NODE2_PORT : NODE1_PORT}`,
                link_state: 'Up',
                state: 'enabled',
                next_hop: me === 1 ? '2' : '1',
                description: 'none',
              },
            ],
          },
        ],
      });
      expect(x.node.miListCap()).toEqual({ Clusters: [{ cluster_id: 1, Capabilities: [{ name: 'usrloc-contact-repl', state: 'Ok', enabled: 'yes' }] }] });
      expect(x.node.miListTopology()).toEqual({
        Clusters: [{ cluster_id: 1, Nodes: [{ node_id: me, Neighbours: [me === 1 ? 2 : 1] }, { node_id: me === 1 ? 2 : 1, Neighbours: [me] }] }],
      });
      expect(x.node.stats()).toEqual({ nodes: 1, up: 1, down: 0 });
    });
  }

  it('as node 2: the usrloc replication packets reach the capability handler with the trailer popped', () => {
    const { x } = replay(2);
    expect(x.repl).toHaveLength(2);
    expect(x.repl.map((r) => [r.packet.type, r.clusterId, r.sourceId])).toEqual([
      [1, 1, 1],
      [3, 1, 1],
    ]);
    const ul = packets.filter((p) => decode(p.bytes).capability === 'usrloc-contact-repl');
    expect(x.repl[1]!.fields.equals(splitTrailer(decode(ul[1]!.bytes).body).fields)).toBe(true);
  });

  it('the node state transcript: node 2 sees node 1 Probe before the PONG, Up after it', () => {
    const x = xNode(2);
    const from1 = packets.filter((p) => p.from === 1);
    x.feed(from1[0]!.bytes); // PING
    expect((x.node.miList() as { Clusters: { Nodes: { link_state: string }[] }[] }).Clusters[0]!.Nodes[0]!.link_state).toBe('Probe');
    x.node.tick(); // our PING
    x.advance(3);
    x.feed(packets.find((p) => p.from === 1 && decode(p.bytes).type === 1)!.bytes); // PONG
    expect(x.node.linkState(1, 1)).toBe(0);
  });
});
