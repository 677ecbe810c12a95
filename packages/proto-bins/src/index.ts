export * from './codec/index.js';
export { BinFramer, type BinFramerOptions } from './framer/framer.js';
export * from './clusterer/node-info.js';
export * from './clusterer/node.js';
