/**
 * The clusterer's logic (OpenSIPS modules/clusterer, db_mode 0) as a pure state machine: no
 * sockets, no timers. The transport feeds it received packets (`receive`) and calls `tick` on
 * the heartbeats timer; it answers through `send`. Link states, timers, topology and packet
 * layouts follow OpenSIPS 3.6 (topology.c, clusterer.c), so an OpenSIPS node sees an @x node
 * as one of its own.
 */
import { ConfigError, ErrorCodes } from '@x/core-conn';
import { BinError } from '../codec/errors.js';
import {
  CLUSTERER_BIN_VERSION,
  CLUSTERER_EXTRA_CAP,
  CLUSTERER_INTERNAL_CAP,
  CLUSTERER_MAX_PATH_LEN,
  ClustererMsgType,
  decodeClustererInternal,
  encodeClustererInternal,
  encodeGenericMsg,
  encodeWithTrailer,
  LinkState,
  splitTrailer,
  type ClustererInternalMsg,
  type ClustererTrailer,
  type NodeDescription,
  type TopologyEntry,
} from '../codec/clusterer.js';
import { BinReader, type BinPacket } from '../codec/packet.js';
import { DEFAULT_NO_PING_RETRIES, parseNodeUrl, type NodeInfoDef, type NodeUrl } from './node-info.js';

/** where a packet came from (the transport's receive info) */
export interface ReceiveInfo {
  proto: string;
  host: string;
  port: number;
  connectionId?: number;
}

export interface ClustererTiming {
  /** s, default 4 */
  pingInterval: number;
  /** ms, default 1000 */
  pingTimeout: number;
  /** s, default 60 */
  nodeTimeout: number;
  /** s, default 5 (seed nodes; kept for the MI and the params, no sync is done here) */
  seedFallbackInterval: number;
  /** enable_rerouting, default true */
  enableRerouting: boolean;
}

export const CLUSTERER_TIMING_DEFAULTS: Readonly<ClustererTiming> = Object.freeze({
  pingInterval: 4,
  pingTimeout: 1000,
  nodeTimeout: 60,
  seedFallbackInterval: 5,
  enableRerouting: true,
});

/** The remote node as the transport needs it to send. */
export interface NodeAddress {
  clusterId: number;
  nodeId: number;
  url: NodeUrl;
}

export interface ClustererNodeOptions extends Partial<ClustererTiming> {
  myNodeId: number;
  /** one per cluster the node is part of (`my_node_info`) */
  myNodeInfo: NodeInfoDef[];
  /** `neighbor_node_info` */
  neighbors: NodeInfoDef[];
  /**
   * Sends bytes to a node's url; false = refused at once (msg_send < 0). Failures found later
   * (a connect refused) are reported with `sendFailed`.
   */
  send(to: NodeAddress, bytes: Buffer): boolean;
  /** sends to where a packet came from (UNKNOWN_ID, NODE_DESCRIPTION to an unknown node) */
  reply?(to: ReceiveInfo, bytes: Buffer): boolean;
  /** monotonic ms (default performance.now) */
  now?: () => number;
  /** unix seconds for topology timestamps (default Date.now()/1000) */
  unixTime?: () => number;
  log?(level: 'debug' | 'info' | 'warn' | 'error', msg: string): void;
}

/** what a capability's packet handler is given */
export interface ModulePacket {
  packet: BinPacket;
  /** the module's fields, the trailer popped */
  fields: Buffer;
  clusterId: number;
  sourceId: number;
  rcv: ReceiveInfo;
}
export type CapabilityHandler = (p: ModulePacket) => void;

export interface GenericMsgEvent {
  clusterId: number;
  sourceId: number;
  reqLike: boolean;
  tag: string;
  message: string;
}

export type NodeEvent = { clusterId: number; nodeId: number; state: 'up' | 'down' };

export const SendResult = { SUCCESS: 0, ERROR: -1, DEST_DOWN: -2, CURR_DISABLED: -3 } as const;
export type SendResult = (typeof SendResult)[keyof typeof SendResult];

const NEVER = -1e15;
const INT = (n: number) => n | 0;

interface RemoteCap {
  name: string;
  ok: boolean;
}
interface LocalCap {
  name: string;
  ok: boolean;
  enabled: boolean;
  handler?: CapabilityHandler;
}

/** One other node of a cluster. */
export interface RemoteNode {
  readonly clusterId: number;
  readonly nodeId: number;
  url: string;
  addr: NodeUrl;
  sipAddr: string;
  priority: number;
  noPingRetries: number;
  description: string | null;
  enabled: boolean;
  linkState: LinkState;
  lastPing: number;
  lastPong: number;
  lastSent: number;
  lastRecv: number;
  lastPingState: number;
  currNoRetries: number;
  lsSeqNo: number;
  lsTimestamp: number;
  topSeqNo: number;
  topTimestamp: number;
  capSeqNo: number;
  capTimestamp: number;
  /** this node's adjacency list as learned from topology updates (newest first, as OpenSIPS) */
  neighbours: RemoteNode[];
  capabilities: RemoteCap[];
  /** reachable at the last event check (for up/down events) */
  reachable: boolean;
}

interface Cluster {
  id: number;
  me: {
    url: string;
    sipAddr: string;
    priority: number;
    noPingRetries: number;
    enabled: boolean;
    lsSeqNo: number;
    lsTimestamp: number;
    topSeqNo: number;
    capSeqNo: number;
    neighbours: RemoteNode[];
  };
  /** newest first, as OpenSIPS's node_list */
  nodes: RemoteNode[];
  /** newest first */
  caps: LocalCap[];
}

export class ClustererNode {
  readonly myNodeId: number;
  readonly timing: ClustererTiming;
  /** newest first, as OpenSIPS's cluster_list */
  private readonly clusters: Cluster[] = [];
  private readonly now: () => number;
  private readonly unixTime: () => number;
  private readonly genericListeners: ((e: GenericMsgEvent) => void)[] = [];
  private readonly nodeListeners: ((e: NodeEvent) => void)[] = [];
  private readonly miListeners: ((e: { clusterId: number; sourceId: number; command: string; params: string[] }) => void)[] = [];
  /** packets dropped: unknown cluster, unknown source, bad address, bad layout, our own id */
  dropped = 0;

