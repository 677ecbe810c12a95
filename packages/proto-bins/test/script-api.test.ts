// GENERIC_MSG from route scripts, through the clusterer module as x-server loads it: two nodes
// over bin on 127.0.0.1, each with a route-script stand-in (the module's RouteCaller). The
// script functions keep OpenSIPS's names and return codes (cluster_send_req, cluster_send_rpl,
// cluster_broadcast_req), a received message runs E_CLUSTERER_REQ_RECEIVED /
// E_CLUSTERER_RPL_RECEIVED with cluster_id, src_id, msg and tag, a node going Up or Down runs
// E_CLUSTERER_NODE_STATE_CHANGED.
import { afterEach, describe, expect, it } from 'vitest';
import { createStatsRegistry, NOOP_LOGGER, validateParams, type Engine, type ModuleInstance } from '@x/core-conn';
import { createTestEngine, waitUntil } from '@x/core-conn/testing';
import { binSpec, clustererModule, type ClustererApi, type ClustererParams } from '../src/index.js';

interface RouteCall {
  route: string;
  fields: Record<string, unknown>;
}
interface Node {
  engine: Engine;
  api: ClustererApi;
  calls: RouteCall[];
  /** what the route script does with a call (runs inside the module's event) */
  script: (c: RouteCall, api: ClustererApi) => void;
  stop(): Promise<void>;
}

const running: Node[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((n) => n.stop()));
});

async function freePorts(): Promise<[number, number]> {
  const e = createTestEngine([binSpec()] as never);
  const a = await e.listen('bin:127.0.0.1:0');
  const b = await e.listen('bin:127.0.0.1:0');
  await e.shutdown({ deadlineMs: 0 });
  return [a.address.port, b.address.port];
}

async function start(me: number, ports: [number, number]): Promise<Node> {
  const other = me === 1 ? 2 : 1;
  const engine = createTestEngine([binSpec()] as never);
  await engine.listen(`bin:127.0.0.1:${ports[me - 1]}`);
  const raw = new Map(
    Object.entries({
      my_node_id: me,
      my_node_info: `cluster_id=1, url=bin:127.0.0.1:${ports[me - 1]}`,
      neighbor_node_info: `cluster_id=1, node_id=${other}, url=bin:127.0.0.1:${ports[other - 1]}, no_ping_retries=1`,
      ping_interval: 1,
      ping_timeout: 600,
      node_timeout: 2,
    }).map(([k, v]) => [k, [{ value: v }]]),
  );
  const params = validateParams<ClustererParams>('clusterer', clustererModule.params, raw);
  const node = { calls: [] as RouteCall[], script: () => undefined } as unknown as Node;
  const routes = (name: string, payload: unknown): unknown => {
    const c = { route: name, fields: (payload as { fields: Record<string, unknown> }).fields };
    node.calls.push(c);
    node.script(c, node.api);
    return undefined;
  };
  const instance: ModuleInstance<ClustererApi> = await clustererModule.init(
    { engine, logger: NOOP_LOGGER, stats: createStatsRegistry(), routes, hasRoute: () => true, traceSinks: { register: () => undefined, get: () => undefined, names: () => [] }, loaded: [], modules: new Map() },
    params,
  );
  Object.assign(node, {
    engine,
    api: instance.api!,
    async stop() {
      await instance.destroy?.();
      await engine.shutdown({ deadlineMs: 0 });
      const i = running.indexOf(node);
      if (i >= 0) running.splice(i, 1);
    },
  });
  running.push(node);
  return node;
}

const of = (n: Node, route: string) => n.calls.filter((c) => c.route === route).map((c) => c.fields);
const TAG = /^1-1-[A-Za-y1-6]{24}$/;

describe('clusterer script functions and event routes', () => {
  it('send_req -> REQ_RECEIVED -> send_rpl with the tag -> RPL_RECEIVED; broadcast with include_self; codes for every failure', async () => {
    const ports = await freePorts();
    const n1 = await start(1, ports);
    const n2 = await start(2, ports);
    // node 2's script answers every request with the request's tag
    n2.script = (c, api) => {
      if (c.route !== 'E_CLUSTERER_REQ_RECEIVED') return;
      expect(api.cluster_send_rpl(c.fields.cluster_id as number, c.fields.src_id as number, `re: ${c.fields.msg as string}`, c.fields.tag as string)).toBe(1);
    };
    await waitUntil(() => of(n1, 'E_CLUSTERER_NODE_STATE_CHANGED').length > 0 && of(n2, 'E_CLUSTERER_NODE_STATE_CHANGED').length > 0, 15_000, 'both Up');
    expect(of(n1, 'E_CLUSTERER_NODE_STATE_CHANGED')).toEqual([{ cluster_id: 1, node_id: 2, new_state: 1 }]);

    const sent = n1.api.cluster_send_req(1, 2, 'Check USER: alice');
    expect(sent.code).toBe(1);
    expect(sent.tag).toMatch(TAG);
    await waitUntil(() => of(n1, 'E_CLUSTERER_RPL_RECEIVED').length === 1, 10_000, 'the reply');
    expect(of(n2, 'E_CLUSTERER_REQ_RECEIVED')).toEqual([{ cluster_id: 1, src_id: 1, msg: 'Check USER: alice', tag: sent.tag }]);
    expect(of(n1, 'E_CLUSTERER_RPL_RECEIVED')).toEqual([{ cluster_id: 1, src_id: 2, msg: 're: Check USER: alice', tag: sent.tag }]);

    // a broadcast reaches node 2 (which replies) and, with include_self, node 1's own route
    const b = n1.api.cluster_broadcast_req(1, 'to all', true);
    expect(b.code).toBe(1);
    expect(b.tag).toMatch(TAG);
    expect(b.tag).not.toBe(sent.tag);
    expect(of(n1, 'E_CLUSTERER_REQ_RECEIVED')).toEqual([{ cluster_id: 1, src_id: 1, msg: 'to all', tag: b.tag }]);
    await waitUntil(() => of(n1, 'E_CLUSTERER_RPL_RECEIVED').length === 2, 10_000, 'the broadcast reply');
    expect(of(n1, 'E_CLUSTERER_RPL_RECEIVED')[1]).toEqual({ cluster_id: 1, src_id: 2, msg: 're: to all', tag: b.tag });

    expect(n1.api.cluster_send_req(1, 9, 'nobody').code).toBe(-3); // no such node
    expect(n1.api.cluster_send_req(7, 2, 'no such cluster').code).toBe(-3);
    expect(n1.api.cluster_send_rpl(1, 2, 'no tag', '')).toBe(-1);
    expect(() => n1.api.cluster_send_req('1' as never, 2, 'x')).toThrow(expect.objectContaining({ code: 'ERR_BIN_INVALID' }));

    // node 2 goes away: Down (its event route), then -2 for a send to it and for a broadcast
    await n2.stop();
    await waitUntil(() => of(n1, 'E_CLUSTERER_NODE_STATE_CHANGED').length === 2, 20_000, 'node 2 Down');
    expect(of(n1, 'E_CLUSTERER_NODE_STATE_CHANGED')[1]).toEqual({ cluster_id: 1, node_id: 2, new_state: 0 });
    expect(n1.api.cluster_send_req(1, 2, 'are you there').code).toBe(-2);
    expect(n1.api.cluster_broadcast_req(1, 'anyone').code).toBe(-2);
    // this node disabled in the cluster (MI clusterer_set_status 1 0): -1
    n1.api.node.setNodeEnabled(1, 1, false);
    expect(n1.api.cluster_send_req(1, 2, 'x').code).toBe(-1);
  });
});
