export * from './errors.js';
export * from './types.js';
export * from './module/contract.js';
export type * from './engine/types.js';