  constructor(private readonly o: ClustererNodeOptions) {
    this.myNodeId = o.myNodeId;
    this.timing = { ...CLUSTERER_TIMING_DEFAULTS };
    for (const k of Object.keys(CLUSTERER_TIMING_DEFAULTS) as (keyof ClustererTiming)[]) if (o[k] !== undefined) (this.timing as unknown as Record<string, unknown>)[k] = o[k];
    this.now = o.now ?? (() => performance.now());
    this.unixTime = o.unixTime ?? (() => Math.floor(Date.now() / 1000));
    for (const d of o.myNodeInfo) {
      if (d.nodeId !== undefined && d.nodeId !== o.myNodeId) throw new ConfigError(ErrorCodes.INVALID_OPTION, `my_node_info node_id ${d.nodeId} differs from my_node_id ${o.myNodeId}`);
      if (this.cluster(d.clusterId)) throw new ConfigError(ErrorCodes.INVALID_OPTION, `my_node_info given twice for cluster ${d.clusterId}`);
      parseNodeUrl(d.url);
      this.clusters.unshift({
        id: d.clusterId,
        me: {
          url: d.url,
          sipAddr: d.sipAddr ?? '',
          priority: d.priority ?? DEFAULT_NO_PING_RETRIES,
          noPingRetries: d.noPingRetries ?? DEFAULT_NO_PING_RETRIES,
          enabled: true,
          lsSeqNo: -1,
          lsTimestamp: 0,
          topSeqNo: -1,
          capSeqNo: -1,
          neighbours: [],
        },
        nodes: [],
        caps: [],
      });
    }
    for (const d of o.neighbors) {
      const cl = this.cluster(d.clusterId);
      if (!cl) throw new ConfigError(ErrorCodes.INVALID_OPTION, `neighbor_node_info for cluster ${d.clusterId}, which has no my_node_info`);
      if (d.nodeId === undefined) throw new ConfigError(ErrorCodes.INVALID_OPTION, 'neighbor_node_info needs a node_id');
      if (d.nodeId === this.myNodeId) throw new ConfigError(ErrorCodes.INVALID_OPTION, `neighbor_node_info node_id ${d.nodeId} is my_node_id`);
      if (cl.nodes.some((n) => n.nodeId === d.nodeId)) throw new ConfigError(ErrorCodes.INVALID_OPTION, `node ${d.nodeId} defined twice in cluster ${d.clusterId}`);
      this.addNode(cl, d.nodeId, { url: d.url, sipAddr: d.sipAddr ?? '', priority: d.priority ?? DEFAULT_NO_PING_RETRIES, noPingRetries: d.noPingRetries ?? DEFAULT_NO_PING_RETRIES });
    }
  }

  private log(level: 'debug' | 'info' | 'warn' | 'error', msg: string): void {
    this.o.log?.(level, msg);
  }

  private cluster(id: number): Cluster | undefined {
    return this.clusters.find((c) => c.id === id);
  }
  private node(cl: Cluster, id: number): RemoteNode | undefined {
    return cl.nodes.find((n) => n.nodeId === id);
  }

  private addNode(cl: Cluster, nodeId: number, d: NodeDescription): RemoteNode {
    const n: RemoteNode = {
      clusterId: cl.id,
      nodeId,
      url: d.url,
      addr: parseNodeUrl(d.url),
      sipAddr: d.sipAddr,
      priority: d.priority,
      noPingRetries: d.noPingRetries,
      description: null,
      enabled: true,
      linkState: LinkState.RESTART_PINGING,
      lastPing: NEVER,
      lastPong: NEVER,
      lastSent: NEVER,
      lastRecv: NEVER,
      lastPingState: 0,
      currNoRetries: 0,
      lsSeqNo: -1,
      lsTimestamp: 0,
      topSeqNo: -1,
      topTimestamp: 0,
      capSeqNo: -1,
      capTimestamp: 0,
      neighbours: [],
      capabilities: [],
      reachable: false,
    };
    cl.nodes.unshift(n);
    return n;
  }

  // ---- public API --------------------------------------------------------------------------

  /**
   * Registers a local capability (cl_register_cap) with its packet handler. Without
   * `requireSync` the capability is Ok at once (no sync is done here).
   */
  registerCapability(clusterId: number, name: string, handler?: CapabilityHandler, o: { requireSync?: boolean } = {}): void {
    const cl = this.cluster(clusterId);
    if (!cl) throw new ConfigError(ErrorCodes.INVALID_OPTION, `unknown cluster ${clusterId}`);
    if (cl.caps.some((c) => c.name === name)) throw new ConfigError(ErrorCodes.INVALID_OPTION, `capability ${name} registered twice in cluster ${clusterId}`);
    cl.caps.unshift({ name, ok: !o.requireSync, enabled: true, ...(handler ? { handler } : {}) });
  }

  onGenericMsg(fn: (e: GenericMsgEvent) => void): () => void {
    this.genericListeners.push(fn);
    return () => this.genericListeners.splice(this.genericListeners.indexOf(fn) >>> 0, 1);
  }
  onNodeEvent(fn: (e: NodeEvent) => void): () => void {
    this.nodeListeners.push(fn);
    return () => this.nodeListeners.splice(this.nodeListeners.indexOf(fn) >>> 0, 1);
  }
  onMiCommand(fn: (e: { clusterId: number; sourceId: number; command: string; params: string[] }) => void): void {
    this.miListeners.push(fn);
  }

  clusterIds(): number[] {
    return this.clusters.map((c) => c.id);
  }
  nodes(clusterId?: number): readonly RemoteNode[] {
    return this.clusters.filter((c) => clusterId === undefined || c.id === clusterId).flatMap((c) => c.nodes);
  }
  linkState(clusterId: number, nodeId: number): LinkState | undefined {
    const cl = this.cluster(clusterId);
    return cl ? this.node(cl, nodeId)?.linkState : undefined;
  }

