// Closes are visible: every close counted per protocol and reason code, logged at a level that
// says how abnormal it is (debug EOF, info asked-for, warn limits/errors), rate-limited per
// reason and peer; a read timeout caught on the next read counts in limit_closes.
import { afterEach, describe, expect, it } from 'vitest';
import type { Logger } from '../src/module/contract.js';
import { createStatsRegistry } from '../src/stats.js';
import { closeCode, closeLevel } from '../src/engine/closes.js';
import { LimitError, ProtocolError, ConnectionError } from '../src/errors.js';
import { lpEngine, rawClient, sleep, stopAll, until, waitFor } from './helpers.js';
import { encode } from './lp-proto.js';

afterEach(stopAll);

interface Line {
  level: string;
  obj: Record<string, unknown>;
  msg: string | undefined;
}

function captureLogger(lines: Line[], enabled?: (level: string) => boolean): Logger & { isLevelEnabled?: (l: string) => boolean } {
  const at =
    (level: string) =>
    (obj: unknown, msg?: string): void => {
      lines.push({ level, obj: obj as Record<string, unknown>, msg });
    };
  const l: Logger & { isLevelEnabled?: (l: string) => boolean } = {
    trace: at('trace'),
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    fatal: at('fatal'),
    child: () => l,
  };
  if (enabled) l.isLevelEnabled = enabled;
  return l;
}

const BAD = Buffer.from([0xff, 0xff, 0xff, 0xff]); // lp: a length with the top bit set is a protocol error

const count = (e: ReturnType<typeof lpEngine>, reason: string): number => e.closeCounts().find((c) => c.proto === 'lp' && c.reason === reason)?.count ?? 0;

