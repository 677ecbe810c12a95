import { brandError, XError } from '@x/core-conn';

/** Tracing errors: a class with a stable `code`, as every @x package. */
export const TracingErrorCodes = {
  /** a trace_destination names no hep_id */
  UNKNOWN_DESTINATION: 'ERR_TRACE_UNKNOWN_DESTINATION',
  /** a bad option given to createTracing */
  INVALID_OPTION: 'ERR_TRACE_INVALID_OPTION',
} as const;
export type TracingErrorCode = (typeof TracingErrorCodes)[keyof typeof TracingErrorCodes];

export class TracingError extends XError {
  declare readonly code: TracingErrorCode;
  constructor(code: TracingErrorCode, message: string) {
    super(code, message);
  }
}
brandError(TracingError, '@x/tracing:TracingError');