  /** cluster_send_req / cluster_send_rpl: a GENERIC_MSG to one node (itself too) */
  sendGenericMsg(clusterId: number, destId: number, message: string, tag: string, reqLike = true): SendResult {
    const bytes = encodeGenericMsg({ reqLike: reqLike ? 1 : 0, tag, message, clusterId, sourceId: this.myNodeId, destId });
    return this.sendTo(clusterId, destId, bytes, false);
  }

  /** cluster_broadcast_req: a GENERIC_MSG to every enabled node of the cluster */
  broadcastGenericMsg(clusterId: number, message: string, tag: string, all = false): SendResult {
    const bytes = encodeGenericMsg({ reqLike: 1, tag, message, clusterId, sourceId: this.myNodeId, destId: -1 });
    const rc = this.bcast(clusterId, bytes);
    if (all) this.emitGeneric({ clusterId, sourceId: this.myNodeId, reqLike: true, tag, message });
    return rc;
  }

  /** cl_send_to: a module packet (the capability's own fields) to one node */
  sendModulePacket(clusterId: number, destId: number, capability: string, type: number, version: number, fields: Buffer): SendResult {
    const cl = this.cluster(clusterId);
    if (!cl) return SendResult.ERROR;
    const cap = cl.caps.find((c) => c.name === capability);
    if (!cap) return SendResult.ERROR;
    if (!cap.enabled) return SendResult.SUCCESS;
    return this.sendTo(clusterId, destId, encodeWithTrailer(capability, type, version, fields, { clusterId, sourceId: this.myNodeId, destId }), true);
  }

  /** cl_send_all: a module packet to every enabled node */
  broadcastModulePacket(clusterId: number, capability: string, type: number, version: number, fields: Buffer): SendResult {
    const cl = this.cluster(clusterId);
    if (!cl) return SendResult.ERROR;
    const cap = cl.caps.find((c) => c.name === capability);
    if (!cap) return SendResult.ERROR;
    if (!cap.enabled) return SendResult.SUCCESS;
    return this.bcast(clusterId, encodeWithTrailer(capability, type, version, fields, { clusterId, sourceId: this.myNodeId, destId: -1 }));
  }

  /** a send that the transport found failed after it was accepted (connect refused, closed) */
  sendFailed(clusterId: number, nodeId: number): void {
    const cl = this.cluster(clusterId);
    const n = cl && this.node(cl, nodeId);
    if (!cl || !n) return;
    if (n.linkState === LinkState.UP) {
      this.setLinkWNeighAdv(-1, LinkState.RESTART_PINGING, n);
      this.checkEvents();
    }
  }

  /** clusterer_set_status */
  setNodeEnabled(clusterId: number, nodeId: number, enabled: boolean): boolean {
    const cl = this.cluster(clusterId);
    if (!cl) return false;
    if (nodeId === this.myNodeId) {
      cl.me.enabled = enabled;
      return true;
    }
    const n = this.node(cl, nodeId);
    if (!n) return false;
    n.enabled = enabled;
    if (!enabled) this.setLinkWNeigh(LinkState.DOWN, n);
    else n.linkState = LinkState.RESTART_PINGING;
    this.checkEvents();
    return true;
  }

  // ---- statistics and MI -------------------------------------------------------------------

  stats(): { nodes: number; up: number; down: number } {
    const all = this.nodes();
    const up = all.filter((n) => n.linkState === LinkState.UP).length;
    return { nodes: all.length, up, down: all.length - up };
  }

  /** MI clusterer_list, OpenSIPS 3.6's shape and JSON types */
  miList(): unknown {
    return {
      Clusters: this.clusters.map((cl) => ({
        cluster_id: cl.id,
        Nodes: cl.nodes.map((n) => {
          const hop = this.nextHopId(cl, n);
          return {
            node_id: n.nodeId,
            db_id: -1,
            url: n.url,
            link_state: n.linkState === LinkState.UP ? 'Up' : n.linkState === LinkState.DOWN ? 'Down' : 'Probe',
            state: n.enabled ? 'enabled' : 'disabled',
            next_hop: hop ? String(hop) : 'none',
            description: n.description ?? 'none',
          };
        }),
      })),
    };
  }

  /** MI clusterer_list_topology */
  miListTopology(): unknown {
    return {
      Clusters: this.clusters.map((cl) => ({
        cluster_id: cl.id,
        Nodes: [
          { node_id: this.myNodeId, Neighbours: cl.me.neighbours.map((n) => n.nodeId) },
          ...cl.nodes.map((n) => ({
            node_id: n.nodeId,
            Neighbours: [...n.neighbours.map((x) => x.nodeId), ...(n.linkState === LinkState.UP ? [this.myNodeId] : [])],
          })),
        ],
      })),
    };
  }

  /** MI clusterer_list_cap */
  miListCap(): unknown {
    return {
      Clusters: this.clusters.map((cl) => ({
        cluster_id: cl.id,
        Capabilities: cl.caps.map((c) => ({ name: c.name, state: c.ok ? 'Ok' : 'not synced', enabled: c.enabled ? 'yes' : 'no' })),
      })),
    };
  }

  // ---- heartbeats timer (heartbeats_timer) -------------------------------------------------

