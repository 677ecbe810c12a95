import { constants, createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSecureContext, type SecureContext, type SecureVersion } from 'node:tls';
import { ConfigError, ErrorCodes } from '../errors.js';
import type { Address } from '../types.js';
import type { TlsDomainConfig } from './types.js';

/** A TLS domain ready for use: its config plus a built SecureContext. */
export interface TlsDomain {
  readonly config: TlsDomainConfig;
  readonly name: string;
  readonly context: SecureContext;
  readonly verifyCert: boolean;
  readonly requireCert: boolean;
  readonly ca: string | undefined;
  readonly cert: string | undefined;
  readonly key: string | undefined;
  readonly minVersion: SecureVersion | undefined;
  readonly maxVersion: SecureVersion | undefined;
}

function pem(domain: string, field: string, v: string | undefined): string | undefined {
  if (v === undefined) return undefined;
  if (v.includes('-----BEGIN')) return v;
  try {
    return readFileSync(v, 'utf8');
  } catch (err) {
    throw new ConfigError(ErrorCodes.INVALID_OPTION, `tls domain "${domain}": cannot read ${field} file "${v}": ${(err as Error).message}`, { cause: err });
  }
}

const METHODS: Record<string, SecureVersion> = { TLSV1: 'TLSv1', TLSV1_1: 'TLSv1.1', TLSV1_2: 'TLSv1.2', TLSV1_3: 'TLSv1.3' };

function versions(d: TlsDomainConfig): [SecureVersion | undefined, SecureVersion | undefined] {
  const m = d.tlsMethod?.trim().toUpperCase();
  if (m === undefined || m === '' || m === 'SSLV23') return [undefined, undefined];
  const [lo, hi] = m.split('-');
  const a = METHODS[lo ?? ''];
  const b = hi === undefined ? a : METHODS[hi];
  if (!a || !b) throw new ConfigError(ErrorCodes.INVALID_OPTION, `tls domain "${d.name}": unknown tls_method "${d.tlsMethod}" (TLSv1, TLSv1_2, TLSv1_3, SSLv23 or a range TLSv1_2-TLSv1_3)`);
  return [a, b];
}

export function buildDomain(d: TlsDomainConfig): TlsDomain {
  if (!d.name) throw new ConfigError(ErrorCodes.INVALID_OPTION, 'tls domain without a name');
  if (d.side !== 'server' && d.side !== 'client') throw new ConfigError(ErrorCodes.INVALID_OPTION, `tls domain "${d.name}": side must be "server" or "client"`);
  const cert = pem(d.name, 'certificate', d.certificate);
  const key = pem(d.name, 'private_key', d.privateKey);
  const ca = pem(d.name, 'ca_list', d.caList);
  if (d.side === 'server' && (!cert || !key)) throw new ConfigError(ErrorCodes.INVALID_OPTION, `tls server domain "${d.name}" needs a certificate and a private_key`);
  const [minVersion, maxVersion] = versions(d);
  let context: SecureContext;
  try {
    // A TLS 1.3 session ticket holds a copy of the session, the client's certificate chain
    // included, for the connection's whole life (~16 KB per idle connection whose client
    // presents a certificate): a domain that asks for certificates sends none unless told to.
    const tickets = d.sessionTickets ?? !(d.side === 'server' && ((d.requireCert ?? true) || (d.verifyCert ?? true)));
    // A server resuming a session of a client it asked a certificate from needs a session id
    // context (OpenSSL refuses the resumption otherwise): the domain's name.
    context = createSecureContext({
      cert, key, ca, minVersion, maxVersion, ciphers: d.ciphersList,
      ...(tickets ? {} : { secureOptions: constants.SSL_OP_NO_TICKET }),
      ...(d.side === 'server' ? { sessionIdContext: createHash('sha1').update(`x-tls-domain:${d.name}`).digest('hex').slice(0, 32) } : {}),
    });
  } catch (err) {
    throw new ConfigError(ErrorCodes.INVALID_OPTION, `tls domain "${d.name}": ${(err as Error).message}`, { cause: err });
  }
  return {
    config: d,
    name: d.name,
    context,
    verifyCert: d.verifyCert ?? true,
    requireCert: d.side === 'server' ? (d.requireCert ?? true) : false,
    ca,
    cert,
    key,
    minVersion,
    maxVersion,
  };
}

