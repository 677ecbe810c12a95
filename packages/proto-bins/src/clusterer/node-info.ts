import { BinError, BinErrorCodes } from '../codec/errors.js';

/** A node url: `bin:host[:port]` or `bins:host[:port]` (IPv6 in brackets). */
export interface NodeUrl {
  proto: 'bin' | 'bins';
  host: string;
  /** null: the proto's default port (bin_port / bins_port) */
  port: number | null;
}

/** A `my_node_info` / `neighbor_node_info` definition, as clusterer's parse_param_node_info reads it. */
export interface NodeInfoDef {
  clusterId: number;
  /** absent in my_node_info means my_node_id */
  nodeId?: number;
  url: string;
  sipAddr?: string;
  /** OpenSIPS fills a missing one with DEFAULT_NO_PING_RETRIES (3), and so do we */
  noPingRetries?: number;
  /** OpenSIPS fills a missing one with DEFAULT_NO_PING_RETRIES (3), not DEFAULT_PRIORITY (50): kept for byte parity */
  priority?: number;
  /** "seed" */
  flags?: string;
}

export const DEFAULT_NO_PING_RETRIES = 3;

const bad = (m: string) => new BinError(BinErrorCodes.NODE_INFO, m);

/** Parses `bin:127.0.0.1:25562`, `bins:[::1]:5556`, `bin:10.0.0.1`. */
export function parseNodeUrl(url: string): NodeUrl {
  const m = /^(bins?):(\[[0-9a-fA-F:.]+\]|[^:[\]\s]+)(?::(\d+))?$/.exec(url.trim());
  if (!m) throw bad(`bad node url "${url}": expected bin:host[:port] or bins:host[:port]`);
  const host = m[2]!.startsWith('[') ? m[2]!.slice(1, -1) : m[2]!;
  const port = m[3] === undefined ? null : Number(m[3]);
  if (port !== null && (port < 1 || port > 65535)) throw bad(`bad port in node url "${url}"`);
  return { proto: m[1] as 'bin' | 'bins', host, port };
}

const INT_PROPS = { cluster_id: 'clusterId', node_id: 'nodeId', no_ping_retries: 'noPingRetries', priority: 'priority' } as const;
const STR_PROPS = { url: 'url', sip_addr: 'sipAddr', flags: 'flags' } as const;

/**
 * Parses `cluster_id=1, node_id=2, url=bin:127.0.0.1:25562[, sip_addr=..., priority=N,
 * no_ping_retries=N, flags=seed]` (property names as the clusterer table's columns).
 */
export function parseNodeInfo(text: string): NodeInfoDef {
  const out: Partial<Record<string, string | number>> = {};
  for (const part of text.split(',')) {
    const s = part.trim();
    if (!s) continue;
    const eq = s.indexOf('=');
    if (eq < 1) throw bad(`bad node info property "${s}" in "${text}": expected name=value`);
    const name = s.slice(0, eq).trim().toLowerCase();
    const value = s.slice(eq + 1).trim();
    if (name in INT_PROPS) {
      if (!/^-?\d+$/.test(value)) throw bad(`node info property ${name} must be an integer, got "${value}"`);
      out[INT_PROPS[name as keyof typeof INT_PROPS]] = Number(value);
    } else if (name in STR_PROPS) {
      out[STR_PROPS[name as keyof typeof STR_PROPS]] = value;
    } else throw bad(`unknown node info property "${name}" in "${text}"`);
  }
  if (out.clusterId === undefined) throw bad(`node info "${text}" has no cluster_id`);
  if (out.url === undefined) throw bad(`node info "${text}" has no url`);
  if ((out.clusterId as number) < 1) throw bad(`cluster_id must be >= 1 in "${text}"`);
  if (out.nodeId !== undefined && (out.nodeId as number) < 1) throw bad(`node_id must be >= 1 in "${text}"`);
  parseNodeUrl(out.url as string);
  return out as unknown as NodeInfoDef;
}
