// Two x-server processes joined as clusterer nodes over bins, with certificates from one
// self-signed CA: each shows the other "Up" in clusterer_list (OpenSIPS 3.6's shape), their
// route scripts exchange GENERIC_MSG (cluster_send_req from a SIP route, cluster_send_rpl from
// E_CLUSTERER_REQ_RECEIVED, the tag carried back to E_CLUSTERER_RPL_RECEIVED), and the survivor
// shows "Down" (and runs E_CLUSTERER_NODE_STATE_CHANGED) once the other is killed.
import { once } from 'node:events';
import { connect } from 'node:net';
import { join } from 'node:path';
import { freePort, testCa, testCert } from '@x/test-peers';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, optionsRequest, startX, tempDir, writeFiles, type Running } from './helpers.js';

const running: Running[] = [];
afterEach(() => {
  for (const r of running.splice(0)) r.kill();
});
beforeAll(() => {
  ensureBuilt();
});

/** one CA, two nodes' certificates (SAN: IP 127.0.0.1 only) */
async function pki(): Promise<Record<string, string>> {
  const ca = await testCa({ CN: 'x e2e CA' });
  const [n1, n2] = await Promise.all([testCert({ CN: 'node1' }, ca, { dnsSan: false }), testCert({ CN: 'node2' }, ca, { dnsSan: false })]);
  return { 'ca.pem': ca.cert, 'n1.pem': n1.cert, 'n1.key': n1.key, 'n2.pem': n2.cert, 'n2.key': n2.key };
}

function cfg(dir: string, me: number, ports: [number, number]): string {
  const other = me === 1 ? 2 : 1;
  const tls = (dom: string) => `
modparam("tls_mgm", "certificate", "[${dom}]${join(dir, `n${me}.pem`)}")
modparam("tls_mgm", "private_key", "[${dom}]${join(dir, `n${me}.key`)}")
modparam("tls_mgm", "ca_list", "[${dom}]${join(dir, 'ca.pem')}")`;
  return `
log_level = 3
route_script = "${join(dir, 'routes.mjs')}"
socket = bins:127.0.0.1:${ports[me - 1]}
socket = tcp:127.0.0.1:0
loadmodule "proto_tcp.so"
loadmodule "tls_mgm.so"
modparam("tls_mgm", "server_domain", "srv")${tls('srv')}
modparam("tls_mgm", "client_domain", "cli")${tls('cli')}
loadmodule "proto_bins.so"
loadmodule "clusterer.so"
modparam("clusterer", "db_mode", 0)
modparam("clusterer", "my_node_id", ${me})
modparam("clusterer", "my_node_info", "cluster_id=1, url=bins:127.0.0.1:${ports[me - 1]}")
modparam("clusterer", "neighbor_node_info", "cluster_id=1, node_id=${other}, url=bins:127.0.0.1:${ports[other - 1]}, no_ping_retries=1")
modparam("clusterer", "ping_interval", 1)
modparam("clusterer", "ping_timeout", 600)
loadmodule "httpd.so"
loadmodule "mi_http.so"
modparam("httpd", "port", 0)
`;
}

/**
 * The same route script on both nodes: a SIP request makes a GENERIC_MSG request to the other
 * node (the reply's reason phrase carries the code and the tag); a GENERIC_MSG request is
 * answered with its tag; replies and node state changes are logged.
 */
const ROUTES = `
export function request(ctx) {
  const cl = ctx.modules.get('clusterer');
  const sent = cl.cluster_send_req(1, cl.node.myNodeId === 1 ? 2 : 1, 'hello from ' + cl.node.myNodeId);
  return ctx.reply(200, 'sent ' + sent.code + ' ' + sent.tag);
}
export function E_CLUSTERER_REQ_RECEIVED(ctx) {
  const code = ctx.modules.get('clusterer').cluster_send_rpl(ctx.cluster_id, ctx.src_id, 're: ' + ctx.msg, ctx.tag);
  ctx.log.info({ code, src_id: ctx.src_id, text: ctx.msg, tag: ctx.tag }, 'E_CLUSTERER_REQ_RECEIVED');
}
export function E_CLUSTERER_RPL_RECEIVED(ctx) {
  ctx.log.info({ cluster_id: ctx.cluster_id, src_id: ctx.src_id, text: ctx.msg, tag: ctx.tag }, 'E_CLUSTERER_RPL_RECEIVED');
}
export function E_CLUSTERER_NODE_STATE_CHANGED(ctx) {
  ctx.log.info({ cluster_id: ctx.cluster_id, node_id: ctx.node_id, new_state: ctx.new_state }, 'E_CLUSTERER_NODE_STATE_CHANGED');
}
`;

