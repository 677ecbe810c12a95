/** Tracing errors: a class with a stable `code`, as every @x package. */
export const TracingErrorCodes = {
  /** a trace_destination names no hep_id */
  UNKNOWN_DESTINATION: 'ERR_TRACE_UNKNOWN_DESTINATION',
  /** a bad option given to createTracing */
  INVALID_OPTION: 'ERR_TRACE_INVALID_OPTION',
} as const;
export type TracingErrorCode = (typeof TracingErrorCodes)[keyof typeof TracingErrorCodes];

export class TracingError extends Error {
  readonly code: TracingErrorCode;
  constructor(code: TracingErrorCode, message: string) {
    super(message);
    this.name = 'TracingError';
    this.code = code;
  }
}