  /** the heartbeats timer period: gcd(ping_interval, ping_timeout, node_timeout) in ms */
  get tickInterval(): number {
    const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));
    return gcd(gcd(this.timing.pingInterval * 1000, this.timing.pingTimeout), this.timing.nodeTimeout * 1000) || this.timing.pingTimeout;
  }

  tick(): void {
    const t = this.timing;
    for (const cl of this.clusters) {
      if (!cl.me.enabled) continue;
      for (const node of [...cl.nodes]) {
        if (!node.enabled) continue;
        const now = this.now();
        const pingReply = node.lastPong - node.lastPing;
        const lastPingInt = now - node.lastPing;
        const lastSentInt = now - node.lastSent;
        const noReply = pingReply <= 0 || pingReply >= t.pingTimeout;
        let prev = -1;
        let ls = -1;
        const ls0 = node.linkState;
        if (ls0 === LinkState.RESTART_PINGING) {
          prev = ls0;
          ls = this.trans0(node);
        } else if (ls0 === LinkState.RETRY_SEND_FAIL && lastPingInt >= t.pingTimeout) {
          prev = ls0;
          ls = this.trans1(node);
        } else if (
          (ls0 === LinkState.UP || ls0 === LinkState.RESTARTED) &&
          noReply &&
          (ls0 === LinkState.RESTARTED || lastSentInt >= t.pingTimeout) &&
          lastPingInt >= t.pingTimeout
        ) {
          prev = -2;
          ls = this.trans2(node);
        } else if (ls0 === LinkState.RETRYING && noReply && lastPingInt >= t.pingTimeout) {
          prev = ls0;
          ls = this.trans3(node);
        } else if (ls0 === LinkState.DOWN && lastPingInt >= t.nodeTimeout * 1000) {
          prev = ls0;
          ls = this.trans4(node);
        } else if (ls0 === LinkState.UP && lastSentInt >= t.pingInterval * 1000 && lastPingInt >= t.pingInterval * 1000) {
          prev = ls0;
          ls = this.trans5(node);
        }
        if (ls >= 0) this.setLinkWNeighAdv(prev, ls as LinkState, node);
      }
    }
    this.checkEvents();
  }

  private sendPing(node: RemoteNode, reqNodeList: number): number {
    const now = this.now();
    const bytes = encodeClustererInternal({ type: ClustererMsgType.PING, clusterId: node.clusterId, sourceId: this.myNodeId, reqNodeList });
    const rc = this.rawSend(node, bytes) ? 0 : -1;
    node.lastPingState = rc;
    node.lastPing = now;
    return rc;
  }

  private trans0(node: RemoteNode): number {
    if (this.sendPing(node, 1) < 0) {
      if (node.noPingRetries === 0) return LinkState.DOWN;
      node.currNoRetries = node.noPingRetries;
      return LinkState.RETRY_SEND_FAIL;
    }
    return LinkState.RESTARTED;
  }
  private trans1(node: RemoteNode): number {
    node.currNoRetries--;
    if (this.sendPing(node, 1) < 0) {
      if (node.currNoRetries === 0) {
        this.log('info', `Maximum number of retries reached, node [${node.nodeId}] is down`);
        return LinkState.DOWN;
      }
      return -1;
    }
    return LinkState.RETRYING;
  }
  private trans2(node: RemoteNode): number {
    if (node.noPingRetries === 0) {
      this.log('info', `Ping reply not received, node [${node.nodeId}] is down`);
      return LinkState.DOWN;
    }
    this.log('info', `Ping reply not received, node [${node.nodeId}] is possibly down, retrying`);
    if (this.sendPing(node, 1) < 0) {
      node.currNoRetries = node.noPingRetries;
      return LinkState.RETRY_SEND_FAIL;
    }
    node.currNoRetries = node.noPingRetries - 1;
    return LinkState.RETRYING;
  }
  private trans3(node: RemoteNode): number {
    if (node.currNoRetries > 0) {
      if (this.sendPing(node, 1) < 0) return LinkState.RETRY_SEND_FAIL;
      node.currNoRetries--;
      return -1;
    }
    this.log('info', `Ping reply not received, node [${node.nodeId}] is down`);
    return LinkState.DOWN;
  }
  private trans4(node: RemoteNode): number {
    this.log('info', `Node timeout passed, restart pinging node [${node.nodeId}]`);
    if (this.sendPing(node, 1) < 0) {
      if (node.noPingRetries !== 0) {
        node.currNoRetries = node.noPingRetries;
        return LinkState.RETRY_SEND_FAIL;
      }
      return -1;
    }
    return LinkState.RESTARTED;
  }
  private trans5(node: RemoteNode): number {
    if (this.sendPing(node, 0) < 0) {
      if (node.noPingRetries === 0) return LinkState.DOWN;
      node.currNoRetries = node.noPingRetries;
      return LinkState.RETRY_SEND_FAIL;
    }
    return -1;
  }

  // ---- links and topology ------------------------------------------------------------------

  private setLinkWNeigh(newLs: LinkState, neigh: RemoteNode): void {
    const cl = this.cluster(neigh.clusterId)!;
    if (newLs !== LinkState.UP && neigh.linkState === LinkState.UP) {
      remove(cl.me.neighbours, neigh);
    } else if (newLs === LinkState.UP && neigh.linkState !== LinkState.UP) {
      if (!cl.me.neighbours.includes(neigh)) cl.me.neighbours.unshift(neigh);
    }
    neigh.linkState = newLs;
  }

  private setLinkWNeighAdv(prevLs: number, newLs: LinkState, neigh: RemoteNode): void {
    if ((prevLs >= 0 && prevLs !== neigh.linkState) || (prevLs === -2 && neigh.linkState !== LinkState.UP && neigh.linkState !== LinkState.RESTARTED)) return;
    if (newLs !== LinkState.UP && neigh.linkState === LinkState.UP) {
      this.setLinkWNeigh(newLs, neigh);
      this.sendLsUpdate(neigh, LinkState.DOWN);
    } else neigh.linkState = newLs;
  }

  private setLink(newLs: number, a: RemoteNode, b: RemoteNode): void {
    if (newLs === LinkState.DOWN) remove(a.neighbours, b);
    else if (!a.neighbours.includes(b)) a.neighbours.unshift(b);
  }

  private setLinkWNeighUp(neigh: RemoteNode, known: number[]): void {
    this.setLinkWNeigh(LinkState.UP, neigh);
    this.sendLsUpdate(neigh, LinkState.UP);
    this.sendFullTopUpdate(neigh, known);
    this.sendCapUpdate(neigh, 1);
    this.log('info', `Node [${neigh.nodeId}] is UP`);
  }

  private sendLsUpdate(node: RemoteNode, newLs: LinkState): void {
    const cl = this.cluster(node.clusterId)!;
    const dests = cl.me.neighbours.filter((n) => n !== node);
    if (dests.length === 0) return;
    const bytes = encodeClustererInternal({
      type: ClustererMsgType.LS_UPDATE,
      clusterId: cl.id,
      sourceId: this.myNodeId,
      seqNo: ++cl.me.lsSeqNo,
      timestamp: INT(this.unixTime()),
      neighbourId: node.nodeId,
      linkState: newLs,
      path: [this.myNodeId],
    });
    for (const d of dests) if (!this.rawSend(d, bytes)) this.setLinkWNeighAdv(-1, LinkState.RESTART_PINGING, d);
  }

  private sendFullTopUpdate(dest: RemoteNode, known: number[]): void {
    const cl = this.cluster(dest.clusterId)!;
    const nodes: TopologyEntry[] = [
      { nodeId: this.myNodeId, lsSeqNo: cl.me.lsSeqNo, lsTimestamp: cl.me.lsTimestamp, neighbours: cl.me.neighbours.map((n) => n.nodeId) },
    ];
    for (const n of cl.nodes) {
      if (n === dest) continue;
      const e: TopologyEntry = { nodeId: n.nodeId, lsSeqNo: n.lsSeqNo, lsTimestamp: n.lsTimestamp, neighbours: n.neighbours.map((x) => x.nodeId) };
      if (!known.includes(n.nodeId)) e.description = describe(n);
      nodes.push(e);
    }
    const seqNo = ++cl.me.topSeqNo;
    const bytes = encodeClustererInternal({
      type: ClustererMsgType.FULL_TOP_UPDATE,
      clusterId: cl.id,
      sourceId: this.myNodeId,
      seqNo,
      timestamp: INT(this.unixTime()),
      // no_nodes is the count of the other nodes: the entries are this node plus the others but dest
      nodes,
      path: [this.myNodeId],
    });
    if (!this.rawSend(dest, bytes)) this.setLinkWNeighAdv(-1, LinkState.RESTART_PINGING, dest);
  }

  private sendCapUpdate(dest: RemoteNode, requireReply: number): void {
    const cl = this.cluster(dest.clusterId)!;
    const nodes: { nodeId: number; capabilities: { name: string; state: number }[] }[] = [];
    if (cl.caps.length) nodes.push({ nodeId: this.myNodeId, capabilities: cl.caps.map((c) => ({ name: c.name, state: c.ok ? 1 : 0 })) });
    for (const n of cl.nodes) {
      if (n === dest || n.capabilities.length === 0) continue;
      nodes.push({ nodeId: n.nodeId, capabilities: n.capabilities.map((c) => ({ name: c.name, state: c.ok ? 1 : 0 })) });
    }
    if (nodes.length === 0) return;
    const bytes = encodeClustererInternal({
      type: ClustererMsgType.CAP_UPDATE,
      clusterId: cl.id,
      sourceId: this.myNodeId,
      seqNo: ++cl.me.capSeqNo,
      timestamp: INT(this.unixTime()),
      nodes,
      requireReply,
      path: [this.myNodeId],
    });
    if (!this.rawSend(dest, bytes)) this.setLinkWNeighAdv(-1, LinkState.RESTART_PINGING, dest);
  }

  /** flood_message: re-sends an update to the neighbours not in its path, with this node appended */
  private flood(m: ClustererInternalMsg & { path: number[] }, cl: Cluster, resetRequireReply: boolean): void {
    if (m.path.length > CLUSTERER_MAX_PATH_LEN) {
      this.log('info', `Too many hops for message with source [${m.sourceId}]`);
      return;
    }
    const skip = new Set(m.path);
    const dests = cl.me.neighbours.filter((n) => !skip.has(n.nodeId));
    if (dests.length === 0) return;
    const out = { ...m, path: [...m.path, this.myNodeId] } as ClustererInternalMsg;
    if (resetRequireReply && out.type === ClustererMsgType.CAP_UPDATE) out.requireReply = 0;
    const bytes = encodeClustererInternal(out);
    for (const d of dests) if (!this.rawSend(d, bytes)) this.setLinkWNeighAdv(-1, LinkState.RESTART_PINGING, d);
  }

  /** get_next_hop: the node itself when Up, else the first hop of a shortest path (BFS, priority then id) */
  private nextHop(cl: Cluster, dest: RemoteNode): RemoteNode | null {
    if (dest.linkState === LinkState.UP) return dest;
    if (!this.timing.enableRerouting) return null;
    type Q = { node: RemoteNode | null; parent: Q | null };
    const root: Q = { node: null, parent: null };
    const seen = new Map<RemoteNode, Q>();
    let queue: Q[] = [root];
    while (queue.length) {
      const cur = queue.shift()!;
      if (cur.node === dest) {
        if (!cur.parent || !cur.parent.parent) return null; // direct links are not Up
        let c = cur;
        while (c.parent!.parent) c = c.parent!;
        return c.node;
      }
      const adj = cur.node === null ? cl.me.neighbours : cur.node.neighbours;
      const add: Q[] = [];
      for (const n of adj) {
        if (seen.has(n)) continue;
        const q = { node: n, parent: cur };
        seen.set(n, q);
        add.push(q);
      }
      queue = [...queue, ...add].sort((a, b) => prio(a) - prio(b));
    }
    return null;
  }
  private nextHopId(cl: Cluster, n: RemoteNode): number {
    return this.nextHop(cl, n)?.nodeId ?? 0;
  }

  /** raises up/down events for nodes whose reachability changed (do_actions_node_ev) */
  private checkEvents(): void {
    for (const cl of this.clusters) {
      for (const n of cl.nodes) {
        const r = this.nextHop(cl, n) !== null;
        if (r === n.reachable) continue;
        n.reachable = r;
        const e: NodeEvent = { clusterId: cl.id, nodeId: n.nodeId, state: r ? 'up' : 'down' };
        for (const fn of this.nodeListeners) fn(e);
      }
    }
  }

  // ---- sending -----------------------------------------------------------------------------

  private rawSend(node: RemoteNode, bytes: Buffer): boolean {
    try {
      return this.o.send({ clusterId: node.clusterId, nodeId: node.nodeId, url: node.addr }, bytes);
    } catch (err) {
      this.log('error', `send to node [${node.nodeId}] failed: ${(err as Error).message}`);
      return false;
    }
  }

  /** msg_send_retry: to the node if Up, else through its next hop; the trailer names the real destination */
  private sendRetry(cl: Cluster, dest: RemoteNode, bytes: Buffer): number {
    let retried = false;
    for (;;) {
      const chosen = this.nextHop(cl, dest);
      if (!chosen) return retried ? -1 : -2;
      const out = Buffer.from(bytes);
      out.writeInt32LE(dest.nodeId, out.length - 4);
      if (this.rawSend(chosen, out)) {
        chosen.lastSent = this.now();
        return 0;
      }
      retried = true;
      this.setLinkWNeighAdv(-1, LinkState.RESTART_PINGING, chosen);
    }
  }

  private sendTo(clusterId: number, destId: number, bytes: Buffer, _checkCap: boolean): SendResult {
    const cl = this.cluster(clusterId);
    if (!cl) return SendResult.ERROR;
    if (!cl.me.enabled) return SendResult.CURR_DISABLED;
    if (destId === this.myNodeId) {
      const p = { capability: CLUSTERER_EXTRA_CAP, body: bytes.subarray(16 + CLUSTERER_EXTRA_CAP.length) };
      if (bytes.readInt32LE(12 + bytes.readUInt16LE(10)) === ClustererMsgType.GENERIC_MSG) {
        this.deliverGeneric(p.body, clusterId, this.myNodeId);
        return SendResult.SUCCESS;
      }
      return SendResult.ERROR;
    }
    const node = this.node(cl, destId);
    if (!node) return SendResult.ERROR;
    if (!node.enabled) return SendResult.SUCCESS;
    const rc = this.sendRetry(cl, node, bytes);
    this.checkEvents();
    return rc === 0 ? SendResult.SUCCESS : rc === -2 ? SendResult.DEST_DOWN : SendResult.ERROR;
  }

  private bcast(clusterId: number, bytes: Buffer): SendResult {
    const cl = this.cluster(clusterId);
    if (!cl) return SendResult.ERROR;
    if (!cl.me.enabled) return SendResult.CURR_DISABLED;
    let matched = false;
    let down = true;
    let sent = false;
    for (const n of cl.nodes) {
      if (!n.enabled) continue;
      matched = true;
      const rc = this.sendRetry(cl, n, bytes);
      if (rc !== -2) down = false;
      if (rc === 0) sent = true;
    }
    this.checkEvents();
    if (!matched) return SendResult.SUCCESS;
    if (down) return SendResult.DEST_DOWN;
    return sent ? SendResult.SUCCESS : SendResult.ERROR;
  }

  // ---- receiving ---------------------------------------------------------------------------

  /** Feeds one received packet; returns false when it was not for the clusterer or dropped. */
  receive(packet: BinPacket, rcv: ReceiveInfo): boolean {
    try {
      if (packet.capability === CLUSTERER_INTERNAL_CAP) return this.receiveInternal(packet, rcv);
      return this.receiveWithTrailer(packet, rcv);
    } catch (err) {
      if (!(err instanceof BinError)) throw err;
      this.dropped++;
      this.log('warn', `dropped a bad ${packet.capability} packet (type ${packet.type}): ${err.message}`);
      return false;
    } finally {
      this.checkEvents();
    }
  }

  /** the source IP is the node's, or any node's of the cluster (a packet relayed by a neighbour) */
  private addrOk(cl: Cluster, node: RemoteNode, rcv: ReceiveInfo): boolean {
    const host = rcv.host.startsWith('::ffff:') ? rcv.host.slice(7) : rcv.host;
    return sameHost(node.addr.host, host) || cl.nodes.some((n) => sameHost(n.addr.host, host));
  }

  private receiveInternal(packet: BinPacket, rcv: ReceiveInfo): boolean {
    if (packet.version !== CLUSTERER_BIN_VERSION) {
      this.log('info', `discarding a ${CLUSTERER_INTERNAL_CAP} packet of version ${packet.version}, need ver ${CLUSTERER_BIN_VERSION}`);
      this.dropped++;
      return false;
    }
    const now = this.now();
    const m = decodeClustererInternal(packet);
    if (m.sourceId === this.myNodeId) {
      this.log('error', 'Received message with bad source - same node id as this instance');
      this.dropped++;
      return false;
    }
    const cl = this.cluster(m.clusterId);
    if (!cl) {
      this.log('warn', `Received message from unknown cluster id [${m.clusterId}]`);
      this.dropped++;
      return false;
    }
    if (!cl.me.enabled) return false;
    const node = this.node(cl, m.sourceId);
    if (!node) {
      this.handleUnknown(cl, m, rcv);
      return true;
    }
    if (!this.addrOk(cl, node, rcv)) {
      this.log('warn', `Received message from unknown source, addr: ${rcv.host}`);
      this.dropped++;
      return false;
    }
    if (m.type !== ClustererMsgType.PONG) node.lastRecv = now;
    if (!node.enabled) return false;
    switch (m.type) {
      case ClustererMsgType.PONG:
        this.handlePong(node, m.nodes, now);
        break;
      case ClustererMsgType.PING:
        this.handlePing(node, m.reqNodeList);
        break;
      case ClustererMsgType.LS_UPDATE:
        this.handleLsUpdate(cl, node, m);
        break;
      case ClustererMsgType.FULL_TOP_UPDATE:
        this.handleFullTopUpdate(cl, node, m);
        break;
      case ClustererMsgType.UNKNOWN_ID:
        this.handleUnknownId(cl, node);
        break;
      case ClustererMsgType.NODE_DESCRIPTION:
        break;
      case ClustererMsgType.CAP_UPDATE:
        this.handleCapUpdate(cl, node, m);
        break;
    }
    return true;
  }

  private handleUnknown(cl: Cluster, m: ClustererInternalMsg, rcv: ReceiveInfo): void {
    if (m.type === ClustererMsgType.PING) {
      const bytes = encodeClustererInternal({ type: ClustererMsgType.UNKNOWN_ID, clusterId: cl.id, sourceId: this.myNodeId });
      if (!this.o.reply?.(rcv, bytes)) this.log('error', `Failed to reply to ping from unknown node, id [${m.sourceId}]`);
    } else if (m.type === ClustererMsgType.NODE_DESCRIPTION) {
      try {
        this.addNode(cl, m.sourceId, m.description);
      } catch (err) {
        this.log('warn', `bad node description from node [${m.sourceId}]: ${(err as Error).message}`);
        return;
      }
      this.flood(m, cl, false);
    }
  }

  private handleUnknownId(cl: Cluster, src: RemoteNode): void {
    const bytes = encodeClustererInternal({
      type: ClustererMsgType.NODE_DESCRIPTION,
      clusterId: cl.id,
      sourceId: this.myNodeId,
      description: { url: cl.me.url, sipAddr: cl.me.sipAddr, priority: cl.me.priority, noPingRetries: cl.me.noPingRetries },
      path: [this.myNodeId],
    });
    this.rawSend(src, bytes);
    this.setLinkWNeighAdv(-1, LinkState.RESTART_PINGING, src);
  }

  private handlePing(src: RemoteNode, reqList: number): void {
    const cl = this.cluster(src.clusterId)!;
    const nodes = reqList ? cl.nodes.filter((n) => n !== src).map((n) => n.nodeId) : [];
    const rc = this.rawSend(src, encodeClustererInternal({ type: ClustererMsgType.PONG, clusterId: cl.id, sourceId: this.myNodeId, nodes }));
    let newLs = -1;
    if (!rc && src.linkState === LinkState.UP) newLs = LinkState.RESTART_PINGING;
    let rstNow = false;
    if (src.linkState === LinkState.DOWN) {
      if (rc) rstNow = true;
      else newLs = LinkState.RESTART_PINGING;
    }
    if (rstNow) newLs = this.trans0(src);
    if (newLs >= 0) this.setLinkWNeighAdv(-1, newLs as LinkState, src);
  }

  private handlePong(src: RemoteNode, known: number[], rcvTime: number): void {
    const t = this.timing.pingTimeout;
    const lastRecvInt = rcvTime - src.lastRecv;
    src.lastPong = rcvTime;
    src.lastRecv = rcvTime;
    const ls = src.linkState;
    if ((ls === LinkState.RESTART_PINGING || ls === LinkState.RETRY_SEND_FAIL || ls === LinkState.DOWN) && src.lastPingState === 0 && rcvTime - src.lastPing < t) {
      src.linkState = LinkState.TEMP;
    }
    const reply = src.lastPong - src.lastPing;
    if (
      (src.linkState === LinkState.RESTARTED || src.linkState === LinkState.RETRYING || src.linkState === LinkState.TEMP) &&
      ((reply > 0 && reply < t) || lastRecvInt <= 0 || lastRecvInt < t)
    ) {
      this.setLinkWNeighUp(src, known);
    }
  }

  private handleLsUpdate(cl: Cluster, src: RemoteNode, m: Extract<ClustererInternalMsg, { type: 2 }>): void {
    if (!validUpdate(src.lsSeqNo, m.seqNo, src.lsTimestamp, m.timestamp)) return;
    src.lsSeqNo = m.seqNo;
    src.lsTimestamp = m.timestamp;
    const neigh = this.node(cl, m.neighbourId);
    if (!neigh && m.neighbourId !== this.myNodeId) {
      this.log('warn', `Received link state update about unknown node id [${m.neighbourId}]`);
      return;
    }
    if (m.neighbourId === this.myNodeId) {
      if ((m.linkState === LinkState.UP && src.linkState === LinkState.DOWN) || (m.linkState === LinkState.DOWN && src.linkState === LinkState.UP)) {
        this.setLinkWNeighAdv(-1, LinkState.RESTART_PINGING, src);
      }
    } else this.setLink(m.linkState, src, neigh!);
    this.flood(m, cl, false);
  }

  private handleFullTopUpdate(cl: Cluster, src: RemoteNode, m: Extract<ClustererInternalMsg, { type: 3 }>): void {
    if (!validUpdate(src.topSeqNo, m.seqNo, src.topTimestamp, m.timestamp)) return;
    src.topSeqNo = m.seqNo;
    src.topTimestamp = m.timestamp;
    m.nodes.forEach((entry, i) => {
      if (entry.nodeId === this.myNodeId) return;
      let top = this.node(cl, entry.nodeId);
      if (!top) {
        if (!entry.description) {
          this.log('warn', `Unknown node id [${entry.nodeId}] in topology update with source [${src.nodeId}]`);
          return;
        }
        top = this.addNode(cl, entry.nodeId, entry.description);
      }
      if (i > 0 && !validUpdate(top.lsSeqNo, entry.lsSeqNo, top.lsTimestamp, entry.lsTimestamp)) return;
      top.lsSeqNo = entry.lsSeqNo;
      top.lsTimestamp = entry.lsTimestamp;
      const present = new Set<number>();
      for (const nid of entry.neighbours) {
        if (nid === this.myNodeId) {
          if (top.linkState === LinkState.DOWN && top.enabled) this.setLinkWNeigh(LinkState.RESTART_PINGING, top);
          continue;
        }
        let nb = this.node(cl, nid);
        if (!nb) {
          const d = m.nodes.find((e) => e.nodeId === nid)?.description;
          if (!d) {
            this.log('warn', `Unknown neighbour id [${nid}] in topology update about node [${entry.nodeId}] with source [${src.nodeId}]`);
            continue;
          }
          nb = this.addNode(cl, nid, d);
        }
        this.setLink(LinkState.UP, top, nb);
        present.add(nb.nodeId);
      }
      for (const it of cl.nodes) {
        if (it.nodeId === entry.nodeId || it.nodeId === src.nodeId) continue;
        if (!present.has(it.nodeId)) this.setLink(LinkState.DOWN, top, it);
      }
    });
    this.flood(m, cl, false);
  }

  private handleCapUpdate(cl: Cluster, src: RemoteNode, m: Extract<ClustererInternalMsg, { type: 9 }>): void {
    if (!validUpdate(src.capSeqNo, m.seqNo, src.capTimestamp, m.timestamp)) return;
    src.capSeqNo = m.seqNo;
    src.capTimestamp = m.timestamp;
    for (const e of m.nodes) {
      if (e.nodeId === this.myNodeId) continue;
      const node = this.node(cl, e.nodeId);
      if (!node) {
        this.log('error', `Unknown id [${e.nodeId}] in capability update from node [${src.nodeId}]`);
        return;
      }
      for (const c of e.capabilities) {
        let cur = node.capabilities.find((x) => x.name === c.name);
        if (!cur) {
          cur = { name: c.name, ok: false };
          node.capabilities.unshift(cur);
        }
        if (c.state === 0) cur.ok = false;
        else if (c.state === 1) cur.ok = true;
        else this.log('error', `Received bad state for capability:${c.name} from node [${src.nodeId}]`);
      }
    }
    if (m.requireReply) this.sendCapUpdate(src, 0);
    this.flood(m, cl, m.requireReply !== 0);
  }

  /** clusterer-extra and module packets: the trailer says cluster, source and destination */
  private receiveWithTrailer(packet: BinPacket, rcv: ReceiveInfo): boolean {
    const extra = packet.capability === CLUSTERER_EXTRA_CAP;
    if (!extra) {
      // a capability no module registered: not ours (OpenSIPS: no handler -> ignored)
      if (!this.clusters.some((c) => c.caps.some((x) => x.name === packet.capability))) return false;
    }
    const { fields, trailer } = splitTrailer(packet.body);
    if (trailer.sourceId === this.myNodeId) {
      this.log('error', 'Received message with bad source - same node id as this instance');
      this.dropped++;
      return false;
    }
    const cl = this.cluster(trailer.clusterId);
    if (!cl) {
      this.log('warn', `Received message, type: ${packet.type}, from unknown cluster id [${trailer.clusterId}]`);
      this.dropped++;
      return false;
    }
    if (!cl.me.enabled) return false;
    const node = this.node(cl, trailer.sourceId);
    if (!node) {
      this.log('warn', `Received message with unknown source id [${trailer.sourceId}]`);
      this.dropped++;
      return false;
    }
    if (!this.addrOk(cl, node, rcv)) {
      this.log('warn', `Received message from unknown source, addr: ${rcv.host}`);
      this.dropped++;
      return false;
    }
    node.lastRecv = this.now();
    if (!node.enabled) return false;
    if (node.linkState === LinkState.DOWN) this.setLinkWNeigh(LinkState.RESTART_PINGING, node);
    // -1 (a broadcast as built; OpenSIPS rewrites it per destination) is taken as this node
    if (trailer.destId !== this.myNodeId && trailer.destId !== -1) {
      if (!this.timing.enableRerouting) return false;
      const dest = this.node(cl, trailer.destId);
      if (!dest) return false;
      const bytes = encodeWithTrailer(packet.capability, packet.type, packet.version, fields, trailer);
      return this.sendRetry(cl, dest, bytes) === 0;
    }
    if (extra) {
      if (packet.type === ClustererMsgType.GENERIC_MSG) this.deliverGeneric(packet.body, trailer.clusterId, trailer.sourceId);
      else if (packet.type === ClustererMsgType.MI_CMD) {
        const r = new BinReader(fields);
        const command = r.popStr();
        const n = r.popInt();
        const params: string[] = [];
        for (let i = 0; i < n && i < 30; i++) params.push(r.popStr());
        for (const fn of this.miListeners) fn({ clusterId: cl.id, sourceId: trailer.sourceId, command, params });
      } else if (packet.type === ClustererMsgType.REMOVE_NODE) {
        const target = new BinReader(fields).popInt();
        this.removeNode(cl, target);
      } else {
        this.log('debug', `ignoring clusterer-extra packet type ${packet.type}`);
      }
      return true;
    }
    const local = cl.caps.find((c) => c.name === packet.capability);
    if (!local) return false;
    if (!local.enabled) return true;
    local.handler?.({ packet, fields, clusterId: cl.id, sourceId: trailer.sourceId, rcv });
    return true;
  }

  private removeNode(cl: Cluster, target: number): void {
    if (target === this.myNodeId) {
      cl.me.enabled = false;
      for (const n of cl.nodes) this.setLinkWNeigh(LinkState.DOWN, n);
      return;
    }
    const n = this.node(cl, target);
    if (!n) return;
    this.setLinkWNeigh(LinkState.DOWN, n);
    for (const it of cl.nodes) remove(it.neighbours, n);
    remove(cl.nodes, n);
  }

  private deliverGeneric(body: Buffer, clusterId: number, sourceId: number): void {
    const { fields } = splitTrailer(body);
    const r = new BinReader(fields);
    const reqLike = r.popInt();
    const tag = r.popStr();
    const message = r.popStr();
    this.emitGeneric({ clusterId, sourceId, reqLike: reqLike !== 0, tag, message });
  }

  private emitGeneric(e: GenericMsgEvent): void {
    for (const fn of this.genericListeners) {
      try {
        fn(e);
      } catch (err) {
        this.log('error', `a GENERIC_MSG handler threw: ${(err as Error).message}`);
      }
    }
  }
}

/** validate_update: a newer sequence number, or 0 (a restarted node) with a newer timestamp */
function validUpdate(seqNo: number, msgSeqNo: number, ts: number, msgTs: number): boolean {
  if (msgSeqNo === 0) return !(seqNo === 0 && msgTs <= ts);
  return msgSeqNo > seqNo;
}

function describe(n: RemoteNode): NodeDescription {
  return { url: n.url, sipAddr: n.sipAddr, priority: n.priority, noPingRetries: n.noPingRetries };
}

function sameHost(a: string, b: string): boolean {
  return a === b || (a === 'localhost' && (b === '127.0.0.1' || b === '::1'));
}

function remove<T>(a: T[], x: T): void {
  const i = a.indexOf(x);
  if (i >= 0) a.splice(i, 1);
}

function prio(q: { node: RemoteNode | null }): number {
  return q.node ? q.node.priority * 1e6 + q.node.nodeId : -1;
}

export type { ClustererTrailer };
