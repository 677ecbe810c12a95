import { describe, expect, it } from 'vitest';
import { buildResponse } from '../src/codec/headers.js';

const REQ = Buffer.from('OPTIONS sip:a SIP/2.0\r\nVia: SIP/2.0/TCP h\r\nFrom: <sip:a>;tag=1\r\nTo: <sip:b>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\n\r\n', 'latin1');

describe('reply validation', () => {
  it('refuses a reason phrase with CR or LF every time, whatever was accepted before', () => {
    for (const bad of ['O\rK', 'O\nK', 'OK\r\nX-Injected: 1']) {
      expect(buildResponse(REQ, 200, 'OK').toString('latin1')).toMatch(/^SIP\/2\.0 200 OK\r\n/);
      expect(() => buildResponse(REQ, 200, bad)).toThrow(expect.objectContaining({ code: 'ERR_SIP_BAD_MESSAGE' }));
      expect(() => buildResponse(REQ, 200, bad)).toThrow(expect.objectContaining({ code: 'ERR_SIP_BAD_MESSAGE' }));
      expect(buildResponse(REQ, 486, 'Busy Here').toString('latin1')).toMatch(/^SIP\/2\.0 486 Busy Here\r\n/);
    }
  });

  it('refuses statuses outside 100..699', () => {
    for (const s of [99, 700, 200.5, Number.NaN]) expect(() => buildResponse(REQ, s, 'OK')).toThrow(expect.objectContaining({ code: 'ERR_SIP_BAD_MESSAGE' }));
  });
});
