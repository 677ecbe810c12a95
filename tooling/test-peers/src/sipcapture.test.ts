import { describe, expect, it } from 'vitest';
import { parseHepLog, sipcaptureLogConfig } from './sipcapture.js';

describe('sipcaptureLogConfig / parseHepLog', () => {
  it('reads back the lines Kamailio 5.6 logged (payload base64, a missing correlation id as empty)', () => {
    const log = [
      ' 1(5287) INFO: <script>: HEPLOG v=3 type=89 ipproto=6 capture=1 src=127.0.0.1:40000 dst=127.0.0.1:2855 corr=12345 payload=TVNSUDpBQ0NFUFRFRDpTVUNDRVNTOkNvbm5lY3Rpb24gYWNjZXB0ZWQuLi4=',
      ' 0(5285) ERROR: sipcapture [sipcapture.c:968]: mod_init(): unrelated',
      ' 5(5152) INFO: <script>: HEPLOG v=3 type=90 ipproto=22 capture=7 src=127.0.0.2:1 dst=127.0.0.1:2 corr=<null> payload=aGk=',
    ].join('\n');
    expect(parseHepLog(log)).toEqual([
      { version: 3, protoType: 89, ipProto: 6, captureId: 1, srcIp: '127.0.0.1', srcPort: 40000, dstIp: '127.0.0.1', dstPort: 2855, correlationId: '12345', payload: Buffer.from('MSRP:ACCEPTED:SUCCESS:Connection accepted...') },
      { version: 3, protoType: 90, ipProto: 22, captureId: 7, srcIp: '127.0.0.2', srcPort: 1, dstIp: '127.0.0.1', dstPort: 2, correlationId: '', payload: Buffer.from('hi') },
    ]);
    expect(sipcaptureLogConfig(9060, 'capture.db')).toMatch(/nonsip_hook", 1\)[\s\S]*event_route\[sipcapture:request\][\s\S]*HEPLOG v=/);
  });
});
