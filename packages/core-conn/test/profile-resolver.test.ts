import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_PROFILE, keepaliveOn, makeProfile } from '../src/profile.js';
import type { ProfileQuery } from '../src/types.js';
import { lpEngine, rawClient, stopAll, until } from './helpers.js';
import { encode } from './lp-proto.js';

afterEach(stopAll);

describe('profiles', () => {
  it('DEFAULT_PROFILE carries the OpenSIPS defaults', () => {
    expect(DEFAULT_PROFILE).toMatchObject({ id: 0, connectTimeout: 100, conLifetime: 120, msgReadTimeout: 4, sendThreshold: 0, noNewConn: false, aliasMode: 0, parallelRead: 0, keepalive: true, keepcount: 0, keepidle: 0, keepinterval: 0 });
    expect(Object.isFrozen(DEFAULT_PROFILE)).toBe(true);
  });

  it('makeProfile validates ranges with readable messages', () => {
    expect(makeProfile({ conLifetime: 5 }).conLifetime).toBe(5);
    expect(() => makeProfile({ connectTimeout: 0 })).toThrow(/connectTimeout/);
    expect(() => makeProfile({ keepcount: -1 })).toThrow(/keepcount.*integer/);
    expect(() => makeProfile({ attrs: { maxMsgChunks: 1.5 } })).toThrow(/maxMsgChunks/);
    expect(() => makeProfile({ noNewConn: 1 as unknown as boolean })).toThrow(/noNewConn/);
    try {
      makeProfile({ aliasMode: 3 as 0 });
    } catch (e) {
      expect(e).toMatchObject({ code: 'ERR_INVALID_OPTION', name: 'ConfigError' });
    }
  });

  it('keepalive is forced on by any non-zero keep* knob', () => {
    expect(keepaliveOn(makeProfile({ keepalive: false }))).toBe(false);
    expect(keepaliveOn(makeProfile({ keepalive: false, keepidle: 30 }))).toBe(true);
    expect(keepaliveOn(makeProfile({ keepalive: false, keepcount: 3 }))).toBe(true);
  });

  it('asks the resolver at accept (peer, listener address, tag) and at send; connections snapshot it', async () => {
    const server = lpEngine();
    const queries: ProfileQuery[] = [];
    let gen = 1;
    server.setProfileResolver((q) => {
      queries.push(q);
      return { profile: makeProfile({ id: gen, conLifetime: 50 + gen }), matched: true };
    });
    const l = await server.listen('lp:127.0.0.1:0 tag edge');
    const s1 = await rawClient(l);
    await until(() => server.connections().length === 1);
    expect(queries[0]).toEqual({ proto: 'lp', remote: { host: '127.0.0.1', port: s1.localPort }, local: l.address, localTag: 'edge' });
    gen = 2; // a "reload": only new connections see it
    const s2 = await rawClient(l);
    await until(() => server.connections().length === 2);
    const ids = server.connections().map((c) => c.profile.id).sort();
    expect(ids).toEqual([1, 2]);
    // outbound: asked with the destination and the sending listener
    const other = lpEngine();
    const lo = await other.listen('lp:127.0.0.1:0');
    const c = await server.send('lp', lo.address, encode('x'));
    expect(queries.at(-1)).toMatchObject({ proto: 'lp', remote: lo.address, local: l.address });
    expect(c!.profile.conLifetime).toBe(52);
    server.setProfileResolver(null);
    const s3 = await rawClient(l);
    await until(() => server.connections().filter((x) => x.accepted).length === 3);
    expect(server.connections().find((x) => x.remote.port === s3.localPort)!.profile.id).toBe(0);
    for (const s of [s1, s2, s3]) s.destroy();
  });

  it('falls back to the default profile when the resolver throws', async () => {
    const server = lpEngine({ defaultProfile: { conLifetime: 77 } });
    server.setProfileResolver(() => {
      throw new Error('boom');
    });
    const l = await server.listen('lp:127.0.0.1:0');
    const s = await rawClient(l);
    await until(() => server.connections().length === 1);
    expect(server.connections()[0]!.profile.conLifetime).toBe(77);
    expect(server.defaultProfile.conLifetime).toBe(77);
    s.destroy();
  });
});
