// SO_KEEPALIVE on accepted connections: set once on the listening socket for the default
// profile (Linux clones it into every accepted socket), per connection when the resolved
// profile differs. Checked in /proc/net/tcp: an idle established socket with SO_KEEPALIVE
// has its keepalive timer pending (timer code 2), without it no timer (0).
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { makeProfile } from '../src/profile.js';
import { lpEngine, rawClient, stopAll, until } from './helpers.js';

afterEach(stopAll);

const hex = (n: number): string => n.toString(16).toUpperCase().padStart(4, '0');

/** The timer code of the TCP socket local :lport <-> remote :rport (127.0.0.1), or undefined. */
function timerOf(lport: number, rport: number): string | undefined {
  for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f[1] === `0100007F:${hex(lport)}` && f[2] === `0100007F:${hex(rport)}` && f[3] === '01') return f[5]!.split(':')[0];
  }
  return undefined;
}

async function acceptedTimers(opts: { defaultKeepalive: boolean; resolved?: (port: number) => boolean }): Promise<string[]> {
  const engine = lpEngine({ defaultProfile: { keepalive: opts.defaultKeepalive } });
  const resolved = opts.resolved;
  if (resolved) engine.setProfileResolver((q) => ({ profile: makeProfile({ keepalive: resolved(q.remote.port) }), matched: true }));
  const l = await engine.listen('lp:127.0.0.1:0');
  // one after the other, so the first accepted is clients[0]
  const a = await rawClient(l);
  await until(() => engine.connections().length === 1);
  const b = await rawClient(l);
  await until(() => engine.connections().length === 2);
  const clients = [a, b];
  const out = clients.map((c) => timerOf(l.address.port, c.localPort!) ?? 'missing');
  for (const c of clients) c.destroy();
  return out;
}

describe('keepalive on accepted connections', () => {
  it('default profile on: every accepted socket has SO_KEEPALIVE (set on the listener)', async () => {
    expect(await acceptedTimers({ defaultKeepalive: true })).toEqual(['02', '02']);
  });

  it('default profile off: no accepted socket has it', async () => {
    expect(await acceptedTimers({ defaultKeepalive: false })).toEqual(['00', '00']);
  });

  it('a resolved profile that differs from the listener wins, both ways', async () => {
    let first = 0;
    const pick = (port: number): boolean => {
      first ||= port;
      return port === first;
    };
    // listener on, the first connection's profile on, the second's off
    expect(await acceptedTimers({ defaultKeepalive: true, resolved: pick })).toEqual(['02', '00']);
    first = 0;
    // listener off, the first connection's profile on, the second's off
    expect(await acceptedTimers({ defaultKeepalive: false, resolved: pick })).toEqual(['02', '00']);
  });
});
