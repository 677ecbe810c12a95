import { BinError, BinErrorCodes } from './errors.js';
import { BinBuilder, BinReader, type BinPacket } from './packet.js';

/** Capability of clusterer's topology / keepalive traffic. */
export const CLUSTERER_INTERNAL_CAP = 'clusterer-internal';
/** Capability of generic messages, MI-over-cluster and node removal. */
export const CLUSTERER_EXTRA_CAP = 'clusterer-extra';
/** BIN_VERSION: the data version of internal and extra packets */
export const CLUSTERER_BIN_VERSION = 1;
/** BIN_SYNC_VERSION */
export const CLUSTERER_SYNC_VERSION = 3;
/** dest id of a broadcast module packet as built (clusterer rewrites it per destination when sending) */
export const CLUSTERER_BROADCAST = -1;
/** the most hops a flooded update may have travelled (UPDATE_MAX_PATH_LEN) */
export const CLUSTERER_MAX_PATH_LEN = 25;
/** MAX_NO_NODES: node counts in received packets beyond this are refused */
export const CLUSTERER_MAX_NODES = 128;

/** clusterer_msg_type */
export const ClustererMsgType = {
  PING: 0,
  PONG: 1,
  LS_UPDATE: 2,
  FULL_TOP_UPDATE: 3,
  UNKNOWN_ID: 4,
  NODE_DESCRIPTION: 5,
  REMOVE_NODE: 6,
  GENERIC_MSG: 7,
  MI_CMD: 8,
  CAP_UPDATE: 9,
  SYNC_REQ: 10,
  SYNC: 11,
  SYNC_END: 12,
  SHTAG_ACTIVE: 13,
} as const;
export type ClustererMsgType = (typeof ClustererMsgType)[keyof typeof ClustererMsgType];

/** clusterer_link_state: Up, Down, and five probing states (MI shows them as "Probe") */
export const LinkState = {
  UP: 0,
  DOWN: 1,
  RETRY_SEND_FAIL: 2,
  RESTART_PINGING: 3,
  RESTARTED: 4,
  RETRYING: 5,
  TEMP: 6,
} as const;
export type LinkState = (typeof LinkState)[keyof typeof LinkState];

/** A node's description as clusterer sends it (bin_push_node_info). */
export interface NodeDescription {
  url: string;
  sipAddr: string;
  priority: number;
  noPingRetries: number;
}

/** One adjacency list of a FULL_TOP_UPDATE. */
export interface TopologyEntry {
  nodeId: number;
  /** present when the sender includes the node's description (has_descr = 1) */
  description?: NodeDescription;
  lsSeqNo: number;
  lsTimestamp: number;
  neighbours: number[];
}

export interface CapabilityState {
  name: string;
  /** 1 = Ok (synced), 0 = not synced */
  state: number;
}

interface Head {
  clusterId: number;
  sourceId: number;
}

/** The packets of capability "clusterer-internal": cluster id and source id first, then the type's fields. */
export type ClustererInternalMsg =
  | (Head & { type: typeof ClustererMsgType.PING; reqNodeList: number })
  | (Head & { type: typeof ClustererMsgType.PONG; nodes: number[] })
  | (Head & { type: typeof ClustererMsgType.LS_UPDATE; seqNo: number; timestamp: number; neighbourId: number; linkState: number; path: number[] })
  | (Head & { type: typeof ClustererMsgType.FULL_TOP_UPDATE; seqNo: number; timestamp: number; nodes: TopologyEntry[]; path: number[] })
  | (Head & { type: typeof ClustererMsgType.UNKNOWN_ID })
  | (Head & { type: typeof ClustererMsgType.NODE_DESCRIPTION; description: NodeDescription; path: number[] })
  | (Head & {
      type: typeof ClustererMsgType.CAP_UPDATE;
      seqNo: number;
      timestamp: number;
      nodes: { nodeId: number; capabilities: CapabilityState[] }[];
      requireReply: number;
      path: number[];
    });

function count(r: BinReader, what: string, max = CLUSTERER_MAX_NODES): number {
  const n = r.popInt();
  if (n < 0 || n > max) throw new BinError(BinErrorCodes.CLUSTERER, `clusterer ${what} ${n} is outside [0, ${max}]`);
  return n;
}
function ints(r: BinReader, n: number): number[] {
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) out[i] = r.popInt();
  return out;
}
function popDescription(r: BinReader): NodeDescription {
  return { url: r.popStr(), sipAddr: r.popStr(), priority: r.popInt(), noPingRetries: r.popInt() };
}
function pushDescription(b: BinBuilder, d: NodeDescription): void {
  b.pushStr(d.url).pushStr(d.sipAddr).pushInt(d.priority).pushInt(d.noPingRetries);
}
function popPath(r: BinReader): number[] {
  return ints(r, count(r, 'path length', CLUSTERER_MAX_PATH_LEN));
}
function pushPath(b: BinBuilder, path: number[]): void {
  b.pushInt(path.length);
  for (const id of path) b.pushInt(id);
}