function globMatch(glob: string, name: string): boolean {
  const re = new RegExp('^' + glob.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*') + '$', 'i');
  return re.test(name);
}

/** 2 = a specific entry matched, 1 = only the '*' fallback, 0 = no match. */
function addrScore(d: TlsDomainConfig, addr: Address | undefined): number {
  const list = d.matchIpAddress ?? ['*'];
  let best = 0;
  for (const e of list) {
    if (e === '*') best = Math.max(best, 1);
    else if (addr) {
      const s = e.trim().toLowerCase().replace(/^\[(.*)\]/, '$1');
      const i = s.lastIndexOf(':');
      const host = s.slice(0, i);
      const port = Number(s.slice(i + 1));
      if (host === addr.host.toLowerCase() && port === addr.port) return 2;
    }
  }
  return best;
}

function nameScore(d: TlsDomainConfig, name: string | undefined): number {
  const list = d.matchSipDomain ?? ['*'];
  let best = 0;
  for (const e of list) {
    if (e === '*') best = Math.max(best, 1);
    else if (e.toLowerCase() === 'none') {
      if (name === undefined) best = Math.max(best, 1);
    } else if (name !== undefined && globMatch(e, name)) return 2;
  }
  return best;
}

/** The tls_mgm selection: address first, then domain name; '*' entries only as fallbacks. */
export class TlsDomains {
  private readonly server: TlsDomain[] = [];
  private readonly client: TlsDomain[] = [];
  private readonly byName = new Map<string, TlsDomain>();

  constructor(configs: TlsDomainConfig[] = []) {
    for (const c of configs) {
      const d = buildDomain(c);
      const key = `${c.side}:${c.name}`;
      if (this.byName.has(key)) throw new ConfigError(ErrorCodes.INVALID_OPTION, `tls ${c.side} domain "${c.name}" defined twice`);
      this.byName.set(key, d);
      (c.side === 'server' ? this.server : this.client).push(d);
    }
  }

  get size(): number {
    return this.byName.size;
  }

  private pick(list: TlsDomain[], addr: Address | undefined, name: string | undefined): TlsDomain | undefined {
    let best: TlsDomain | undefined;
    let bestScore = 0;
    for (const d of list) {
      const a = addrScore(d.config, addr);
      const n = nameScore(d.config, name);
      if (a === 0 || n === 0) continue;
      const score = a * 4 + n;
      if (score > bestScore) {
        best = d;
        bestScore = score;
      }
    }
    return best;
  }

  hasServer(): boolean {
    return this.server.length > 0;
  }

  /** Whether any server domain asks clients for a certificate (the request is fixed before SNI is known). */
  anyServerWantsCert(): boolean {
    return this.server.some((d) => d.requireCert || d.verifyCert);
  }

  /** The context used before SNI arrives: the best address match, even one naming only specific domains. */
  serverDefault(listener: Address): TlsDomain | undefined {
    return this.pick(this.server, listener, undefined) ?? this.server.find((d) => addrScore(d.config, listener) > 0);
  }

  /** Server side: by the receiving listener's ip:port, then the SNI name. */
  serverDomain(listener: Address, servername?: string): TlsDomain | undefined {
    return this.pick(this.server, listener, servername);
  }

  /** Client side: an explicit domain name wins, else destination ip:port, else the server name. */
  clientDomain(dest: Address, domainName?: string, servername?: string): TlsDomain | undefined {
    if (domainName !== undefined) return this.byName.get(`client:${domainName}`);
    return this.pick(this.client, dest, servername);
  }
}
