// A trivial datagram protocol for core-conn's own tests: a datagram is "D" then a text (decoded
// to the text); anything else is a protocol error.
import { ProtocolError } from '../src/errors.js';
import type { ProtocolSpec } from '../src/types.js';
import { WRITE_DEFAULTS } from './lp-proto.js';

/** The "du" protocol over udp, with `over` applied (another name, tap: false, a receive buffer...). */
export function duSpec(over: Partial<ProtocolSpec<string>> = {}): ProtocolSpec<string> {
  return {
    name: 'du',
    transport: 'udp',
    defaultPort: null,
    decodeDatagram: (data) => {
      if (data[0] !== 0x44) throw new ProtocolError('ERR_DU_MAGIC', 'datagram must start with "D"');
      return data.subarray(1).toString();
    },
    maxMsgChunks: 0,
    maxMsgBytes: 65535,
    write: WRITE_DEFAULTS,
    ...over,
  };
}