/**
 * Reads a "clusterer-internal" packet into its typed form. Throws ERR_BIN_CLUSTERER for
 * another capability, an unknown type or counts out of range, and the reader's errors
 * (ERR_BIN_NO_MORE_DATA / ERR_BIN_OVERRUN) for missing fields.
 */
export function decodeClustererInternal(p: BinPacket): ClustererInternalMsg {
  if (p.capability !== CLUSTERER_INTERNAL_CAP) throw new BinError(BinErrorCodes.CLUSTERER, `not a ${CLUSTERER_INTERNAL_CAP} packet: ${p.capability}`);
  const r = new BinReader(p.body);
  const clusterId = r.popInt();
  const sourceId = r.popInt();
  switch (p.type) {
    case ClustererMsgType.PING:
      return { type: p.type, clusterId, sourceId, reqNodeList: r.popInt() };
    case ClustererMsgType.PONG:
      return { type: p.type, clusterId, sourceId, nodes: ints(r, count(r, 'node count')) };
    case ClustererMsgType.LS_UPDATE: {
      const seqNo = r.popInt();
      const timestamp = r.popInt();
      const neighbourId = r.popInt();
      const linkState = r.popInt();
      return { type: p.type, clusterId, sourceId, seqNo, timestamp, neighbourId, linkState, path: popPath(r) };
    }
    case ClustererMsgType.FULL_TOP_UPDATE: {
      const seqNo = r.popInt();
      const timestamp = r.popInt();
      const n = count(r, 'node count');
      const nodes: TopologyEntry[] = [];
      for (let i = 0; i < n; i++) {
        const nodeId = r.popInt();
        const hasDescr = r.popInt();
        const description = hasDescr ? popDescription(r) : undefined;
        const lsSeqNo = r.popInt();
        const lsTimestamp = r.popInt();
        const neighbours = ints(r, count(r, 'neighbour count'));
        nodes.push(description ? { nodeId, description, lsSeqNo, lsTimestamp, neighbours } : { nodeId, lsSeqNo, lsTimestamp, neighbours });
      }
      return { type: p.type, clusterId, sourceId, seqNo, timestamp, nodes, path: popPath(r) };
    }
    case ClustererMsgType.UNKNOWN_ID:
      return { type: p.type, clusterId, sourceId };
    case ClustererMsgType.NODE_DESCRIPTION:
      return { type: p.type, clusterId, sourceId, description: popDescription(r), path: popPath(r) };
    case ClustererMsgType.CAP_UPDATE: {
      const seqNo = r.popInt();
      const timestamp = r.popInt();
      const n = count(r, 'node count');
      const nodes: { nodeId: number; capabilities: CapabilityState[] }[] = [];
      for (let i = 0; i < n; i++) {
        const nodeId = r.popInt();
        const k = count(r, 'capability count', 0xffff);
        const capabilities: CapabilityState[] = [];
        for (let j = 0; j < k; j++) capabilities.push({ name: r.popStr(), state: r.popInt() });
        nodes.push({ nodeId, capabilities });
      }
      const requireReply = r.popInt();
      return { type: p.type, clusterId, sourceId, seqNo, timestamp, nodes, requireReply, path: popPath(r) };
    }
    default:
      throw new BinError(BinErrorCodes.CLUSTERER, `unknown ${CLUSTERER_INTERNAL_CAP} packet type ${p.type}`);
  }
}

/** Builds a "clusterer-internal" packet (version 1) in OpenSIPS's field order. */
export function encodeClustererInternal(m: ClustererInternalMsg): Buffer {
  const b = new BinBuilder(CLUSTERER_INTERNAL_CAP, m.type, CLUSTERER_BIN_VERSION, 128);
  b.pushInt(m.clusterId).pushInt(m.sourceId);
  switch (m.type) {
    case ClustererMsgType.PING:
      b.pushInt(m.reqNodeList);
      break;
    case ClustererMsgType.PONG:
      b.pushInt(m.nodes.length);
      for (const id of m.nodes) b.pushInt(id);
      break;
    case ClustererMsgType.LS_UPDATE:
      b.pushInt(m.seqNo).pushInt(m.timestamp).pushInt(m.neighbourId).pushInt(m.linkState);
      pushPath(b, m.path);
      break;
    case ClustererMsgType.FULL_TOP_UPDATE:
      b.pushInt(m.seqNo).pushInt(m.timestamp).pushInt(m.nodes.length);
      for (const n of m.nodes) {
        b.pushInt(n.nodeId);
        if (n.description) {
          b.pushInt(1);
          pushDescription(b, n.description);
        } else b.pushInt(0);
        b.pushInt(n.lsSeqNo).pushInt(n.lsTimestamp).pushInt(n.neighbours.length);
        for (const id of n.neighbours) b.pushInt(id);
      }
      pushPath(b, m.path);
      break;
    case ClustererMsgType.UNKNOWN_ID:
      break;
    case ClustererMsgType.NODE_DESCRIPTION:
      pushDescription(b, m.description);
      pushPath(b, m.path);
      break;
    case ClustererMsgType.CAP_UPDATE:
      b.pushInt(m.seqNo).pushInt(m.timestamp).pushInt(m.nodes.length);
      for (const n of m.nodes) {
        b.pushInt(n.nodeId).pushInt(n.capabilities.length);
        for (const c of n.capabilities) b.pushStr(c.name).pushInt(c.state);
      }
      b.pushInt(m.requireReply);
      pushPath(b, m.path);
      break;
  }
  return b.build();
}

