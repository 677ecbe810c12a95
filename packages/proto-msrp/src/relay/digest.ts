import { createHash, randomBytes } from 'node:crypto';
import { parseDigest } from './relay.js';

const md5 = (s: string): string => createHash('md5').update(s, 'latin1').digest('hex');

/**
 * A client's Authorization value answering a relay's `WWW-Authenticate: Digest ...`
 * challenge for an AUTH (RFC 4976): qop "auth", `uri` = the rightmost To-Path URL.
 */
export function digestAuthorization(challenge: string, o: { username: string; password: string; uri: string; cnonce?: string; nc?: number }): string {
  const c = parseDigest(challenge);
  if (!c || !c.nonce || c.realm === undefined) throw new TypeError('not a Digest challenge');
  const nc = (o.nc ?? 1).toString(16).padStart(8, '0');
  const cnonce = o.cnonce ?? randomBytes(8).toString('hex');
  const ha1 = md5(`${o.username}:${c.realm}:${o.password}`);
  const ha2 = md5(`AUTH:${o.uri}`);
  const response = md5(`${ha1}:${c.nonce}:${nc}:${cnonce}:auth:${ha2}`);
  return (
    `Digest username="${o.username}", realm="${c.realm}", nonce="${c.nonce}", uri="${o.uri}", response="${response}", ` +
    `qop=auth, nc=${nc}, cnonce="${cnonce}"${c.opaque !== undefined ? `, opaque="${c.opaque}"` : ''}${c.algorithm !== undefined ? `, algorithm=${c.algorithm}` : ''}`
  );
}
