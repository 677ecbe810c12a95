import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeTempDir, requireBinary, runBounded, startProcess, type PeerProcess } from './process.js';

export type SippTransport = 't1' | 'tn' | 'u1';

/** One OPTIONS per call (start_rtd), 200 expected (rtd), as peers.md §5. */
export const OPTIONS_UAC_XML = `<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="x OPTIONS UAC">
  <send start_rtd="true"><![CDATA[

      OPTIONS sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 OPTIONS
      Contact: <sip:sipp@[local_ip]:[local_port];transport=[transport]>
      Max-Forwards: 70
      Subject: x interop
      Content-Length: [len]

    ]]>
  </send>
  <recv response="200" rtd="true"/>
</scenario>
`;

/** Answers every OPTIONS with 200, copying Via/From/To/Call-ID/CSeq. */
export const OPTIONS_UAS_XML = `<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="x OPTIONS UAS">
  <recv request="OPTIONS"/>
  <send><![CDATA[

      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:[local_ip]:[local_port];transport=[transport]>
      Content-Length: 0

    ]]>
  </send>
</scenario>
`;

export interface SippStats {
  exitCode: number | null;
  successful: number;
  failed: number;
  outgoing: number;
  /** the raw CSV (last row is the final one) */
  csv: string;
  /** sipp's stdout + stderr tail, to debug a failure */
  output: string;
  dir: string;
}

/** Final counters of a sipp -trace_stat CSV (`;` separated, header row first). */
export function parseSippStatCsv(csv: string): { successful: number; failed: number; outgoing: number } {
  const lines = csv.split(/\r?\n/).filter((l) => l.trim() !== '');
  if (lines.length < 2) throw new Error(`sipp stat CSV has no data row:\n${csv.slice(0, 500)}`);
  const head = lines[0]!.split(';');
  const last = lines[lines.length - 1]!.split(';');
  const col = (name: string): number => {
    const i = head.indexOf(name);
    if (i === -1) throw new Error(`sipp stat CSV has no column ${name}`);
    const v = Number(last[i]);
    if (!Number.isFinite(v)) throw new Error(`sipp stat CSV: ${name} = ${String(last[i])} is not a number`);
    return v;
  };
  return { successful: col('SuccessfulCall(C)'), failed: col('FailedCall(C)'), outgoing: col('OutgoingCall(C)') };
}

function statOf(dir: string, output = ''): string {
  const f = readdirSync(dir).find((n) => n === 'stat.csv') ?? readdirSync(dir).find((n) => n.endsWith('.csv') && !n.includes('_rtt'));
  if (!f) throw new Error(`sipp wrote no stat CSV in ${dir}; its output:\n${output.slice(-3000)}`);
  return readFileSync(join(dir, f), 'utf8');
}

export interface RunSippOptions {
  /** scenario XML (default OPTIONS_UAC_XML) */
  scenarioXml?: string;
  transport: SippTransport;
  /** host:port */
  target: string;
  /** calls per second */
  rate: number;
  /** total calls, then exit */
  calls: number;
  /** max concurrent calls */
  limit?: number;
  /** per-call receive timeout (default 5000 ms) */
  recvTimeoutMs?: number;
  /** overall bound (default: calls/rate + 20 s) */
  timeoutSec?: number;
  /** TCP sockets sipp may open (default 1000; must stay under ulimit -n) */
  maxSocket?: number;
  extraArgs?: string[];
}

/** Runs a sipp UAC to completion and returns its final counters. */
export async function runSipp(o: RunSippOptions): Promise<SippStats> {
  const bin = requireBinary('sipp');
  const dir = makeTempDir('x-sipp-');
  writeFileSync(join(dir, 'scenario.xml'), o.scenarioXml ?? OPTIONS_UAC_XML);
  const timeoutSec = o.timeoutSec ?? Math.ceil(o.calls / o.rate) + 20;
  const args = [
    o.target,
    '-sf', 'scenario.xml',
    '-t', o.transport,
    '-i', '127.0.0.1',
    '-p', '0',
    '-r', `${o.rate}`,
    '-rp', '1000',
    '-m', `${o.calls}`,
    ...(o.limit ? ['-l', `${o.limit}`] : []),
    // sipp refuses to start when its default socket cap (50000) exceeds ulimit -n
    '-max_socket', `${o.maxSocket ?? 1000}`,
    '-recv_timeout', `${o.recvTimeoutMs ?? 5000}`,
    '-timeout', `${timeoutSec}s`,
    '-nostdin',
    '-trace_stat', '-fd', '1', '-stf', 'stat.csv',
    '-trace_err',
    ...(o.extraArgs ?? []),
  ];
  const r = await runBounded(bin, args, timeoutSec + 10, dir);
  const output = (r.stdout + r.stderr).slice(-4000);
  const csv = statOf(dir, output);
  return { exitCode: r.code, ...parseSippStatCsv(csv), csv, output, dir };
}

export interface SippUasOptions {
  port: number;
  /** 't1' / 'tn' listen on TCP; 'u1' on UDP */
  transport: SippTransport;
  scenarioXml?: string;
  /** exit after this many calls (sipp -m) */
  calls?: number;
  timeoutSec?: number;
}

export interface SippUas extends PeerProcess {
  readonly dir: string;
  /** the counters sipp has written so far (its CSV is rewritten each second and at exit) */
  stats(): { successful: number; failed: number; outgoing: number };
}

/** Starts a sipp UAS (default: answers OPTIONS with 200) on 127.0.0.1:port. */
export async function startSippUas(o: SippUasOptions): Promise<SippUas> {
  const bin = requireBinary('sipp');
  const dir = makeTempDir('x-sipp-uas-');
  writeFileSync(join(dir, 'scenario.xml'), o.scenarioXml ?? OPTIONS_UAS_XML);
  const timeoutSec = o.timeoutSec ?? 60;
  const args = [
    '-sf', 'scenario.xml',
    '-t', o.transport,
    '-i', '127.0.0.1',
    '-p', `${o.port}`,
    ...(o.calls ? ['-m', `${o.calls}`] : []),
    '-max_socket', '1000',
    '-timeout', `${timeoutSec}s`,
    '-nostdin',
    '-trace_stat', '-fd', '1', '-stf', 'stat.csv',
    '-trace_err',
  ];
  const p = await startProcess(bin, args, {
    timeoutSec: timeoutSec + 10,
    cwd: dir,
    logDir: dir,
    readyPort: { port: o.port, proto: o.transport === 'u1' ? 'udp' : 'tcp' },
  });
  return Object.assign(p, { dir, stats: () => parseSippStatCsv(statOf(dir)) });
}