describe('closes are counted and logged with their reason', () => {
  it('a read timeout caught on the next read counts in limit_closes and as read_timeout', async () => {
    const stats = createStatsRegistry();
    // the sweep never runs during the test: only the next read can see the deadline passed
    const server = lpEngine({ stats, sweepInterval: 600_000, defaultProfile: { msgReadTimeout: 0.1 } });
    const l = await server.listen('lp:127.0.0.1:0');
    const sock = await rawClient(l);
    sock.write(encode('partial message').subarray(0, 6));
    await until(() => (stats.get('lp:rcv_bytes')?.value() ?? 0) === 6);
    await sleep(250); // past the 100 ms deadline (longer is only safer)
    const closed = waitFor(server, 'close');
    sock.write(encode('x').subarray(0, 2));
    const ev = await closed;
    expect(ev.reason).toBe('Timeout waiting for a complete message');
    expect(stats.get('lp:limit_closes')!.value()).toBe(1);
    expect(count(server, 'read_timeout')).toBe(1);
    sock.destroy();
  });

  it('counts each reason: eof, eof_partial, protocol_error, max_chunks, lifetime, mi', async () => {
    const lines: Line[] = [];
    const server = lpEngine({ logger: captureLogger(lines) });
    const l = await server.listen('lp:127.0.0.1:0');
    // a second listener whose connections live 0.3 s idle (a profile picked by local port)
    const short = await server.listen('lp:127.0.0.1:0');
    server.setProfileResolver((q) => (q.local.port === short.address.port ? { profile: { ...server.defaultProfile, id: 1, conLifetime: 0.3 }, matched: true } : { profile: server.defaultProfile, matched: false }));

    const closeOf = async (act: (s: Awaited<ReturnType<typeof rawClient>>) => void, on = l): Promise<string> => {
      const s = await rawClient(on);
      s.setNoDelay(true);
      await until(() => server.connections().some((c) => c.remote.port === s.localPort), 3000, 'accept');
      const ev = waitFor(server, 'close', (c) => c.conn.remote.port === s.localPort);
      act(s);
      const got = await ev;
      s.destroy();
      return got.reason;
    };
    expect(await closeOf((s) => s.end())).toBe('EOF received');
    expect(await closeOf((s) => s.end(encode('cut short').subarray(0, 7)))).toBe('EOF received');
    expect(await closeOf((s) => s.write(BAD))).toBe('Protocol error');
    expect(
      await closeOf((s) => {
        // 4 reads without completing a message (lp's maxMsgChunks is 4): one byte per write, each
        // written once the previous one was read
        const big = encode('a message that never completes');
        let i = 0;
        const next = (): void => {
          if (i >= big.length - 1 || s.destroyed) return;
          s.write(big.subarray(i, ++i), () => setTimeout(next, 30));
        };
        next();
      }),
    ).toBe('Too many read chunks');
    expect(await closeOf(() => undefined, short)).toBe('Timeout on no traffic');
    expect(
      await closeOf((s) => {
        const c = server.connections().find((x) => x.remote.port === s.localPort)!;
        server.close(c.id);
      }),
    ).toBe('Closed by MI');

    for (const r of ['eof', 'eof_partial', 'protocol_error', 'max_chunks', 'lifetime', 'mi']) expect(count(server, r), r).toBe(1);

    const byReason = new Map(lines.filter((x) => x.msg?.startsWith('connection closed')).map((x) => [x.obj.reason as string, x]));
    expect(byReason.get('eof')!.level).toBe('debug');
    expect(byReason.get('lifetime')!.level).toBe('debug');
    expect(byReason.get('eof_partial')!.level).toBe('info');
    expect(byReason.get('mi')!.level).toBe('info');
    expect(byReason.get('protocol_error')!).toMatchObject({ level: 'warn', msg: 'connection closed: Protocol error', obj: { proto: 'lp', code: 'ERR_LP_LENGTH' } });
    expect(byReason.get('protocol_error')!.obj.remote).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(byReason.get('max_chunks')!).toMatchObject({ level: 'warn', obj: { code: 'ERR_CONN_MAX_CHUNKS' } });
  });

  it('rate-limits close lines per reason and peer, and says how many it suppressed', async () => {
    const lines: Line[] = [];
    const server = lpEngine({ logger: captureLogger(lines), logLimit: { burst: 3, intervalMs: 60_000 } });
    const l = await server.listen('lp:127.0.0.1:0');
    for (let i = 0; i < 8; i++) {
      const s = await rawClient(l);
      const ev = waitFor(server, 'close');
      s.write(BAD);
      await ev;
      s.destroy();
    }
    expect(count(server, 'protocol_error')).toBe(8);
    expect(lines.filter((x) => x.obj.reason === 'protocol_error')).toHaveLength(3);
    await server.shutdown();
    const sup = lines.find((x) => x.obj.suppressed !== undefined);
    expect(sup).toMatchObject({ level: 'warn', obj: { suppressed: 5 } });
    expect(String(sup!.obj.key)).toContain('protocol_error');
  });

  it('builds no close line at a level that is off', async () => {
    const lines: Line[] = [];
    const server = lpEngine({ logger: captureLogger(lines, (lvl) => lvl !== 'debug') });
    const l = await server.listen('lp:127.0.0.1:0');
    const s = await rawClient(l);
    const ev = waitFor(server, 'close');
    s.end();
    await ev;
    expect(count(server, 'eof')).toBe(1);
    expect(lines.filter((x) => x.msg?.startsWith('connection closed'))).toHaveLength(0);
  });

  it('maps reasons to codes and levels', () => {
    expect(closeCode('Write queue full')).toBe('queue_full');
    expect(closeCode('TLS handshake failed')).toBe('tls_handshake');
    expect(closeCode('bye' as never)).toBe('other');
    expect(closeLevel('tls_handshake')).toBe('warn');
    expect(closeLevel('read_error')).toBe('warn');
    expect(closeLevel('shutdown')).toBe('debug');
  });

  it('errors a peer causes carry no stack trace (cheap to make by the thousand); others keep theirs', () => {
    const deep = (n: number, f: () => Error): Error => (n === 0 ? f() : deep(n - 1, f));
    expect(deep(5, () => new ProtocolError('ERR_X', 'bad')).stack!.split('\n')).toHaveLength(1);
    expect(deep(5, () => new LimitError('ERR_Y', 'too big')).stack!.split('\n')).toHaveLength(1);
    expect(deep(5, () => new ConnectionError('ERR_Z', 'refused')).stack!.split('\n').length).toBeGreaterThan(3);
    expect(Error.stackTraceLimit).toBeGreaterThan(0);
    expect(new ProtocolError('ERR_X', 'bad')).toMatchObject({ name: 'ProtocolError', code: 'ERR_X', message: 'bad' });
  });
});
