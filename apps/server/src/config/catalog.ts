import { validateParams, type Module, type ParamSchema } from '@x/core-conn';
import { CfgError, CfgErrorCodes } from '../errors.js';

/**
 * THE table of modules: OpenSIPS module name -> the @x package that exports its descriptor
 * (found by its `name`). Adding a module to x-server is one line here plus the package in
 * apps/server's dependencies; everything else (params, config checks, protocols, route
 * exports, tracing, listeners, MI commands) comes from the module's descriptor, the `Module`
 * contract of @x/core-conn. See the README's "How to add a module".
 */
export const MODULE_PACKAGES: Readonly<Record<string, string>> = {
  proto_tcp: '@x/proto-tcp',
  proto_tls: '@x/proto-tcp',
  proto_hep: '@x/proto-hep',
  proto_bin: '@x/proto-bins',
  proto_bins: '@x/proto-bins',
  clusterer: '@x/proto-bins',
  proto_msrp: '@x/proto-msrp',
  msrp_relay: '@x/proto-msrp',
  tcp_mgm: '@x/tcp-mgm',
  tracing: '@x/tracing',
};

/** OpenSIPS modules the server implements itself (their params are still validated by schema). */
export const BUILTIN_SCHEMAS: Readonly<Record<string, ParamSchema>> = {
  httpd: {
    ip: { type: 'string', default: '127.0.0.1', doc: 'address the HTTP server (MI, /metrics, /health) binds to' },
    port: { type: 'int', default: 8888, min: 0, max: 65535, doc: 'HTTP port (0 = ephemeral)' },
    conn_timeout: { type: 'int', default: 10, min: 1, max: 3600, doc: 'seconds a request (headers and body) may take to arrive; slower ones get 408 and are closed' },
    max_connections: { type: 'int', default: 64, min: 1, max: 65535, doc: 'open HTTP connections at most; more are closed at accept' },
  },
  mi_http: {
    root: { type: 'string', default: 'mi', doc: 'path of the JSON-RPC endpoint (http://ip:port/<root>)' },
    auth_token: { type: 'string', default: '', doc: 'when set, MI requests need "Authorization: Bearer <token>" (x-cli --token / $X_MI_TOKEN); empty = no auth' },
  },
  tls_mgm: {
    server_domain: { type: 'string', multi: true, doc: 'defines a server TLS domain' },
    client_domain: { type: 'string', multi: true, doc: 'defines a client TLS domain' },
    certificate: { type: 'string', multi: true, doc: '"[dom]path" of the certificate (PEM)' },
    private_key: { type: 'string', multi: true, doc: '"[dom]path" of the private key (PEM)' },
    ca_list: { type: 'string', multi: true, doc: '"[dom]path" of the CA list (PEM)' },
    verify_cert: { type: 'string', multi: true, doc: '"[dom]0|1" verify the peer certificate' },
    require_cert: { type: 'string', multi: true, doc: '"[dom]0|1" require a client certificate (server domains)' },
    match_ip_address: { type: 'string', multi: true, doc: '"[dom]ip:port,..." or "[dom]*"' },
    match_sip_domain: { type: 'string', multi: true, doc: '"[dom]fqdn-glob,..." , "*" or "none"' },
    tls_method: { type: 'string', multi: true, doc: '"[dom]TLSv1_2", "TLSv1_3", "TLSv1_2-TLSv1_3", "SSLv23"' },
    ciphers_list: { type: 'string', multi: true, doc: '"[dom]cipher list"' },
  },
  // accepted so a stock opensips.cfg loads: node:tls is the TLS library
  tls_openssl: {},
  // a stock OpenSIPS msrp cfg loads these for msrp_relay; they are accepted with an info note
  signaling: {},
  sl: {},
  auth: {},
  // accepted so a stock opensips.cfg loads: a module's db_url scheme picks the driver
  // (sqlite: libsql, postgres: pg, mysql: mysql2), imported by the module that needs it
  db_sqlite: {},
  db_postgres: {},
  db_mysql: {},
};

/** Built-ins that do nothing here, with the note logged at their loadmodule. */
export const BUILTIN_NOTES: Readonly<Record<string, string>> = {
  signaling: 'accepted: msrp_relay sends its replies through proto_msrp',
  sl: 'accepted: msrp_relay sends its replies through proto_msrp',
  auth: 'accepted: msrp_relay does its own Digest checks',
};

export const BUILTIN_DEPENDS: Readonly<Record<string, string[]>> = { mi_http: ['httpd'] };

/** A module as the loader holds it: an @x module descriptor or a built-in. */
export type LoadedModule =
  | { kind: 'package'; name: string; module: Module; packageName: string }
  | { kind: 'builtin'; name: string; params: ParamSchema };

/** The parameter schema of a loaded module, package or built-in. */
export function paramsOf(m: LoadedModule): ParamSchema {
  return m.kind === 'builtin' ? m.params : m.module.params;
}

