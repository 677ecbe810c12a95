// What the tracing interop tests against Kamailio's sipcapture share: the rows it stores (SQLite,
// @x/test-peers' SIP_CAPTURE_SCHEMA), a wait for them, and a SIP client over a connected socket
// (TCP or TLS) that sends an OPTIONS and waits for its reply.
import type { Socket } from 'node:net';
import { runBounded } from '@x/test-peers';

export interface CaptureRow {
  method: string; reply_reason: string | null; callid: string; source_ip: string; source_port: number; destination_ip: string;
  destination_port: number; correlation_id: string; msg: string; proto: number;
}

/** Every row of sip_capture, in insertion order. */
export async function captureRows(sqlite: string, db: string): Promise<CaptureRow[]> {
  const r = await runBounded(sqlite, ['-json', db, 'SELECT method, reply_reason, callid, source_ip, source_port, destination_ip, destination_port, correlation_id, msg, proto FROM sip_capture ORDER BY id'], 20);
  return r.stdout.trim() ? (JSON.parse(r.stdout) as CaptureRow[]) : [];
}

/** The rows once `done(rows)` holds (polled every 200 ms), or what is there after `ms`. */
export async function waitCaptureRows(sqlite: string, db: string, done: (rows: CaptureRow[]) => boolean, ms = 30_000): Promise<CaptureRow[]> {
  const end = Date.now() + ms;
  let rows = await captureRows(sqlite, db);
  while (!done(rows) && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 200));
    rows = await captureRows(sqlite, db);
  }
  return rows;
}

/** An OPTIONS to probe@127.0.0.1:port with that Call-ID, its Via over `via` (TCP, TLS). */
export const optionsRequest = (callId: string, port: number, via: 'TCP' | 'TLS' = 'TCP'): string =>
  `OPTIONS sip:probe@127.0.0.1:${port}${via === 'TLS' ? ';transport=tls' : ''} SIP/2.0\r\nVia: SIP/2.0/${via} 127.0.0.1;branch=z9hG4bK-${callId}\r\nFrom: <sip:kam@127.0.0.1>;tag=${callId}\r\n` +
  `To: <sip:probe@127.0.0.1>\r\nCall-ID: ${callId}\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n`;

/** Sends optionsRequest(callId, port, via) on a connected socket and resolves with the reply's text (10 s at most). */
export function sipAsker(s: Socket, port: number, via: 'TCP' | 'TLS' = 'TCP'): (callId: string) => Promise<string> {
  let text = '';
  s.on('data', (d: Buffer) => (text += d.toString('latin1')));
  return async (callId) => {
    const start = text.length;
    s.write(optionsRequest(callId, port, via));
    const end = Date.now() + 10_000;
    while (!text.slice(start).includes('\r\n\r\n')) {
      if (Date.now() > end) throw new Error(`no reply to ${callId}`);
      await new Promise((r) => setTimeout(r, 10));
    }
    return text.slice(start);
  };
}
