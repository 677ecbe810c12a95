// (c) the shipped Lua dissector on Kamailio's own HEPv3-over-TCP capture: dissect_tcp_pdus
// splits the segment carrying two packets, and the SIP inside is decoded.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { requireBinary, runBounded, FIELD_ARGS } from '@x/test-peers';

describe('hep.lua dissector', () => {
  it('HEPv3 over TCP: 8 packets, 6 SIP (4 OPTIONS, 2 replies), capture id 2001', async () => {
    const pcap = join(import.meta.dirname, '..', 'fixtures', 'hepv3-tcp-kamailio-siptrace.pcap');
    const t = await runBounded(requireBinary('tshark'), [
      '-r', pcap, '-X', `lua_script:${join(import.meta.dirname, 'hep.lua')}`, '-d', 'tcp.port==19061,hep',
      '-o', 'tcp.desegment_tcp_streams:TRUE', ...FIELD_ARGS, '-e', 'hep.capture_id', '-e', 'hep.proto_type', '-e', 'sip.Method', '-e', 'sip.Status-Code', '-Y', 'hep',
    ], 30);
    expect(t.code, t.stderr).toBe(0);
    const rows = t.stdout.trim().split('\n').slice(1).map((l) => l.split('\t'));
    const cell = (i: number) => rows.flatMap((r) => (r[i] ? r[i].split(',') : []));
    expect(cell(0)).toEqual(Array(8).fill('2001'));
    expect(cell(1).filter((x) => x === '1')).toHaveLength(6);
    expect(cell(1).filter((x) => x === '100')).toHaveLength(2);
    expect(cell(2)).toEqual(Array(4).fill('OPTIONS'));
    expect(cell(3)).toEqual(['200', '200']);
    expect(rows.some((r) => r[0]!.includes(','))).toBe(true);
  });
});
