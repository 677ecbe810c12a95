import { ConfigError, ErrorCodes, validateParams, type RawParam } from '@x/core-conn';
import { protoTcpParamSchema, type ProtoTcpParams } from './params.js';
import { protoTlsParamSchema, type ProtoTlsParams } from './tls-params.js';

/**
 * Validates API-style params (booleans allowed for 0/1 params) with the same checks and
 * messages as `modparam("proto_tcp", ...)`, and fills the defaults.
 */
export function resolveParams(input: Partial<ProtoTcpParams> | undefined): ProtoTcpParams {
  return validateParams<ProtoTcpParams>('proto_tcp', protoTcpParamSchema, rawParams('proto_tcp', input));
}

/** resolveParams for proto_tls's params. */
export function resolveTlsParams(input: Partial<ProtoTlsParams> | undefined): ProtoTlsParams {
  return validateParams<ProtoTlsParams>('proto_tls', protoTlsParamSchema, rawParams('proto_tls', input));
}

function rawParams(module: string, input: object | undefined): Map<string, RawParam[]> {
  const raw = new Map<string, RawParam[]>();
  if (input !== undefined && (typeof input !== 'object' || input === null)) {
    throw new ConfigError(ErrorCodes.INVALID_OPTION, `${module}: params must be an object`);
  }
  for (const [name, value] of Object.entries(input ?? {})) {
    if (value === undefined) continue;
    let v: unknown = value;
    if (typeof v === 'boolean') v = v ? 1 : 0;
    if (typeof v !== 'number' && typeof v !== 'string') {
      throw new ConfigError(ErrorCodes.INVALID_OPTION, `${module}: parameter "${name}" must be a number, a boolean or a string, got ${typeof v}`);
    }
    raw.set(name, [{ value: v, where: 'params' }]);
  }
  return raw;
}