function isModule(v: unknown): v is Module {
  if (typeof v !== 'object' || v === null) return false;
  const m = v as Partial<Module>;
  return typeof m.name === 'string' && typeof m.init === 'function' && typeof m.params === 'object';
}

/** `"proto_tcp.so"`, `"/usr/lib/opensips/modules/proto_tcp.so"` -> `proto_tcp` */
export function moduleNameOf(path: string): string {
  const base = path.replace(/\\/g, '/').split('/').pop() ?? path;
  return base.replace(/\.so$/i, '');
}

export type PackageImporter = (pkg: string) => Promise<Record<string, unknown>>;

const defaultImporter: PackageImporter = (pkg) => import(pkg) as Promise<Record<string, unknown>>;

/**
/** Whether a module's package is installed here (a module x-server can load now). */
export function moduleAvailable(name: string): boolean {
  if (Object.hasOwn(BUILTIN_SCHEMAS, name)) return true;
  const pkg = MODULE_PACKAGES[name];
  if (pkg === undefined) return false;
  try {
    import.meta.resolve(pkg);
    return true;
  } catch {
    return false;
  }
}

/** The modules x-server can load here: built-ins and the packages that are installed. */
export function availableModules(): string[] {
  return [...Object.keys(MODULE_PACKAGES), ...Object.keys(BUILTIN_SCHEMAS)].filter(moduleAvailable).sort();
}

/**
 * Finds the module descriptor for an OpenSIPS module name. Throws a CfgError with the reason
 * and no location (the caller adds file:line:col).
 */
export async function resolveModule(name: string, importer: PackageImporter = defaultImporter): Promise<LoadedModule> {
  const builtin = BUILTIN_SCHEMAS[name];
  if (builtin) return { kind: 'builtin', name, params: builtin };
  const pkg = MODULE_PACKAGES[name];
  if (!pkg) {
    // only what can be loaded here: a module whose package is not installed is no advice
    throw new CfgError(CfgErrorCodes.UNKNOWN_MODULE, undefined, `unknown module "${name}" (modules x-server can load: ${availableModules().join(', ')})`);
  }
  let ns: Record<string, unknown>;
  try {
    ns = await importer(pkg);
  } catch (err) {
    throw new CfgError(CfgErrorCodes.UNKNOWN_MODULE, undefined, `module "${name}" needs package ${pkg}, which cannot be loaded: ${(err as Error).message.split('\n')[0] ?? ''}`);
  }
  const found = Object.values(ns).find((v) => isModule(v) && v.name === name);
  if (!found) throw new CfgError(CfgErrorCodes.UNKNOWN_MODULE, undefined, `package ${pkg} does not export a module named "${name}"`);
  return { kind: 'package', name, module: found as Module, packageName: pkg };
}

/**
 * The module of the table that serves protocol `proto`, for the "load ..." hint of a socket no
 * loaded module serves: each module whose package is installed is asked for its protocols with
 * its default params. Undefined when none serves it.
 */
export async function moduleServing(proto: string, importer: PackageImporter = defaultImporter): Promise<string | undefined> {
  for (const name of Object.keys(MODULE_PACKAGES)) {
    try {
      const lm = await resolveModule(name, importer);
      if (lm.kind !== 'package' || !lm.module.protocols) continue;
      const specs = lm.module.protocols(validateParams(name, lm.module.params, new Map()));
      if (specs.some((sp) => sp.name === proto)) return name;
    } catch {
      // not installed, or no defaults to build its protocols from: no hint from it
    }
  }
  return undefined;
}

/**
 * The module of the table that declares `modparam(module, param)` as another spelling of one of
 * its parameters (`Module.paramSpellings`), with where that spelling comes from; undefined when
 * none does. Loaded modules are asked first (`loaded`), then every installed module of the table.
 */
export async function moduleSpelling(
  module: string,
  param: string,
  loaded: readonly LoadedModule[],
  importer: PackageImporter = defaultImporter,
): Promise<{ name: string; source: string } | undefined> {
  const m = module.toLowerCase();
  const match = (lm: LoadedModule): { name: string; source: string } | undefined => {
    if (lm.kind !== 'package') return undefined;
    const sp = lm.module.paramSpellings?.find((x) => x.module.toLowerCase() === m && param.startsWith(x.prefix));
    return sp ? { name: lm.name, source: sp.source } : undefined;
  };
  for (const lm of loaded) {
    const hit = match(lm);
    if (hit) return hit;
  }
  for (const name of Object.keys(MODULE_PACKAGES)) {
    if (loaded.some((l) => l.name === name)) continue;
    try {
      const hit = match(await resolveModule(name, importer));
      if (hit) return hit;
    } catch {
      // not installed here: it cannot claim the spelling
    }
  }
  return undefined;
}
