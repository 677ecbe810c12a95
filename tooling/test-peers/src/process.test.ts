import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { childPids, freePort, requireBinary, startProcess, tcpListening, udpListening } from './process.js';
import { parseSippStatCsv } from './sipp.js';

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('process helpers', () => {
  it('requireBinary finds sh and names the Debian package of a missing peer', () => {
    expect(requireBinary('sh')).toMatch(/\/sh$/);
    expect(() => requireBinary('x-no-such-peer-binary')).toThrow(/not found on PATH/);
  });

  it('freePort stays in the range and skips a busy port', async () => {
    const srv = createServer();
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const busy = (srv.address() as { port: number }).port;
    try {
      expect(await freePort([busy, busy + 1])).toBe(busy + 1);
      await expect(freePort([busy, busy])).rejects.toThrow(/no free tcp port/);
      await expect(freePort([10, 5])).rejects.toThrow(RangeError);
    } finally {
      srv.close();
    }
  });

  it('waits for a log line, and stop() SIGKILLs a child that ignores SIGTERM, by PID', async () => {
    const p = await startProcess('bash', ['-c', 'trap "" TERM; sleep 30 & echo up; wait'], { timeoutSec: 20, readyLog: 'up', settleMs: 100 });
    const kids = childPids(p.pid);
    expect(kids.length).toBe(1);
    const t0 = Date.now();
    await p.stop();
    expect(Date.now() - t0).toBeLessThan(8000);
    expect(alive(p.pid)).toBe(false);
    // the bash child was killed with its wrapper; give the kernel a moment to reap it
    await new Promise((r) => setTimeout(r, 200));
    expect(kids.filter((k) => alive(k) && !/\bZ\b/.test(statOf(k)))).toEqual([]);
  }, 15_000);

  it('fails when the process dies before it is ready, or logs a fatal line', async () => {
    await expect(startProcess('sh', ['-c', 'exit 3'], { timeoutSec: 5, readyPort: 1 })).rejects.toThrow(/exited early/);
    await expect(startProcess('sh', ['-c', 'echo "CRITICAL: boom"; sleep 5'], { timeoutSec: 10, readyLog: 'never' })).rejects.toThrow(/fatal/);
  });

  it('readiness by TCP port', async () => {
    const port = await freePort([13900, 13999]);
    const script = `require('net').createServer().listen(${port}, '127.0.0.1')`;
    const p = await startProcess(process.execPath, ['-e', script], { timeoutSec: 10, readyPort: port, settleMs: 50 });
    expect(await tcpListening(port)).toBe(true);
    await p.stop();
    expect(await tcpListening(port)).toBe(false);
  });
});

function statOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return '';
  }
}

describe('parseSippStatCsv', () => {
  it('reads the last row by column name', () => {
    const csv = 'StartTime;OutgoingCall(C);SuccessfulCall(C);FailedCall(C);\n1;0;0;0;\n2;10;9;1;\n';
    expect(parseSippStatCsv(csv)).toEqual({ outgoing: 10, successful: 9, failed: 1 });
    expect(() => parseSippStatCsv('StartTime;\n')).toThrow(/no data row/);
    expect(() => parseSippStatCsv('A;B\n1;2\n')).toThrow(/no column/);
  });
});

describe('udpListening', () => {
  it('sees a bound UDP socket on 127.0.0.1 and not a free port', async () => {
    const { createSocket } = await import('node:dgram');
    const port = await freePort([13900, 13999], 'udp');
    expect(udpListening(port)).toBe(false);
    const s = createSocket('udp4');
    await new Promise<void>((r) => s.bind(port, '127.0.0.1', r));
    try {
      expect(udpListening(port)).toBe(true);
    } finally {
      s.close();
    }
  });
});
