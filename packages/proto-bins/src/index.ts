export * from './codec/index.js';
export { BinFramer, type BinFramerOptions } from './framer/framer.js';
