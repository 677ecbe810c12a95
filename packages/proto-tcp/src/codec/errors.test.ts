import { ConfigError, ProtocolError, XError } from '@x/core-conn';
import { describe, expect, it } from 'vitest';
import { SipConfigError, SipProtocolError } from './errors.js';

describe('proto-tcp errors keep their own name and are core-conn errors', () => {
  it('SipProtocolError is a ProtocolError named SipProtocolError', () => {
    const e = new SipProtocolError('ERR_SIP_TOO_BIG', 'big');
    expect([e.name, e.code, e instanceof ProtocolError, e instanceof XError, e instanceof ConfigError]).toEqual(['SipProtocolError', 'ERR_SIP_TOO_BIG', true, true, false]);
    expect(new ProtocolError('E', 'x') instanceof SipProtocolError).toBe(false);
  });
  it('SipConfigError is a ConfigError named SipConfigError', () => {
    const e = new SipConfigError('ERR_SIP_BAD_TARGET', 'bad');
    expect([e.name, e instanceof ConfigError, e instanceof ProtocolError]).toEqual(['SipConfigError', true, false]);
  });
});

describe('options are validated with a coded error', () => {
  it('SipFramer maxMsgBytes below 16 is a SipConfigError ERR_INVALID_OPTION', async () => {
    const { SipFramer } = await import('../framer/framer.js');
    expect(() => new SipFramer({ maxMsgBytes: 8 })).toThrow(SipConfigError);
    expect(() => new SipFramer({ maxMsgBytes: 8 })).toThrow(/maxMsgBytes must be an integer >= 16, got 8/);
  });
});
