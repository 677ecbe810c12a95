import type { Server, Socket } from 'node:net';
import { keepaliveOn } from '../profile.js';
import type { ConnectionProfile } from '../types.js';

/** A profile's keepalive as one number: -1 off, else on with this idle time (whole seconds, as Node passes it). */
export function keepaliveState(p: ConnectionProfile): number {
  return keepaliveOn(p) ? ~~((p.keepidle * 1000) / 1000) : -1;
}

/**
 * Linux clones an accepted socket from its listening socket, options included: SO_KEEPALIVE
 * and its idle time set once on the listener (for the default profile) hold for every
 * connection it accepts, with no setsockopt per accept. Returns what was set (the value to
 * pass to `applyOptions` as `inherited`), or undefined when nothing was.
 */
export function keepaliveOnListener(server: Server, defaultProfile: ConnectionProfile): number | undefined {
  if (process.platform !== 'linux') return undefined;
  const handle = (server as unknown as { _handle?: { setKeepAlive?: (on: boolean, delaySec: number) => number } })._handle;
  if (!handle || typeof handle.setKeepAlive !== 'function') return undefined;
  const want = keepaliveState(defaultProfile);
  // The same call Socket#setKeepAlive(true, keepidle * 1000) makes on a connection's handle,
  // with the same outcome (with keepidle 0 libuv sets SO_KEEPALIVE, then refuses an idle of
  // 0 s and the OS default idle time stays; Node ignores that result, so do we).
  if (want >= 0) handle.setKeepAlive(true, want);
  return want;
}

/** TCP_NODELAY and the profile's keepalive; `inherited` is what the listener set (keepaliveOnListener). */
export function applyOptions(socket: Socket, profile: ConnectionProfile, inherited: number | undefined): void {
  socket.setNoDelay(true);
  const want = keepaliveState(profile);
  if (inherited === want) return; // the listener's settings, cloned into the accepted socket
  // Node sets only SO_KEEPALIVE and the idle delay; TCP_KEEPCNT / TCP_KEEPINTVL are left to libuv/OS.
  if (want >= 0) socket.setKeepAlive(true, profile.keepidle * 1000);
  else if (inherited !== undefined) {
    // inherited on, wanted off: Node believes a new socket is off and would skip the call
    socket.setKeepAlive(true);
    socket.setKeepAlive(false);
  } else socket.setKeepAlive(false);
}
