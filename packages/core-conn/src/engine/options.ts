import { ConfigError, ErrorCodes } from '../errors.js';
import type { Logger } from '../services.js';
import type { ProtocolSpec } from '../types.js';

const noop = (): void => {};
/** A Logger that drops everything: the engine's default when none is given, and every package's. */
/** Logs nothing, and says so (isLevelEnabled): the engine then builds no log line at all. */
export const NOOP_LOGGER: Logger = { trace: noop, debug: noop, info: noop, warn: noop, error: noop, fatal: noop, child: () => NOOP_LOGGER, isLevelEnabled: () => false } as Logger;

/** An optional numeric engine option: `def` when absent, else a finite number >= min. */
export function intOpt(name: string, v: number | undefined, def: number, min: number): number {
  if (v === undefined) return def;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min) {
    throw new ConfigError(ErrorCodes.INVALID_OPTION, `engine option "${name}" expects a number >= ${min}, got ${JSON.stringify(v)}`);
  }
  return v;
}

/** Checks a protocol spec before registration; throws a ConfigError naming the field. */
export function validateSpec(spec: ProtocolSpec): void {
  const fail = (why: string): never => {
    throw new ConfigError(ErrorCodes.INVALID_OPTION, `protocol "${spec.name}": ${why}`);
  };
  if (!spec.name || !/^[a-z][a-z0-9_]*$/.test(spec.name)) fail('name must be lower-case letters, digits and "_"');
  if (spec.transport !== 'tcp' && spec.transport !== 'tls' && spec.transport !== 'udp') fail(`unknown transport "${String(spec.transport)}"`);
  if (spec.transport === 'udp' && typeof spec.decodeDatagram !== 'function') fail('a udp protocol needs decodeDatagram');
  if (spec.transport !== 'udp' && typeof spec.createFramer !== 'function') fail('a stream protocol needs createFramer');
  if (!Number.isInteger(spec.maxMsgChunks) || spec.maxMsgChunks < 0) fail('maxMsgChunks must be an integer >= 0');
  if (!(spec.maxMsgBytes > 0)) fail('maxMsgBytes must be > 0');
  if (spec.tlsHandshakeTimeout !== undefined && !(typeof spec.tlsHandshakeTimeout === 'number' && Number.isFinite(spec.tlsHandshakeTimeout) && spec.tlsHandshakeTimeout >= 1)) {
    fail(`tlsHandshakeTimeout must be a number of ms >= 1, got ${JSON.stringify(spec.tlsHandshakeTimeout)}`);
  }
  if (spec.recvBufferSize !== undefined && !(Number.isInteger(spec.recvBufferSize) && spec.recvBufferSize >= 0)) {
    fail(`recvBufferSize must be an integer number of bytes >= 0, got ${JSON.stringify(spec.recvBufferSize)}`);
  }
  if (spec.tap !== undefined && typeof spec.tap !== 'boolean') fail(`tap must be true or false, got ${JSON.stringify(spec.tap)}`);
  const w = spec.write;
  if (!w) fail('write options are required');
  for (const k of ['sendTimeout', 'maxPostponedChunks', 'localConnectTimeout', 'localWriteTimeout'] as const) {
    if (typeof w[k] !== 'number' || !(w[k] >= 0)) fail(`write.${k} must be a number >= 0`);
  }
  if (w.maxQueuedBytes !== undefined && (typeof w.maxQueuedBytes !== 'number' || !(w.maxQueuedBytes >= 0))) fail('write.maxQueuedBytes must be a number of bytes >= 0');
}
