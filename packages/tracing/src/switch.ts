/**
 * The per-module runtime switch (`trace_on`) and the MI `trace` commands of proto_tcp,
 * proto_tls, proto_bins and proto_msrp, with OpenSIPS's argument rules and replies (tracing.md §2).
 */
import { MiError, type MiCommand } from '@x/core-conn';

/** One module's on/off switch; read at every event, so a change applies at the next one. */
export class TraceSwitch {
  on: boolean;
  constructor(initial = false) {
    this.on = initial;
  }
}

/** The modules whose transport events can be traced. */
export type TracedModule = 'proto_tcp' | 'proto_tls' | 'proto_bins' | 'proto_msrp';

interface MiShape {
  name: string;
  alias: string;
  key: string;
  /** how trace_mode is read */
  parse: (mode: string) => boolean | undefined;
  /** the error for a value that is neither */
  invalid: () => MiError;
}

const MODE_HINT = "trace_mode should be 'on' or 'off'";
const lower = (c: string | undefined): string | undefined => (c === undefined ? undefined : String.fromCharCode(c.charCodeAt(0) | 0x20));

/**
 * proto_tcp, proto_tls and proto_bins: `(s[0]|0x20)=='o' && (s[1]|0x20)=='n'` -> on, else `o`,`f`,`f` -> off;
 * so "on", "ON", "onwards" mean on and "off", "offline" off (only the first 2 or 3 bytes count).
 */
function prefixMode(mode: string): boolean | undefined {
  if (lower(mode[0]) === 'o' && lower(mode[1]) === 'n') return true;
  if (lower(mode[0]) === 'o' && lower(mode[1]) === 'f' && lower(mode[2]) === 'f') return false;
  return undefined;
}

/**
 * proto_msrp: length 2 and "on" (case-insensitive) -> on; length 3 and a case-insensitive "of"
 * prefix -> off. OpenSIPS compares only 2 bytes of "off" (`strncasecmp(s, "off", 2)`), so "ofx"
 * is off too; we keep that.
 */
function exactMode(mode: string): boolean | undefined {
  if (mode.length === 2 && mode.toLowerCase() === 'on') return true;
  if (mode.length === 3 && mode.slice(0, 2).toLowerCase() === 'of') return false;
  return undefined;
}

const SHAPES: Record<TracedModule, MiShape> = {
  proto_tcp: { name: 'tcp:trace', alias: 'tcp_trace', key: 'TCP tracing', parse: prefixMode, invalid: () => new MiError(-32602, 'Invalid params', MODE_HINT) },
  // proto_tls.c's tls_trace_mi_1: tcp's rule, bins' error
  proto_tls: { name: 'tls:trace', alias: 'tls_trace', key: 'TLS tracing', parse: prefixMode, invalid: () => new MiError(500, 'Bad parameter value', MODE_HINT) },
  // OpenSIPS 4.0 registers bins' legacy name as tls_trace, as proto_tls does: with both loaded
  // the alias is ambiguous (the MI registry answers -32001 "Method ambiguous")
  proto_bins: { name: 'bins:trace', alias: 'tls_trace', key: 'BINS tracing', parse: prefixMode, invalid: () => new MiError(500, 'Bad parameter value', MODE_HINT) },
  proto_msrp: { name: 'msrp:trace', alias: 'msrp_trace', key: 'MSRP tracing', parse: exactMode, invalid: () => new MiError(-32602, 'Invalid params', MODE_HINT) },
};

/**
 * Reads `trace_mode` as OpenSIPS's `get_mi_string_param` does: a string as is, a number as its
 * decimal text, anything else -> -32602 "Bad type for parameter 'trace_mode'".
 */
function modeText(v: unknown): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' && Number.isFinite(v)) return String(Math.trunc(v));
  throw new MiError(-32602, 'Invalid params', "Bad type for parameter 'trace_mode'");
}

/**
 * The module's MI trace command: no params -> `{ "<X> tracing": "on" | "off" }`; `trace_mode`
 * -> "OK" once set, or the module's error for any other value.
 */
export function traceMiCommand(module: TracedModule, sw: TraceSwitch, onChange?: (on: boolean) => void): MiCommand {
  const s = SHAPES[module];
  return {
    name: s.name,
    aliases: [s.alias],
    recipes: [[], ['trace_mode']],
    doc: `${s.key}: no params shows "on" or "off"; trace_mode "on" or "off" switches it (from the next event)`,
    handler(params) {
      if (!('trace_mode' in params)) return { [s.key]: sw.on ? 'on' : 'off' };
      const on = s.parse(modeText(params.trace_mode));
      if (on === undefined) throw s.invalid();
      sw.on = on;
      onChange?.(on);
      return 'OK';
    },
  };
}
