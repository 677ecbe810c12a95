import { ConfigError, defineModule, ErrorCodes, MiError, type Engine, type Logger, type MiCommand, type ModuleInstance, type ParamSchema, type StatsRegistry } from '@x/core-conn';
import { attachBin, type BinApi } from '../bin.js';
import { CLUSTERER_EXTRA_CAP, CLUSTERER_INTERNAL_CAP } from '../codec/clusterer.js';
import { BinError, BinErrorCodes } from '../codec/errors.js';
import { parseNodeInfo, parseNodeUrl, type NodeInfoDef } from './node-info.js';
import { ClustererNode, CLUSTERER_TIMING_DEFAULTS, SendResult, type NodeAddress } from './node.js';

/** clusterer's modparams after validation. */
export interface ClustererParams {
  my_node_id: number;
  my_node_info?: string[];
  neighbor_node_info?: string[];
  ping_interval: number;
  ping_timeout: number;
  node_timeout: number;
  seed_fallback_interval: number;
  sync_timeout: number;
  db_mode: number;
  db_url?: string;
  enable_stats: boolean;
  enable_rerouting: boolean;
  sharing_tag?: string[];
}

const nodeInfo = (v: string) => {
  try {
    parseNodeInfo(v);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
};

export const clustererParamSchema = {
  my_node_id: { type: 'int', default: -1, doc: 'this node\'s id (>= 1, required)' },
  my_node_info: { type: 'string', multi: true, doc: 'this node in one cluster: "cluster_id=1, url=bin:127.0.0.1:5555[, node_id=, sip_addr=, priority=, no_ping_retries=]"', validate: nodeInfo },
  neighbor_node_info: { type: 'string', multi: true, doc: 'a neighbour: "cluster_id=1, node_id=2, url=bin:10.0.0.2:5555[, ...]"', validate: nodeInfo },
  ping_interval: { type: 'int', default: 4, min: 1, unit: 's', doc: 'a neighbour that sent nothing is pinged this often' },
  ping_timeout: { type: 'int', default: 1000, min: 1, unit: 'ms', doc: 'a ping not answered within this is retried (no_ping_retries times) before the node is Down' },
  node_timeout: { type: 'int', default: 60, min: 0, unit: 's', doc: 'a Down node is pinged again after this' },
  seed_fallback_interval: { type: 'int', default: 5, min: 0, unit: 's', doc: 'seed nodes: time before falling back to "synced" with no donor (no data sync is done by @x)' },
  sync_timeout: { type: 'int', default: 15, min: 0, unit: 's', doc: 'accepted for compatibility (no data sync is done by @x)' },
  db_mode: { type: 'int', default: 0, enum: [0], doc: 'only 0 (nodes from my_node_info / neighbor_node_info) is supported; OpenSIPS\'s default 1 needs a database' },
  db_url: { type: 'string', doc: 'accepted for compatibility; not used with db_mode 0' },
  enable_stats: { type: 'bool', default: true, doc: 'register clusterer_nodes, clusterer_nodes_up, clusterer_nodes_down' },
  enable_rerouting: { type: 'bool', default: true, doc: 'route packets for nodes that are not direct neighbours through the topology' },
  sharing_tag: { type: 'string', multi: true, doc: 'accepted for compatibility; sharing tags are not implemented' },
} as const satisfies ParamSchema;

/**
 * What OpenSIPS's clusterer script functions return: 1 sent (to the node or a next hop; a
 * broadcast: to at least one node), -1 this node is disabled in the cluster, -2 the destination
 * (every node, for a broadcast) is unreachable in the known topology, -3 the send failed or the
 * arguments are wrong (unknown cluster, empty reply tag).
 */
export type ClusterSendCode = 1 | -1 | -2 | -3;

/**
 * The clusterer's API (`ctx.modules.get('clusterer')` in a route script or a module): the node
 * itself, and OpenSIPS's script functions for GENERIC_MSG with their names and return codes.
 * A received GENERIC_MSG runs the route script's `E_CLUSTERER_REQ_RECEIVED` or
 * `E_CLUSTERER_RPL_RECEIVED` export (ctx.cluster_id, ctx.src_id, ctx.msg, ctx.tag), a node going
 * Up or Down its `E_CLUSTERER_NODE_STATE_CHANGED` (ctx.cluster_id, ctx.node_id, ctx.new_state 1/0).
 */
export interface ClustererApi {
  node: ClustererNode;
  /**
   * cluster_send_req(cluster_id, dst_id, msg[, tag]): a request-like GENERIC_MSG to one node;
   * `tag` is the exchange tag generated for it ("<cluster_id>-<my_node_id>-<24 random>"), which
   * the other side's cluster_send_rpl carries back.
   */
  cluster_send_req(clusterId: number, dstId: number, msg: string): { code: ClusterSendCode; tag: string };
  /** cluster_send_rpl(cluster_id, dst_id, msg, tag): a reply-like GENERIC_MSG carrying the request's tag */
  cluster_send_rpl(clusterId: number, dstId: number, msg: string, tag: string): ClusterSendCode;
  /**
   * cluster_broadcast_req(cluster_id, msg[, tag[, include_self]]): a request-like GENERIC_MSG to
   * every node of the cluster; `includeSelf` also runs this node's own E_CLUSTERER_REQ_RECEIVED
   * (without sending it a packet).
   */
  cluster_broadcast_req(clusterId: number, msg: string, includeSelf?: boolean): { code: ClusterSendCode; tag: string };
  close(): void;
}

const TAG_CHARS = 24;

/** OpenSIPS's generate_msg_tag: "<cluster_id>-<my_node_id>-" and 24 characters of [A-Za-z0-9...]. */
function messageTag(clusterId: number, myId: number): string {
  let t = `${clusterId}-${myId}-`;
  for (let i = 0; i < TAG_CHARS; i++) {
    // OpenSIPS: 'A' + rand() % ('z' - 'A'), the 6 characters between 'Z' and 'a' mapped to digits
    let r = 65 + Math.floor(Math.random() * (122 - 65));
    if (r > 90 && r < 97) r = 48 + (r - 90);
    t += String.fromCharCode(r);
  }
  return t;
}

/** ClustererNode's SendResult as the script functions return it */
function scriptCode(rc: SendResult): ClusterSendCode {
  return rc === SendResult.SUCCESS ? 1 : rc === SendResult.CURR_DISABLED ? -1 : rc === SendResult.DEST_DOWN ? -2 : -3;
}

function checkArgs(clusterId: unknown, msg: unknown, dstId?: unknown): void {
  if (!Number.isInteger(clusterId)) throw new BinError(BinErrorCodes.INVALID, `cluster_id must be an integer, got ${JSON.stringify(clusterId)}`);
  if (dstId !== undefined && !Number.isInteger(dstId)) throw new BinError(BinErrorCodes.INVALID, `dst_id must be an integer, got ${JSON.stringify(dstId)}`);
  if (typeof msg !== 'string') throw new BinError(BinErrorCodes.INVALID, `msg must be a string, got ${typeof msg}`);
}

export interface AttachClustererOptions {
  logger?: Logger;
  stats?: StatsRegistry;
  bin?: BinApi;
}

/** Runs a ClustererNode on an engine: BIN in and out, the heartbeats timer, statistics. */
export function attachClusterer(engine: Engine, p: Partial<ClustererParams> & { my_node_id: number }, o: AttachClustererOptions = {}): ClustererApi {
  if (!(p.my_node_id >= 1)) throw new ConfigError(ErrorCodes.INVALID_OPTION, "clusterer: invalid 'my_node_id' parameter (must be >= 1)");
  const mine: NodeInfoDef[] = (p.my_node_info ?? []).map(parseNodeInfo);
  const neighbours: NodeInfoDef[] = (p.neighbor_node_info ?? []).map(parseNodeInfo);
  const bin = o.bin ?? attachBin(engine, { ...(o.logger ? { logger: o.logger } : {}), ...(o.stats ? { stats: o.stats } : {}) });
  const log = o.logger;
  // accepted into the engine = sent (msg_send); a connect or write failure found later is
  // reported back, as OpenSIPS's async writes do
  function send(to: NodeAddress, bytes: Buffer): boolean {
    if (!engine.protocol(to.url.proto)) return false;
    bin.send(bytes, to.url).catch((err: Error) => {
      log?.debug({ err: err.message, node: to.nodeId }, 'clusterer: send failed');
      node.sendFailed(to.clusterId, to.nodeId);
    });
    return true;
  }
  const node = new ClustererNode({
    myNodeId: p.my_node_id,
    myNodeInfo: mine,
    neighbors: neighbours,
    pingInterval: p.ping_interval ?? CLUSTERER_TIMING_DEFAULTS.pingInterval,
    pingTimeout: p.ping_timeout ?? CLUSTERER_TIMING_DEFAULTS.pingTimeout,
    nodeTimeout: p.node_timeout ?? CLUSTERER_TIMING_DEFAULTS.nodeTimeout,
    seedFallbackInterval: p.seed_fallback_interval ?? CLUSTERER_TIMING_DEFAULTS.seedFallbackInterval,
    enableRerouting: p.enable_rerouting ?? true,
    send,
    reply: (to, bytes) => {
      if (to.proto !== 'bin' && to.proto !== 'bins') return false;
      if (to.connectionId !== undefined) {
        try {
          engine.write(to.connectionId, bytes);
          return true;
        } catch {
          return false;
        }
      }
      return false;
    },
    log: (level, msg) => log?.[level]({}, msg),
  });
  // every packet of the clusterer's capabilities and of the modules' registered ones
  const feed = (packet: Parameters<ClustererNode['receive']>[0], _t: number, rcv: { proto: string; remote: { host: string; port: number }; connectionId: number }) => {
    node.receive(packet, { proto: rcv.proto, host: rcv.remote.host, port: rcv.remote.port, connectionId: rcv.connectionId });
  };
  const offs = [bin.registerCapability(CLUSTERER_INTERNAL_CAP, feed), bin.registerCapability(CLUSTERER_EXTRA_CAP, feed)];
  const origRegister = node.registerCapability.bind(node);
  node.registerCapability = (clusterId, name, handler, opts) => {
    origRegister(clusterId, name, handler, opts);
    try {
      offs.push(bin.registerCapability(name, feed));
    } catch {
      // the same capability in a second cluster: already routed here
    }
  };
  if (p.enable_stats !== false && o.stats) {
    o.stats.gauge('clusterer', 'clusterer_nodes', 'nodes known in all clusters', () => node.stats().nodes);
    o.stats.gauge('clusterer', 'clusterer_nodes_up', 'nodes whose link is Up', () => node.stats().up);
    o.stats.gauge('clusterer', 'clusterer_nodes_down', 'nodes whose link is not Up', () => node.stats().down);
  }
  const timer = setInterval(() => {
    try {
      node.tick();
    } catch (err) {
      log?.error({ err }, 'clusterer: heartbeats timer failed');
    }
  }, node.tickInterval);
  timer.unref();
  // the first pings go out at once, not one period later
  setImmediate(() => node.tick()).unref();
  return {
    node,
    cluster_send_req(clusterId, dstId, msg) {
      checkArgs(clusterId, msg, dstId);
      const tag = messageTag(clusterId, node.myNodeId);
      return { code: scriptCode(node.sendGenericMsg(clusterId, dstId, msg, tag, true)), tag };
    },
    cluster_send_rpl(clusterId, dstId, msg, tag) {
      checkArgs(clusterId, msg, dstId);
      if (typeof tag !== 'string' || tag === '') return -1; // OpenSIPS: "Empty tag"
      return scriptCode(node.sendGenericMsg(clusterId, dstId, msg, tag, false));
    },
    cluster_broadcast_req(clusterId, msg, includeSelf = false) {
      checkArgs(clusterId, msg);
      const tag = messageTag(clusterId, node.myNodeId);
      return { code: scriptCode(node.broadcastGenericMsg(clusterId, msg, tag, includeSelf)), tag };
    },
    close() {
      clearInterval(timer);
      for (const off of offs) off();
      if (!o.bin) bin.close();
    },
  };
}

function miCommands(api: ClustererApi): MiCommand[] {
  const node = api.node;
  const int = (v: unknown, what: string): number => {
    const n = typeof v === 'number' ? v : typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : NaN;
    if (!Number.isInteger(n)) throw new MiError(400, `Bad value for '${what}'`);
    return n;
  };
  return [
    { name: 'clusterer:list', aliases: ['clusterer_list'], recipes: [[]], doc: 'lists the nodes of each cluster and their link states', handler: () => node.miList() },
    { name: 'clusterer:list_topology', aliases: ['clusterer_list_topology'], recipes: [[]], doc: 'lists the topology as known by this node', handler: () => node.miListTopology() },
    { name: 'clusterer:list_cap', aliases: ['clusterer_list_cap'], recipes: [[]], doc: 'lists the registered capabilities and their states', handler: () => node.miListCap() },
    {
      name: 'clusterer:reload',
      aliases: ['clusterer_reload'],
      recipes: [[]],
      doc: 'reloads the nodes from the database (db_mode 1 only)',
      handler: () => {
        throw new MiError(400, 'Non-DB mode');
      },
    },
    {
      name: 'clusterer:set_status',
      aliases: ['clusterer_set_status'],
      recipes: [['cluster_id', 'status'], ['cluster_id', 'node_id', 'status']],
      doc: 'enables (1) or disables (0) this node or another in a cluster',
      handler: (p) => {
        const cid = int(p.cluster_id, 'cluster_id');
        const nid = p.node_id === undefined ? node.myNodeId : int(p.node_id, 'node_id');
        const st = int(p.status, 'status');
        if (st !== 0 && st !== 1) throw new MiError(400, "Bad value for 'status'");
        if (!node.clusterIds().includes(cid)) throw new MiError(404, 'Cluster id not found');
        if (!node.setNodeEnabled(cid, nid, st === 1)) throw new MiError(404, 'Node id not found');
        return 'OK';
      },
    },
  ];
}

/**
 * clusterer (`loadmodule "clusterer.so"`, db_mode 0): joins OpenSIPS clusters as a node over
 * bin/bins. Its API gives modules and route scripts the ClustererNode (GENERIC_MSG, module
 * packets, node events).
 */
export const clustererModule = defineModule<ClustererParams, ClustererApi>({
  name: 'clusterer',
  packageName: '@x/proto-bins',
  // one node identity (node_id, its links, pings): one per server, not one per worker process
  singleProcess: true,
  params: clustererParamSchema,
  // OpenSIPS's clusterer events, run as route-script exports when the script has them
  routes: () => [
    { name: 'E_CLUSTERER_REQ_RECEIVED', doc: 'a GENERIC_MSG request from another node (ctx.cluster_id, src_id, msg, tag)' },
    { name: 'E_CLUSTERER_RPL_RECEIVED', doc: 'a GENERIC_MSG reply from another node (ctx.cluster_id, src_id, msg, tag)' },
    { name: 'E_CLUSTERER_NODE_STATE_CHANGED', doc: 'a node went up or down (ctx.cluster_id, node_id, new_state)' },
  ],
  init(ctx, params): ModuleInstance<ClustererApi> {
    if (!params.my_node_info?.length) throw new ConfigError(ErrorCodes.INVALID_OPTION, 'clusterer: db_mode 0 needs my_node_info');
    for (const d of [...(params.my_node_info ?? []), ...(params.neighbor_node_info ?? [])]) {
      const proto = parseNodeUrl(parseNodeInfo(d).url).proto;
      if (!ctx.engine.protocol(proto)) throw new ConfigError(ErrorCodes.INVALID_OPTION, `clusterer: node url ${parseNodeInfo(d).url} needs proto_${proto} (loadmodule "proto_${proto}.so")`);
    }
    const bin = (ctx.modules.get('proto_bins') ?? ctx.modules.get('proto_bin')) as BinApi | undefined;
    const api = attachClusterer(ctx.engine, params, { logger: ctx.logger, stats: ctx.stats, ...(bin ? { bin } : {}) });
    // OpenSIPS's clusterer events, as route-script exports of the same names
    const offGeneric = api.node.onGenericMsg((e) => {
      const fields = { cluster_id: e.clusterId, src_id: e.sourceId, msg: e.message, tag: e.tag };
      void ctx.routes(e.reqLike ? 'E_CLUSTERER_REQ_RECEIVED' : 'E_CLUSTERER_RPL_RECEIVED', { message: e.message, fields });
    });
    const offNode = api.node.onNodeEvent((e) => {
      const fields = { cluster_id: e.clusterId, node_id: e.nodeId, new_state: e.state === 'up' ? 1 : 0 };
      void ctx.routes('E_CLUSTERER_NODE_STATE_CHANGED', { message: fields, fields });
    });
    return {
      api,
      mi: miCommands(api),
      destroy: () => {
        offGeneric();
        offNode();
        api.close();
      },
    };
  },
});