/** one SIP OPTIONS to the node's tcp socket; resolves with the reply's status line */
async function sipRequest(x: Running): Promise<string> {
  const s = connect({ host: '127.0.0.1', port: x.ports.get('tcp')! });
  s.on('error', () => undefined);
  try {
    await once(s, 'connect');
    s.write(optionsRequest(1, s.localPort!));
    let buf = '';
    for await (const d of s) {
      buf += String(d);
      if (buf.includes('\r\n')) return buf.slice(0, buf.indexOf('\r\n'));
    }
    throw new Error('connection closed without a reply');
  } finally {
    s.destroy();
  }
}

async function mi(x: Running, method: string): Promise<unknown> {
  const r = await fetch(x.miUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', method, id: 1 }) });
  return ((await r.json()) as { result: unknown }).result;
}

async function linkState(x: Running): Promise<string | undefined> {
  const res = (await mi(x, 'clusterer_list')) as { Clusters: { Nodes: { link_state: string }[] }[] };
  return res.Clusters[0]?.Nodes[0]?.link_state;
}

async function until(cond: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('two x-servers as clusterer nodes over bins', () => {
  it('see each other Up, exchange GENERIC_MSG from their route scripts (request from a SIP route, reply from E_CLUSTERER_REQ_RECEIVED), and Down when one is killed', async () => {
    const dir = tempDir();
    writeFiles(dir, await pki());
    const p1 = await freePort([42000, 44000]);
    let p2 = await freePort([44001, 46000]);
    if (p2 === p1) p2 = await freePort([46001, 48000]);
    writeFiles(dir, { 'n1.cfg': cfg(dir, 1, [p1, p2]), 'n2.cfg': cfg(dir, 2, [p1, p2]), 'routes.mjs': ROUTES });
    const x1 = await startX(join(dir, 'n1.cfg'));
    running.push(x1);
    const x2 = await startX(join(dir, 'n2.cfg'));
    running.push(x2);
    await until(async () => (await linkState(x1)) === 'Up' && (await linkState(x2)) === 'Up', 20_000, 'Up both ways');
    expect(await mi(x1, 'clusterer_list')).toEqual({
      Clusters: [{ cluster_id: 1, Nodes: [{ node_id: 2, db_id: -1, url: `bins:127.0.0.1:${p2}`, link_state: 'Up', state: 'enabled', next_hop: '2', description: 'none' }] }],
    });
    expect(await mi(x2, 'clusterer_list_topology')).toEqual({ Clusters: [{ cluster_id: 1, Nodes: [{ node_id: 2, Neighbours: [1] }, { node_id: 1, Neighbours: [2] }] }] });
    // GENERIC_MSG both ways, each sent from a SIP request route and answered by the other's script
    const line = (x: Running, msg: string) => x.lines.find((l) => l.msg === msg);
    await until(async () => line(x1, 'E_CLUSTERER_NODE_STATE_CHANGED') !== undefined && line(x2, 'E_CLUSTERER_NODE_STATE_CHANGED') !== undefined, 10_000, 'the Up event routes');
    expect(line(x1, 'E_CLUSTERER_NODE_STATE_CHANGED')).toMatchObject({ cluster_id: 1, node_id: 2, new_state: 1 });
    expect(line(x2, 'E_CLUSTERER_NODE_STATE_CHANGED')).toMatchObject({ cluster_id: 1, node_id: 1, new_state: 1 });
    for (const [x, y, me, other] of [[x1, x2, 1, 2], [x2, x1, 2, 1]] as const) {
      const status = await sipRequest(x);
      const m = new RegExp(`^SIP/2\\.0 200 sent 1 (1-${me}-[A-Za-y1-6]{24})$`).exec(status);
      expect(m, status).not.toBeNull();
      const tag = m![1];
      await until(async () => line(x, 'E_CLUSTERER_RPL_RECEIVED') !== undefined, 20_000, `the reply on node ${me}`);
      await until(async () => line(y, 'E_CLUSTERER_REQ_RECEIVED') !== undefined, 10_000, `the request on node ${other}`);
      expect(line(y, 'E_CLUSTERER_REQ_RECEIVED')).toMatchObject({ code: 1, src_id: me, text: `hello from ${me}`, tag });
      expect(line(x, 'E_CLUSTERER_RPL_RECEIVED')).toMatchObject({ cluster_id: 1, src_id: other, text: `re: hello from ${me}`, tag });
      x.lines.length = 0;
      y.lines.length = 0;
    }
    x2.kill();
    await until(async () => (await linkState(x1)) === 'Down', 20_000, 'node 2 Down on node 1');
    await until(async () => line(x1, 'E_CLUSTERER_NODE_STATE_CHANGED') !== undefined, 10_000, 'the Down event route');
    expect(line(x1, 'E_CLUSTERER_NODE_STATE_CHANGED')).toMatchObject({ cluster_id: 1, node_id: 2, new_state: 0 });
  });
});
