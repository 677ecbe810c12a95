/**
 * opensips-cli's `mi` argument mapping (opensipscli/modules/mi.py): every arg `name=value`
 * -> a named object; otherwise a positional array of strings. Some legacy commands take
 * an array from a position on.
 */
export const MI_ARRAY_PARAMS: Readonly<Record<string, { name: string; pos: number }>> = {
  fs_subscribe: { name: 'events', pos: 1 },
  fs_unsubscribe: { name: 'events', pos: 1 },
  b2b_trigger_scenario: { name: 'scenario_params', pos: 1 },
  dlg_push_var: { name: 'DID', pos: 2 },
  get_statistics: { name: 'statistics', pos: 0 },
  list_statistics: { name: 'statistics', pos: 0 },
  reset_statistics: { name: 'statistics', pos: 0 },
  trace_start: { name: 'filter', pos: 0 },
  raise_event: { name: 'params', pos: 1 },
};

const NAMED = /^([A-Za-z.\-_]+)=(.*)$/s;

/** shell-like split (quotes group words) for the named form of array params */
export function shellSplit(s: string): string[] {
  const out: string[] = [];
  const re = /"([^"]*)"|'([^']*)'|(\S+)/g;
  for (let m = re.exec(s); m; m = re.exec(s)) out.push(m[1] ?? m[2] ?? m[3]!);
  return out;
}

/** opensips-cli's parse_params: no arguments count as (zero) named ones, so they are sent as `{}` */
export function miParams(cmd: string, args: readonly string[]): unknown[] | Record<string, unknown> {
  const special = MI_ARRAY_PARAMS[cmd];
  if (args.every((a) => NAMED.test(a))) {
    const obj: Record<string, unknown> = {};
    for (const a of args) {
      const [, k, v] = NAMED.exec(a)!;
      obj[k!] = special && special.name === k ? shellSplit(v!) : v;
    }
    return obj;
  }
  if (special && args.length > special.pos) return [...args.slice(0, special.pos), args.slice(special.pos)];
  return [...args];
}

/** opensips-cli's pretty-print output: Python's json.dumps(result, indent=4), non-ASCII escaped as \uXXXX (ensure_ascii). */
export function formatMiResult(result: unknown): string {
  return (JSON.stringify(result, null, 4) ?? 'null').replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** What opensips-cli prints for an MI error: `ERROR: command '<cmd>' returned: <code>: <message>[ (<data>)]` (python-opensips JSONRPCError). */
export function formatMiError(cmd: string, err: { code: number; message: string; data?: unknown }): string {
  const data = err.data === undefined || err.data === null || err.data === '' ? '' : ` (${typeof err.data === 'string' ? err.data : JSON.stringify(err.data)})`;
  return `ERROR: command '${cmd}' returned: ${err.code}: ${err.message}${data}`;
}
