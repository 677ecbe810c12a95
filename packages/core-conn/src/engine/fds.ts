// File descriptors: the process's open-files limit, how many are open, and whether one more can
// be opened. Node has no getrlimit/setrlimit; on Linux /proc answers, elsewhere these say
// "unknown" (undefined) and the engine's checks do nothing.
import { closeSync, openSync, readdirSync, readFileSync } from 'node:fs';

/** RLIMIT_NOFILE of this process (Infinity for "unlimited"), or undefined where /proc is absent. */
export function nofileLimit(): { soft: number; hard: number } | undefined {
  let text: string;
  try {
    text = readFileSync('/proc/self/limits', 'utf8');
  } catch {
    return undefined;
  }
  const m = /^Max open files\s+(\S+)\s+(\S+)/m.exec(text);
  if (!m) return undefined;
  const num = (v: string): number => (v === 'unlimited' ? Infinity : Number(v));
  const soft = num(m[1]!);
  const hard = num(m[2]!);
  return Number.isNaN(soft) || Number.isNaN(hard) ? undefined : { soft, hard };
}

/** descriptors this process has open now (the listing's own descriptor excluded), or undefined */
export function openDescriptors(): number | undefined {
  try {
    return readdirSync('/proc/self/fd').length - 1;
  } catch {
    return undefined;
  }
}

/**
 * Whether one more descriptor can be opened: 'ok', or the error code when it cannot (EMFILE:
 * the process's table is full; ENFILE: the system's). Opens and closes /dev/null, about two
 * system calls. Note that libuv holds one descriptor back for its own EMFILE handling, so a
 * failed probe means every other one is taken.
 */
export function probeDescriptor(): 'ok' | 'EMFILE' | 'ENFILE' | 'unknown' {
  let fd: number;
  try {
    fd = openSync('/dev/null', 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'EMFILE' || code === 'ENFILE' ? code : 'unknown';
  }
  closeSync(fd);
  return 'ok';
}

/** an errno code that means "out of file descriptors" */
export function isFdExhaustion(code: unknown): code is 'EMFILE' | 'ENFILE' {
  return code === 'EMFILE' || code === 'ENFILE';
}
