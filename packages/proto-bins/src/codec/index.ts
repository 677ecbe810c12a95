export * from './errors.js';
export * from './packet.js';
export * from './clusterer.js';
