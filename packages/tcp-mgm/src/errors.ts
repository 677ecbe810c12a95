import { brandError, XError } from '@x/core-conn';

/** Stable codes of the errors @x/tcp-mgm throws. */
export const TcpMgmErrorCodes = {
  /** db_url is not one of sqlite:///path, postgres://..., mysql://... */
  BAD_URL: 'ERR_TCPMGM_BAD_URL',
  /** the database could not be opened or queried */
  DB: 'ERR_TCPMGM_DB',
  /** the version table has no row for the table, or a version this package cannot read */
  VERSION: 'ERR_TCPMGM_VERSION',
  /** a row of the table is invalid (the row is skipped; this error names its id and reason) */
  BAD_ROW: 'ERR_TCPMGM_BAD_ROW',
  /** a module parameter is invalid */
  BAD_PARAM: 'ERR_TCPMGM_BAD_PARAM',
  /** a lookup query (tcp_mgm:match) is invalid */
  BAD_QUERY: 'ERR_TCPMGM_BAD_QUERY',
  /** a value does not parse (an attrs text, an ip/prefix, a table name) */
  BAD_VALUE: 'ERR_TCPMGM_BAD_VALUE',
} as const;
export type TcpMgmErrorCode = (typeof TcpMgmErrorCodes)[keyof typeof TcpMgmErrorCodes];

/** Every error of this package: a stable `code` and a readable message. */
export class TcpMgmError extends XError {
  declare readonly code: TcpMgmErrorCode;
  constructor(code: TcpMgmErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
brandError(TcpMgmError, '@x/tcp-mgm:TcpMgmError');

/** A row that cannot become a rule: `id` is the row's id (when it had a usable one), `reason` the problem. */
export class RowError extends TcpMgmError {
  readonly id: number | undefined;
  readonly reason: string;
  constructor(id: number | undefined, reason: string) {
    super(TcpMgmErrorCodes.BAD_ROW, `tcp_mgm row ${id === undefined ? '(no id)' : `id ${id}`}: ${reason}`);
    this.id = id;
    this.reason = reason;
  }
}
brandError(RowError, '@x/tcp-mgm:RowError');
