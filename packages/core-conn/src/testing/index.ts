/**
 * @x/core-conn/testing: the compliance suite every protocol package runs, and small helpers
 * for socket tests. Needs vitest and fast-check (optional peer dependencies).
 */
export { runFramerCompliance, framerChecks, type FramerComplianceOptions } from './framer-compliance.js';
export { createTestEngine, rawConnect, waitForEvent, waitUntil, fakeConnection } from './engine.js';
export { stuckPeer, pausablePeer, type StuckPeer, type PausablePeer } from './peers.js';
export { readPcap, tcpStreams, type PcapPacket } from './pcap.js';
