import { MiError, type MiCommand } from '@x/core-conn';
import { RawJson, type MiRegistry } from './registry.js';

export interface RpcReply {
  /** HTTP status: 200 for every JSON-RPC reply, 202 for a notification */
  status: number;
  /** JSON text, empty for a notification */
  body: string;
}

type Id = number | string | null;

function errorBody(id: Id, code: number, message: string, data?: string): string {
  const error: Record<string, unknown> = { code, message };
  if (data !== undefined) error.data = data;
  return JSON.stringify({ jsonrpc: '2.0', error, id });
}

function successBody(id: Id, result: unknown): string {
  if (result instanceof RawJson) return `{"jsonrpc":"2.0","result":${result.json},"id":${JSON.stringify(id)}}`;
  return JSON.stringify({ jsonrpc: '2.0', result, id });
}

/** An MI param error (-32602) naming the parameter. */
export class MiParamError extends MiError {
  constructor(data: string) {
    super(-32602, 'Invalid params', data);
    this.name = 'MiParamError';
  }
}

export type Matched = { ok: true; params: Record<string, unknown> } | { ok: false; data: string };

/** OpenSIPS's recipe matching (mi-and-config.md §2). */
export function matchRecipe(cmd: MiCommand, params: unknown): Matched {
  const empty = params === undefined || (Array.isArray(params) && params.length === 0) || (!Array.isArray(params) && typeof params === 'object' && params !== null && Object.keys(params).length === 0);
  if (empty) {
    return cmd.recipes.some((r) => r.length === 0) ? { ok: true, params: {} } : { ok: false, data: 'Too few or too many parameters' };
  }
  if (Array.isArray(params)) {
    if (cmd.namedOnly) return { ok: false, data: 'Command only supports named parameters' };
    const same = cmd.recipes.filter((r) => r.length === params.length);
    if (same.length > 1) return { ok: false, data: 'Ambiguous call, use named parameters instead' };
    const r = same[0];
    if (!r) return { ok: false, data: 'Too few or too many parameters' };
    return { ok: true, params: Object.fromEntries(r.map((n, i) => [n, params[i]])) };
  }
  const obj = params as Record<string, unknown>;
  const given = Object.keys(obj);
  const sameCount = cmd.recipes.filter((r) => r.length === given.length);
  if (sameCount.length === 0) return { ok: false, data: 'Too few or too many parameters' };
  const hit = sameCount.find((r) => r.every((n) => Object.hasOwn(obj, n)));
  if (!hit) return { ok: false, data: 'Named parameters do not match' };
  return { ok: true, params: { ...obj } };
}

const ASYNC_LIMIT_MS = 120_000;

/**
 * Handles one JSON-RPC 2.0 request body the way mi_http does: error codes, recipe matching,
 * notifications (no `id`: HTTP 202 and no body, unless the request could not be parsed/validated).
 */
export async function handleRpc(registry: MiRegistry, body: string): Promise<RpcReply> {
  let req: unknown;
  try {
    req = JSON.parse(body);
  } catch {
    return { status: 200, body: errorBody(null, -32700, 'Parse error') };
  }
  if (typeof req !== 'object' || req === null || Array.isArray(req)) return { status: 200, body: errorBody(null, -32600, 'Invalid Request') };
  const r = req as Record<string, unknown>;
  const hasId = Object.hasOwn(r, 'id');
  const idOk = !hasId || r.id === null || typeof r.id === 'string' || (typeof r.id === 'number' && Number.isFinite(r.id));
  const paramsOk = r.params === undefined || (typeof r.params === 'object' && r.params !== null);
  if (r.jsonrpc !== '2.0' || typeof r.method !== 'string' || !idOk || !paramsOk) {
    return { status: 200, body: errorBody(idOk && hasId ? (r.id as Id) : null, -32600, 'Invalid Request') };
  }
  const id = hasId ? (r.id as Id) : null;
  const reply = (text: string): RpcReply => (hasId ? { status: 200, body: text } : { status: 202, body: '' });

  const found = registry.lookup(r.method);
  if (!found.ok) return reply(errorBody(id, found.code, found.message, found.data));
  const m = matchRecipe(found.cmd, r.params);
  if (!m.ok) return reply(errorBody(id, -32602, 'Invalid params', m.data));
  try {
    let timer: NodeJS.Timeout | undefined;
    const result: unknown = await Promise.race([
      Promise.resolve(found.cmd.handler(m.params)),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new MiError(-32000, 'Server error', 'Command timed out')), ASYNC_LIMIT_MS);
        timer.unref();
      }),
    ]).finally(() => clearTimeout(timer));
    if (result === undefined) return reply(errorBody(id, -32000, 'Server error', 'Command handler returned null'));
    return reply(successBody(id, result));
  } catch (err) {
    if (err instanceof MiError) return reply(errorBody(id, err.code, err.message, err.data));
    return reply(errorBody(id, -32000, 'Server error', (err as Error).message));
  }
}
