/**
 * Codec figures. Run with `corepack pnpm --filter @x/proto-msrp bench`.
 * Parses a stream of small SENDs (the Kamailio capture's 362-byte SEND) and one of 64 KiB-body
 * SENDs, against the floor of framing the same bytes: one Buffer.indexOf of the end-line per
 * message (what any MSRP framer must at least do), measured in the same run. Prints MB/s and
 * the ratio to the floor. Bodies over 64 KiB stream (no copy), as on a connection. The
 * string-based parser of 0.1 (test/reference/parser-v0.ts) runs in the same process as the
 * "before" of the byte-level one.
 */
import { Bench } from 'tinybench';
import { encode, MsrpParser, type MsrpMessage } from '../src/index.js';
import { MsrpParser as MsrpParserV0 } from '../test/reference/parser-v0.js';

function send(tid: string, body: Buffer): MsrpMessage {
  return {
    kind: 'request', method: 'SEND', tid, continuation: '$', body,
    headers: [
      { name: 'To-Path', value: 'msrp://127.0.0.1:12855/msrp-6b03b778-64a3-1;tcp msrp://127.0.0.1:60516/bobb2366c;tcp' },
      { name: 'From-Path', value: 'msrp://127.0.0.1:12855/msrp-6b03b778-64a2-1;tcp msrp://127.0.0.1:60512/aliceac0b58;tcp' },
      { name: 'Message-ID', value: 'eb5d3d5a1330' },
      { name: 'Byte-Range', value: `1-${body.length}/${body.length}` },
      { name: 'Failure-Report', value: 'no' },
      { name: 'Content-Type', value: 'text/plain' },
    ],
  };
}

function stream(n: number, body: Buffer): Buffer {
  const parts: Buffer[] = [];
  for (let i = 0; i < n; i++) parts.push(encode(send(`t${i.toString(16)}x`, body)));
  return Buffer.concat(parts);
}

const small = stream(2000, Buffer.from('hello bob via kamailio msrp relay'));
const large = stream(64, Buffer.alloc(65536, 0x61));
const READ = 65536;

function parse(bytes: Buffer, P: typeof MsrpParser = MsrpParser): number {
  let n = 0;
  const p = new P();
  const sink = { message: () => void n++, head: () => {}, body: () => {}, end: () => void n++ };
  for (let i = 0; i < bytes.length; i += READ) p.push(bytes.subarray(i, i + READ), sink);
  return n;
}
function floor(bytes: Buffer): number {
  let n = 0;
  let i = 0;
  for (;;) {
    const e = bytes.indexOf('\r\n-------', i, 'latin1');
    if (e < 0) break;
    n++;
    i = bytes.indexOf('\r\n', e + 9, 'latin1') + 2;
  }
  return n;
}

console.log(`load average ${(await import('node:os')).loadavg().map((x) => x.toFixed(2)).join(' ')}`);
const bench = new Bench({ time: 1500, warmupTime: 300 });
for (const [name, bytes] of [['362-byte SENDs', small], ['64 KiB SENDs', large]] as const) {
  if (parse(bytes) !== floor(bytes) || parse(bytes, MsrpParserV0 as never) !== floor(bytes)) throw new Error('parser and floor disagree');
  bench
    .add(`MsrpParser ${name}`, () => parse(bytes))
    .add(`MsrpParser 0.1 ${name}`, () => parse(bytes, MsrpParserV0 as never))
    .add(`indexOf floor ${name}`, () => floor(bytes));
}
await bench.run();
const mbps = (name: string, bytes: Buffer): number => {
  const t = bench.tasks.find((x) => x.name === name)!;
  const r = t.result as unknown as { latency?: { mean: number }; period?: number };
  const ms = r.latency?.mean ?? r.period ?? NaN;
  return bytes.length / 1e6 / (ms / 1000);
};
for (const [name, bytes] of [['362-byte SENDs', small], ['64 KiB SENDs', large]] as const) {
  const ours = mbps(`MsrpParser ${name}`, bytes);
  const v0 = mbps(`MsrpParser 0.1 ${name}`, bytes);
  const fl = mbps(`indexOf floor ${name}`, bytes);
  console.log(
    `${name}: MsrpParser ${ours.toFixed(0)} MB/s (0.1's string parser ${v0.toFixed(0)} MB/s, x${(ours / v0).toFixed(1)}), indexOf floor ${fl.toFixed(0)} MB/s, ratio to the floor ${(ours / fl).toFixed(2)}`,
  );
}
