export * from './codec/index.js';
export { BinFramer, type BinFramerOptions } from './framer/framer.js';
export * from './clusterer/node-info.js';
export * from './clusterer/node.js';
export { attachBin, binsTraceMi, type BinApi, type BinHandler, type BinReceived, type BinCounts, type AttachBinOptions } from './bin.js';
export * from './module/params.js';
export { protoBinModule, protoBinsModule } from './module/module.js';
export { clustererModule, clustererParamSchema, attachClusterer, type ClustererParams, type ClustererApi, type ClusterSendCode, type AttachClustererOptions } from './clusterer/module.js';
