import { brandError, clipText, ConfigError } from '@x/core-conn';

/** Stable codes of the server's configuration errors. */
export const CfgErrorCodes = {
  /** a token the grammar did not expect (bad quote, missing ")", stray character) */
  SYNTAX: 'ERR_CFG_SYNTAX',
  /** a top-level statement the dialect does not know (route blocks included: routing is JS) */
  UNKNOWN_STATEMENT: 'ERR_CFG_UNKNOWN_STATEMENT',
  /** a global `name = value` the server does not know */
  UNKNOWN_GLOBAL: 'ERR_CFG_UNKNOWN_GLOBAL',
  /** `loadmodule` of a module with no @x package, or one that is not installed */
  UNKNOWN_MODULE: 'ERR_CFG_UNKNOWN_MODULE',
  /** `modparam` whose module regex matches no loaded module */
  NO_MODULE_MATCH: 'ERR_CFG_NO_MODULE_MATCH',
  /** a parameter the module does not have */
  UNKNOWN_PARAM: 'ERR_CFG_UNKNOWN_PARAM',
  /** a value of the wrong type or out of range */
  BAD_VALUE: 'ERR_CFG_BAD_VALUE',
  /** a socket spec that does not parse */
  BAD_SOCKET: 'ERR_CFG_BAD_SOCKET',
  /** a listener whose protocol no loaded module serves */
  NO_PROTO_MODULE: 'ERR_CFG_NO_PROTO_MODULE',
  /** include_file / route_script that cannot be read or imported */
  FILE: 'ERR_CFG_FILE',
  /** a module depends on one that is not loaded */
  DEPENDENCY: 'ERR_CFG_DEPENDENCY',
  /** a module that refuses to run without a socket of its protocols, once the sockets are bound (its `listening` hook refused) */
  MISSING_SOCKET: 'ERR_CFG_MISSING_SOCKET',
  /** a module's `checkConfig` (or another hook) refused the configuration: proto_hep without a HEP socket, a trace_destination naming no hep_id... (the module's own error is the cause) */
  MODULE_REFUSED: 'ERR_CFG_MODULE_REFUSED',
} as const;

/** Where a statement or token sits: file name (as given), 1-based line and column. */
export interface Where {
  file: string;
  line: number;
  col: number;
}

export function formatWhere(w: Where): string {
  return `${w.file}:${w.line}:${w.col}`;
}

/** A configuration error; the message starts with `file:line:col:`. */
export class CfgError extends ConfigError {
  readonly where: Where | undefined;
  constructor(code: string, where: Where | undefined, message: string, options?: { cause?: unknown }) {
    // a quoted value of any length (a 5 MB string in a modparam) is shown clipped
    const clipped = message.replace(/"([^"\n]{200,})"/g, (_m, inner: string) => `"${clipText(inner)}"`);
    super(code, where ? `${formatWhere(where)}: ${clipped}` : clipped, options);
    this.where = where;
  }

  /**
   * Every error of one configuration (parse and check), so an operator fixes a file in one
   * round: the first error's code and place, a message listing them all (one per line), and
   * the list in `errors`. One error is returned as it is.
   */
  static all(errors: readonly CfgError[]): CfgError {
    if (errors.length === 1) return errors[0]!;
    const first = errors[0]!;
    const agg = new CfgError(first.code, undefined, `${errors.length} errors in the configuration:\n${errors.map((e) => `  ${e.message}`).join('\n')}`);
    (agg as { where: Where | undefined }).where = first.where;
    agg.errors = errors;
    return agg;
  }

  /** all the errors this one stands for (itself alone unless it came from `CfgError.all`) */
  errors: readonly CfgError[] = [this];
}
brandError(CfgError, '@x/server:CfgError');