/** The 12 bytes clusterer appends to module and "clusterer-extra" packets. */
export interface ClustererTrailer {
  clusterId: number;
  sourceId: number;
  /** the destination node; -1 (CLUSTERER_BROADCAST) in a broadcast as built */
  destId: number;
}

/** Pops the trailer from the end of a packet's body: the module's own fields and the trailer. */
export function splitTrailer(body: Buffer): { fields: Buffer; trailer: ClustererTrailer } {
  if (body.length < 12) throw new BinError(BinErrorCodes.CLUSTERER, `a clusterer trailer needs 12 bytes, the body has ${body.length}`);
  const r = new BinReader(body);
  const destId = r.popBackInt();
  const sourceId = r.popBackInt();
  const clusterId = r.popBackInt();
  return { fields: r.rest(), trailer: { clusterId, sourceId, destId } };
}

/** A module packet (usrloc, dialog... or clusterer-extra) with its own fields and the trailer. */
export function encodeWithTrailer(capability: string, type: number, version: number, fields: Buffer, t: ClustererTrailer): Buffer {
  return new BinBuilder(capability, type, version, 16 + capability.length + fields.length + 12)
    .pushRaw(fields)
    .pushInt(t.clusterId)
    .pushInt(t.sourceId)
    .pushInt(t.destId)
    .build();
}

/** GENERIC_MSG (clusterer-extra, type 7): what route scripts exchange with cluster_send_req / cluster_broadcast_req. */
export interface GenericMsg extends ClustererTrailer {
  /** 1: a request (cluster_send_req), 0: a reply-like message (cluster_send_rpl) */
  reqLike: number;
  tag: string;
  message: string;
}

export function encodeGenericMsg(m: GenericMsg): Buffer {
  return new BinBuilder(CLUSTERER_EXTRA_CAP, ClustererMsgType.GENERIC_MSG, CLUSTERER_BIN_VERSION, 64 + m.tag.length + m.message.length * 3)
    .pushInt(m.reqLike)
    .pushStr(m.tag)
    .pushStr(m.message)
    .pushInt(m.clusterId)
    .pushInt(m.sourceId)
    .pushInt(m.destId)
    .build();
}

export function decodeGenericMsg(p: BinPacket): GenericMsg {
  if (p.capability !== CLUSTERER_EXTRA_CAP || p.type !== ClustererMsgType.GENERIC_MSG) {
    throw new BinError(BinErrorCodes.CLUSTERER, `not a ${CLUSTERER_EXTRA_CAP} GENERIC_MSG: ${p.capability} type ${p.type}`);
  }
  const { fields, trailer } = splitTrailer(p.body);
  const r = new BinReader(fields);
  return { reqLike: r.popInt(), tag: r.popStr(), message: r.popStr(), ...trailer };
}

/** REMOVE_NODE (clusterer-extra, type 6) */
export function encodeRemoveNode(target: number, t: ClustererTrailer): Buffer {
  const fields = Buffer.allocUnsafe(4);
  fields.writeInt32LE(target, 0);
  return encodeWithTrailer(CLUSTERER_EXTRA_CAP, ClustererMsgType.REMOVE_NODE, CLUSTERER_BIN_VERSION, fields, t);
}

/** MI_CMD (clusterer-extra, type 8): str command, int count, str params... */
export interface MiCmdMsg extends ClustererTrailer {
  command: string;
  params: string[];
}
export function encodeMiCmd(m: MiCmdMsg): Buffer {
  const b = new BinBuilder(CLUSTERER_EXTRA_CAP, ClustererMsgType.MI_CMD, CLUSTERER_BIN_VERSION).pushStr(m.command).pushInt(m.params.length);
  for (const s of m.params) b.pushStr(s);
  return b.pushInt(m.clusterId).pushInt(m.sourceId).pushInt(m.destId).build();
}
export function decodeMiCmd(p: BinPacket): MiCmdMsg {
  const { fields, trailer } = splitTrailer(p.body);
  const r = new BinReader(fields);
  const command = r.popStr();
  const n = count(r, 'MI param count', 30);
  const params: string[] = [];
  for (let i = 0; i < n; i++) params.push(r.popStr());
  return { command, params, ...trailer };
}
