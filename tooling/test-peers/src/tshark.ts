import { join } from 'node:path';
import { makeTempDir, requireBinary, runBounded, startProcess, type ExitInfo } from './process.js';

export interface CaptureOptions {
  /** TCP and/or UDP ports to capture (capture filter: net 127.0.0.0/8 and port ...) */
  ports: number[];
  /** tshark's own bound (-a duration:N) */
  durationSec: number;
  /** default 'lo' */
  iface?: string;
}

export interface Capture {
  readonly pcap: string;
  readonly pid: number;
  /** ends the capture (SIGTERM: tshark flushes the file) and resolves once the file is complete */
  stop(): Promise<ExitInfo>;
  log(): string;
}

/** Starts a live capture on loopback; resolves once tshark reports it is capturing. */
export async function capture(o: CaptureOptions): Promise<Capture> {
  const bin = requireBinary('tshark');
  if (o.ports.length === 0) throw new Error('capture: give at least one port');
  const dir = makeTempDir('x-tshark-');
  const pcap = join(dir, 'capture.pcap');
  const filter = `net 127.0.0.0/8 and (${o.ports.map((p) => `port ${p}`).join(' or ')})`;
  const p = await startProcess(bin, ['-q', '-i', o.iface ?? 'lo', '-f', filter, '-a', `duration:${o.durationSec}`, '-F', 'pcap', '-w', pcap], {
    timeoutSec: o.durationSec + 10,
    logDir: dir,
    readyLog: /Capturing on/,
    settleMs: 500,
  });
  return {
    pcap,
    pid: p.pid,
    log: () => p.log(),
    stop: async () => {
      // give the last segments time to reach the capture buffer
      await new Promise((r) => setTimeout(r, 500));
      return p.stop();
    },
  };
}

export const FIELD_ARGS = ['-T', 'fields', '-E', 'header=y', '-E', 'separator=/t', '-E', 'occurrence=a', '-E', 'aggregator=,'];

/** `['-d','tcp.port==N,sip']` for each port and transport */
export function decodeAsSip(ports: number[], transports: ('tcp' | 'udp')[] = ['tcp']): string[] {
  return ports.flatMap((p) => transports.flatMap((t) => ['-d', `${t}.port==${p},sip`]));
}

/** Reads a pcap with tshark and returns one row per frame, keyed by field name. */
export async function decode(pcap: string, decodeAs: string[], fields: string[], displayFilter?: string): Promise<Record<string, string>[]> {
  const bin = requireBinary('tshark');
  const args = ['-r', pcap, '-o', 'tcp.desegment_tcp_streams:TRUE', ...decodeAs, ...(displayFilter ? ['-Y', displayFilter] : []), ...FIELD_ARGS, ...fields.flatMap((f) => ['-e', f])];
  const r = await runBounded(bin, args, 60);
  if (r.code !== 0) throw new Error(`tshark -r failed (exit ${r.code}): ${r.stderr.slice(-2000)}`);
  const lines = r.stdout.split('\n').filter((l) => l !== '');
  const head = (lines.shift() ?? '').split('\t');
  return lines.map((l) => {
    const cells = l.split('\t');
    return Object.fromEntries(head.map((h, i) => [h, cells[i] ?? '']));
  });
}

/** Frames tshark flags as malformed (`_ws.malformed`) under the given decode-as rules. */
export async function malformedCount(pcap: string, decodeAs: string[]): Promise<number> {
  const rows = await decode(pcap, decodeAs, ['frame.number'], '_ws.malformed');
  return rows.length;
}

/** Counts values across rows of a field (comma-joined when several PDUs share a frame). */
export function countValues(rows: Record<string, string>[], field: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const r of rows) {
    for (const v of (r[field] ?? '').split(',')) {
      if (v !== '') m.set(v, (m.get(v) ?? 0) + 1);
    }
  }
  return m;
}
