import fc from 'fast-check';
import { runFramerCompliance } from '../src/testing/index.js';
import { encode, lpSpec } from './lp-proto.js';

// The suite run on core-conn's own length-prefixed test protocol.
runFramerCompliance<Buffer>({
  name: 'lp',
  spec: lpSpec(),
  encode,
  arbitraryMessage: fc.uint8Array({ minLength: 1, maxLength: 300 }).map((u) => Buffer.from(u)),
  numRuns: 100,
});
