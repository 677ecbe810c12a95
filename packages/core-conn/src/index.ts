export * from './errors.js';
export * from './types.js';
export * from './module/contract.js';
export type * from './engine/types.js';
export { createEngine } from './engine/engine.js';
export { parseSocketSpec, formatAddress, normalizeHost } from './address.js';
export { DEFAULT_PROFILE, makeProfile, keepaliveOn } from './profile.js';
export { createStatsRegistry } from './stats.js';
