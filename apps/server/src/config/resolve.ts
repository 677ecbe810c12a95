import { dirname, isAbsolute, resolve } from 'node:path';
import {
  ConfigError,
  formatAddress,
  parseSocketSpec,
  SOCKET_OPTIONS,
  SocketSpecError,
  validateParams,
  type ConfigView,
  type LoadedModuleView,
  type ParamSchema,
  type ProtocolSpec,
  type RawParam,
  type RouteBinding,
  type SocketSpec,
  type TlsDomainConfig,
} from '@x/core-conn';
import { CfgError, CfgErrorCodes, formatWhere, type Where } from '../errors.js';
import { BUILTIN_DEPENDS, BUILTIN_NOTES, moduleNameOf, moduleServing, moduleSpelling, paramsOf, resolveModule, type LoadedModule, type PackageImporter } from './catalog.js';
import { globalSchema, IGNORED_GLOBALS, type Globals } from './globals.js';
import type { CfgValue, ParsedCfg } from './parser.js';

export interface ModuleEntry {
  loaded: LoadedModule;
  /** validated params (defaults filled) */
  params: Record<string, unknown>;
  where: Where;
  /** the route-script exports the module declared it runs (`Module.routes`) */
  routes: RouteBinding[];
  /** the module as other modules see it (`ConfigView.modules`, `ModuleContext.loaded`) */
  view: LoadedModuleView;
  /** loaded because another module `uses` it, not by a loadmodule (tracing) */
  implicit: boolean;
}

export interface SocketEntry {
  spec: SocketSpec;
  text: string;
  where: Where;
  /** the module whose protocol serves it */
  module: string;
}

/** `socket = bond:NAME { ... }`: a named group of declared sockets. */
export interface BondEntry {
  name: string;
  members: SocketSpec[];
  where: Where;
}

/**
 * Why each OpenSIPS 4.0 socket option has no effect here (keyed by cfg keyword). Checked on
 * Node 20.20: `net.Server.listen({ reusePort })` is ignored (a second listener on the port
 * gets EADDRINUSE; the option exists from Node 22.12 / 23.1), dgram has `reuseAddr` only,
 * and neither net nor dgram sockets can set IP_TOS.
 */
export const SOCKET_OPTION_NO_EFFECT: Readonly<Record<string, string>> = {
  use_workers: 'one Node.js process serves every socket from its event loop; there are no UDP worker processes',
  use_auto_scaling_profile: 'one Node.js process serves every socket; there are no worker processes to auto-scale',
  anycast: 'there is no clustered transaction layer to make use of an anycast socket',
  frag: 'Node.js cannot change the DF bit / path-MTU discovery (IP_MTU_DISCOVER) of a UDP socket',
  reuse_port: "Node.js 20 cannot set SO_REUSEPORT (net.Server.listen's reusePort exists from Node 22.12 / 23.1, dgram has reuseAddr only); the socket is bound without it",
  tos: 'Node.js has no API to set IP_TOS on net or dgram sockets; packets keep the system default TOS',
  accept_subdomain: 'x-server has no "myself" (is-local domain) check: routing is the JavaScript route script',
  proxy_protocol: 'no PROXY protocol header is parsed: a connection that starts with one fails framing',
  allow_proxy_protocol: 'no PROXY protocol header is parsed: a connection that starts with one fails framing',
  send_proxy_protocol: 'no PROXY protocol header is sent on outgoing connections',
};

/** A configuration that passed every check: what the runtime needs to start. */
export interface ResolvedConfig {
  file: string;
  globals: Globals;
  /** things accepted but not acted upon, for an info log line each */
  notes: string[];
  /**
   * cfg settings accepted that have no effect here (each socket option, each bond), for a
   * warning each at start-up and from `x-server -c`: "file:line:col: ... accepted, has no
   * effect in x-server: why"
   */
  warnings: string[];
  /** in loadmodule order */
  modules: ModuleEntry[];
  protocols: Map<string, { module: string; spec: ProtocolSpec<unknown> }>;
  sockets: SocketEntry[];
  bonds: BondEntry[];
  /** set when httpd is loaded; `where`: its last port modparam (else its last ip modparam, else its loadmodule), for listen errors */
  httpd?: { ip: string; port: number; where: Where };
  /** set when mi_http is loaded */
  mi?: { root: string };
  tlsDomains: TlsDomainConfig[];
  /** absolute path of route_script, and where it was set */
  routeScript?: string;
  routeScriptWhere?: Where;
  /** routes the modules require (`RouteBinding`s `required` or named by a modparam), checked against the route script's exports */
  routeRefs: Array<{ module: string; param: string | undefined; route: string; where: Where }>;
}

export interface ResolveOptions {
  importer?: PackageImporter;
}

function raw(v: CfgValue, where: Where): RawParam {
  return { value: v.value, where: formatWhere(where) };
}

/** strips core-conn's "(at file:line:col)" suffix: our messages lead with the location */
function bare(msg: string): string {
  return msg.replace(/ \(at [^)]*\)/, '');
}

/**
 * Parses a socket spec written at `where` (`quoted`: `where` is its opening quote), so a bad
 * word is reported at its own column.
 */
function parseSocketAt(text: string, where: Where, quoted: boolean, defaultPortOf: (proto: string) => number | null): SocketSpec {
  try {
    return parseSocketSpec(text, defaultPortOf);
  } catch (err) {
    const offset = err instanceof SocketSpecError ? err.offset : 0;
    throw new CfgError(CfgErrorCodes.BAD_SOCKET, { ...where, col: where.col + (quoted ? 1 : 0) + offset }, (err as Error).message, { cause: err });
  }
}

/**
 * A socket that cannot be bound next to one declared before (same address and port in the same
 * port space: UDP, or TCP for tcp/tls-based protocols; a wildcard host covers every address)
 * fails at start-up with EADDRINUSE: x-server -c reports it at its line.
 */
function checkDuplicate(before: SocketEntry[], spec: SocketSpec, transport: string, protocols: ResolvedConfig['protocols'], where: Where): void {
  if (spec.port === 0 || spec.port === null) return;
  const space = (t: string): string => (t === 'udp' ? 'udp' : 'tcp');
  const wild = (h: string): boolean => h === '*' || h === '0.0.0.0' || h === '::';
  for (const b of before) {
    const bt = protocols.get(b.spec.proto)?.spec.transport ?? 'tcp';
    if (b.spec.port !== spec.port || space(bt) !== space(transport)) continue;
    if (b.spec.host !== spec.host && !wild(b.spec.host) && !wild(spec.host)) continue;
    const same = b.spec.proto === spec.proto && b.spec.host === spec.host;
    const what = `${spec.proto}:${formatAddress({ host: spec.host, port: spec.port })}`;
    throw new CfgError(
      CfgErrorCodes.BAD_SOCKET,
      where,
      same
        ? `duplicate socket ${what}: already declared at ${formatWhere(b.where)}`
        : `socket ${what} conflicts with ${b.spec.proto}:${formatAddress({ host: b.spec.host, port: b.spec.port })} declared at ${formatWhere(b.where)}: both need ${space(transport).toUpperCase()} port ${spec.port}${wild(b.spec.host) || wild(spec.host) ? ' (a wildcard address covers every address)' : ''}`,
    );
  }
}

/** offset of `word` as a whole blank-separated word of `text` (case-insensitive), -1 if absent */
function wordAt(text: string, word: string): number {
  const m = new RegExp(`(^|\\s)${word}(?=\\s|$)`, 'i').exec(text);
  return m ? m.index + m[1]!.length : -1;
}

/** validates one setting alone, so a bad value is reported at its own position (the callers checked that `name` is in `schema`) */
function checkOne(owner: string, schema: ParamSchema, name: string, v: CfgValue, where: Where): void {
  try {
    validateParams(owner, { [name]: schema[name]! }, new Map([[name, [raw(v, where)]]]));
  } catch (err) {
    if (err instanceof ConfigError) throw new CfgError(CfgErrorCodes.BAD_VALUE, where, bare(err.message), { cause: err });
    throw err;
  }
}

function compileModuleRegex(re: string, where: Where): RegExp {
  try {
    // OpenSIPS: POSIX extended, case-insensitive, and the match must cover the whole name
    return new RegExp(`^(?:${re})$`, 'i');
  } catch (err) {
    throw new CfgError(CfgErrorCodes.SYNTAX, where, `bad module regular expression ${JSON.stringify(re)}: ${(err as Error).message}`);
  }
}


/** OpenSIPS's whole-name, case-insensitive regex match of modparam's first argument. */
export function moduleMatches(re: string, moduleName: string): boolean {
  return compileModuleRegex(re, { file: '', line: 0, col: 0 }).test(moduleName);
}

function tlsDomains(settings: Map<string, Array<RawParam & { at: Where }>>): TlsDomainConfig[] {
  const domains = new Map<string, TlsDomainConfig>();
  for (const side of ['server', 'client'] as const) {
    for (const s of settings.get(`${side}_domain`) ?? []) {
      const name = String(s.value);
      if (!/^[\w.-]+$/.test(name)) throw new CfgError(CfgErrorCodes.BAD_VALUE, s.at, `tls_mgm: bad domain name ${JSON.stringify(name)}`);
      if (domains.has(name)) throw new CfgError(CfgErrorCodes.BAD_VALUE, s.at, `tls_mgm: domain "${name}" defined twice`);
      domains.set(name, { name, side });
    }
  }
  const bool = (v: string, at: Where, p: string): boolean => {
    if (v !== '0' && v !== '1') throw new CfgError(CfgErrorCodes.BAD_VALUE, at, `tls_mgm: parameter "${p}" expects "[domain]0" or "[domain]1", got ${JSON.stringify(v)}`);
    return v === '1';
  };
  for (const [param, list] of settings) {
    if (param.endsWith('_domain')) continue;
    for (const s of list) {
      const m = /^\[([^\]]+)\](.*)$/s.exec(String(s.value));
      if (!m) throw new CfgError(CfgErrorCodes.BAD_VALUE, s.at, `tls_mgm: parameter "${param}" expects "[domain]value", got ${JSON.stringify(s.value)}`);
      const dom = domains.get(m[1]!);
      if (!dom) throw new CfgError(CfgErrorCodes.BAD_VALUE, s.at, `tls_mgm: domain "${m[1]!}" is not defined (define it first with modparam("tls_mgm", "server_domain"|"client_domain", "${m[1]!}"))`);
      const v = m[2]!.trim();
      const list2 = (): string[] => v.split(',').map((x) => x.trim()).filter((x) => x !== '');
      const file = (): string => (isAbsolute(v) ? v : resolve(dirname(s.at.file), v));
      switch (param) {
        case 'certificate': dom.certificate = file(); break;
        case 'private_key': dom.privateKey = file(); break;
        case 'ca_list': dom.caList = file(); break;
        case 'verify_cert': dom.verifyCert = bool(v, s.at, param); break;
        case 'require_cert': dom.requireCert = bool(v, s.at, param); break;
        case 'match_ip_address': dom.matchIpAddress = list2(); break;
        case 'match_sip_domain': dom.matchSipDomain = list2(); break;
        case 'tls_method': dom.tlsMethod = v; break;
        case 'ciphers_list': dom.ciphersList = v; break;
      }
    }
  }
  return [...domains.values()];
}

type LoadedEntry = { loaded: LoadedModule; where: Where; raw: Map<string, Array<RawParam & { at: Where }>>; implicit?: boolean };

/** Where the setting a module's ConfigError names sits (`param`, `index`: its nth setting, default the last). */
function settingWhere(l: LoadedEntry, err: unknown): Where | undefined {
  const e = err as { param?: unknown; index?: unknown } | null;
  if (typeof e !== 'object' || e === null || typeof e.param !== 'string') return undefined;
  const list = l.raw.get(e.param);
  if (!list?.length) return undefined;
  return (typeof e.index === 'number' ? list[e.index] : list.at(-1))?.at;
}

/**
 * A module's hook refused the configuration: "module: its message", at the setting its
 * ConfigError names (`module`, `param`, `index`), else at the loadmodule; its error is the cause.
 */
function moduleRefused(loaded: readonly LoadedEntry[], l: LoadedEntry, err: unknown): CfgError {
  const other = (err as { module?: unknown } | null)?.module;
  const owner = (typeof other === 'string' ? loaded.find((x) => x.loaded.name === other) : undefined) ?? l;
  return new CfgError(CfgErrorCodes.MODULE_REFUSED, settingWhere(owner, err) ?? owner.where, `${owner.loaded.name}: ${bare(err instanceof Error ? err.message : String(err))}`, { cause: err });
}

/**
 * Checks a parsed cfg against the modules it loads and builds the runtime plan. Every error
 * is a CfgError whose message starts with file:line:col; all of a cfg's errors are reported at
 * once (`CfgError.all`): each statement, module, socket and bond is checked on its own, and what
 * depends on a part already in error (the modparams of a module that failed to load, a module
 * whose parameters are wrong) is left out rather than reported again.
 */
export async function resolveConfig(parsed: ParsedCfg, opts: ResolveOptions = {}): Promise<ResolvedConfig> {
  const errors: CfgError[] = [];
  /** records a CfgError and goes on; anything else is a bug and propagates */
  const keep = (err: unknown): void => {
    if (!(err instanceof CfgError)) throw err;
    errors.push(...err.errors);
  };
  /** modules whose loadmodule failed: their modparams are not reported as matching nothing */
  const failedModules = new Set<string>();
  const file = parsed.files[0]!;
  const notes: string[] = [];
  const globalsRaw = new Map<string, RawParam[]>();
  const loaded: LoadedEntry[] = [];
  const warnings: string[] = [];
  const socketStmts: Array<{ text: string; where: Where; valueWhere: Where; quoted: boolean }> = [];
  const bondStmts: Array<Extract<ParsedCfg['statements'][number], { type: 'bond' }>> = [];
  const routeRefs: ResolvedConfig['routeRefs'] = [];
  let routeScriptWhere: Where | undefined;

  for (const st of parsed.statements) {
    try {
      await statement(st);
    } catch (err) {
      keep(err);
    }
  }

  async function statement(st: ParsedCfg['statements'][number]): Promise<void> {
    switch (st.type) {
      case 'global': {
        // tcpthreshold is OpenSIPS's old name of tcp_threshold: stored under the new one
        const name = st.name === 'tcpthreshold' ? 'tcp_threshold' : st.name;
        if (!Object.hasOwn(globalSchema, name)) {
          throw new CfgError(CfgErrorCodes.UNKNOWN_GLOBAL, st.where, `unknown global parameter "${st.name}" (known: ${Object.keys(globalSchema).join(', ')})`);
        }
        checkOne('core', globalSchema, name, st.value, st.valueWhere);
        const ignored = IGNORED_GLOBALS[name];
        if (ignored !== undefined) notes.push(`${formatWhere(st.where)}: ${name} accepted and ignored: ${ignored}`);
        if (name === 'route_script') routeScriptWhere = st.valueWhere;
        globalsRaw.set(name, [...(globalsRaw.get(name) ?? []), raw(st.value, st.valueWhere)]);
        break;
      }
      case 'loadmodule': {
        const name = moduleNameOf(st.path);
        if (loaded.some((l) => l.loaded.name === name)) {
          notes.push(`${formatWhere(st.where)}: module "${name}" already loaded, skipping`);
          break;
        }
        let lm: LoadedModule;
        try {
          lm = await resolveModule(name, opts.importer);
        } catch (err) {
          failedModules.add(name);
          throw new CfgError(CfgErrorCodes.UNKNOWN_MODULE, st.valueWhere, (err as Error).message, { cause: err });
        }
        const note = BUILTIN_NOTES[name];
        if (note !== undefined) notes.push(`${formatWhere(st.where)}: module "${name}" ${note}`);
        loaded.push({ loaded: lm, where: st.where, raw: new Map() });
        break;
      }
      case 'modparam': {
        // another spelling of a module's parameter (Module.paramSpellings): it sets that module's
        const spelled = await moduleSpelling(st.module, st.param, loaded.map((l) => l.loaded), opts.importer);
        let moved: string | undefined;
        if (spelled !== undefined) {
          if (!loaded.some((l) => l.loaded.name === spelled.name)) {
            throw new CfgError(CfgErrorCodes.NO_MODULE_MATCH, st.moduleWhere, `"${st.param}" is a ${spelled.name} parameter (${spelled.source} spells it modparam("${st.module}", "${st.param}")): loadmodule "${spelled.name}.so" before it`);
          }
          moved = spelled.name;
          notes.push(`${formatWhere(st.where)}: modparam("${st.module}", "${st.param}") sets ${moved}'s "${st.param}" (the spelling of ${spelled.source})`);
        }
        const re = compileModuleRegex(moved ?? st.module, st.moduleWhere);
        const matching = loaded.filter((l) => re.test(l.loaded.name));
        // the module's loadmodule is already reported
        if (matching.length === 0 && [...failedModules].some((n) => re.test(n))) break;
        if (matching.length === 0) {
          throw new CfgError(
            CfgErrorCodes.NO_MODULE_MATCH,
            st.moduleWhere,
            `no loaded module matches ${JSON.stringify(st.module)} (loaded so far: ${loaded.map((l) => l.loaded.name).join(', ') || 'none'}; modparam must come after its loadmodule)`,
          );
        }
        // OpenSIPS (modparam.c): every module the regex matches must have the parameter
        for (const l of matching) {
          const schema = paramsOf(l.loaded);
          if (Object.hasOwn(schema, st.param)) continue;
          const via = st.module.toLowerCase() === l.loaded.name ? '' : ` (matched by ${JSON.stringify(st.module)})`;
          throw new CfgError(
            CfgErrorCodes.UNKNOWN_PARAM,
            st.paramWhere,
            `unknown parameter "${st.param}" for module "${l.loaded.name}"${via} (known: ${Object.keys(schema).join(', ') || 'no parameters'})`,
          );
        }
        for (const l of matching) {
          checkOne(l.loaded.name, paramsOf(l.loaded), st.param, st.value, st.valueWhere);
          const list = l.raw.get(st.param) ?? [];
          list.push({ ...raw(st.value, st.valueWhere), at: st.valueWhere });
          l.raw.set(st.param, list);
        }
        break;
      }
      case 'socket':
        socketStmts.push({ text: st.text, where: st.where, valueWhere: st.valueWhere, quoted: st.quoted === true });
        break;
      case 'bond':
        bondStmts.push(st);
        break;
    }
  }

  // modules a loaded module uses, loaded with their defaults when the cfg does not (tracing: OpenSIPS's transport tracing needs no loadmodule)
  for (let i = 0; i < loaded.length; i++) {
    const l = loaded[i]!;
    if (l.loaded.kind !== 'package') continue;
    for (const u of l.loaded.module.uses ?? []) {
      if (loaded.some((x) => x.loaded.name === u)) continue;
      try {
        loaded.push({ loaded: await resolveModule(u, opts.importer), where: l.where, raw: new Map(), implicit: true });
      } catch (err) {
        notes.push(`${formatWhere(l.where)}: module "${l.loaded.name}" uses "${u}", which cannot be loaded here: ${bare((err as Error).message)}`);
      }
    }
  }

  let globals: Globals;
  try {
    globals = validateParams<Globals>('core', globalSchema, globalsRaw);
  } catch (err) {
    keep(err instanceof CfgError ? err : new CfgError(CfgErrorCodes.BAD_VALUE, undefined, bare((err as Error).message), { cause: err }));
    globals = validateParams<Globals>('core', globalSchema, new Map());
  }

  const names = new Set(loaded.map((l) => l.loaded.name));
  const modules: ModuleEntry[] = [];
  const entryOf = new Map<LoadedEntry, ModuleEntry>();
  const protocols: ResolvedConfig['protocols'] = new Map();
  let httpd: ResolvedConfig['httpd'];
  let mi: ResolvedConfig['mi'];
  let domains: TlsDomainConfig[] = [];
  for (const l of loaded) {
    try {
      const deps = l.loaded.kind === 'builtin' ? (BUILTIN_DEPENDS[l.loaded.name] ?? []) : (l.loaded.module.dependsOn ?? []);
      for (const d of deps) {
        if (!names.has(d)) throw new CfgError(CfgErrorCodes.DEPENDENCY, l.where, `module "${l.loaded.name}" depends on "${d}", which is not loaded (add loadmodule "${d}.so")`);
      }
      const schema = paramsOf(l.loaded);
      let params: Record<string, unknown>;
      try {
        params = validateParams(l.loaded.name, schema, l.raw);
      } catch (err) {
        throw new CfgError(CfgErrorCodes.BAD_VALUE, l.where, bare((err as Error).message), { cause: err });
      }
      let view: LoadedModuleView = { name: l.loaded.name, traceDestinations: [] };
      if (l.loaded.kind === 'package') {
        const m = l.loaded.module;
        try {
          view = { name: l.loaded.name, trace: m.trace?.(params), traceDestinations: m.traceDestinations?.(params) ?? [] };
        } catch (err) {
          throw moduleRefused(loaded, l, err);
        }
      }
      const entry: ModuleEntry = { loaded: l.loaded, params, where: l.where, routes: [], view, implicit: l.implicit === true };
    modules.push(entry);
    entryOf.set(l, entry);
      if (l.loaded.name === 'httpd') {
        const set = l.raw.get('port') ?? l.raw.get('ip');
        httpd = { ip: String(params.ip), port: Number(params.port), where: set?.at(-1)?.at ?? l.where };
      }
      if (l.loaded.name === 'mi_http') mi = { root: String(params.root).replace(/^\/+|\/+$/g, '') };
      if (l.loaded.name === 'tls_mgm') domains = tlsDomains(l.raw);
      if (l.loaded.kind === 'package' && l.loaded.module.protocols) {
        let specs: ProtocolSpec<unknown>[];
        try {
          specs = l.loaded.module.protocols(params);
        } catch (err) {
          throw new CfgError(CfgErrorCodes.BAD_VALUE, l.where, `${l.loaded.name}: ${(err as Error).message}`, { cause: err });
        }
        for (const spec of specs) protocols.set(spec.name, { module: l.loaded.name, spec });
      }
    } catch (err) {
      failedModules.add(l.loaded.name);
      keep(err);
    }
  }

  const defaultPortOf = (p: string): number | null => protocols.get(p)?.spec.defaultPort ?? null;
  const sockets: SocketEntry[] = [];
  for (const s of socketStmts) {
    try {
      const spec = parseSocketAt(s.text, s.valueWhere, s.quoted, defaultPortOf);
      const served = protocols.get(spec.proto);
      if (!served) {
        // the module of THE table (catalog.ts) that serves it, when its package is installed here (not an injected importer: advice is about what can be loaded)
        const hint = await moduleServing(spec.proto);
        // its module is loaded but in error: already reported
        if (hint !== undefined && failedModules.has(hint)) continue;
        const advice = hint ? ` (load "${hint}.so")` : `: x-server does not provide ${spec.proto === 'udp' ? 'SIP over UDP' : `the ${spec.proto} protocol`}`;
        throw new CfgError(
          CfgErrorCodes.NO_PROTO_MODULE,
          s.valueWhere,
          `listeners found for protocol ${spec.proto}, but no module can handle it${advice}; protocols served: ${[...protocols.keys()].join(', ') || 'none'}`,
        );
      }
      if (spec.port === null) throw new CfgError(CfgErrorCodes.BAD_SOCKET, s.valueWhere, `protocol ${spec.proto} has no default port: write ${spec.proto}:${spec.host}:PORT`);
      checkDuplicate(sockets, spec, served.spec.transport, protocols, s.valueWhere);
      sockets.push({ spec, text: s.text, where: s.where, module: served.module });
      for (const o of SOCKET_OPTIONS) {
        const v = spec.options?.[o.key];
        if (v === undefined) continue;
        const at = wordAt(s.text, o.keyword);
        const where = { ...s.valueWhere, col: s.valueWhere.col + (s.quoted ? 1 : 0) + Math.max(0, at) };
        warnings.push(`${formatWhere(where)}: socket option "${o.arg === 'flag' ? o.keyword : `${o.keyword} ${String(v)}`}" accepted, has no effect in x-server: ${SOCKET_OPTION_NO_EFFECT[o.keyword] ?? 'not implemented'}`);
      }
    } catch (err) {
      keep(err);
    }
  }

  const bonds: BondEntry[] = [];
  for (const b of bondStmts) {
    try {
      if (bonds.some((x) => x.name === b.name)) throw new CfgError(CfgErrorCodes.BAD_SOCKET, b.nameWhere, `socket bond "${b.name}" is defined twice`);
      const members: SocketSpec[] = [];
      for (const m of b.members) {
        const spec = parseSocketAt(m.text, m.where, true, defaultPortOf);
        const declared = sockets.find((x) => x.spec.proto === spec.proto && x.spec.host === spec.host && x.spec.port === spec.port);
        if (!declared) {
          throw new CfgError(
            CfgErrorCodes.BAD_SOCKET,
            m.where,
            `bond:${b.name} member "${m.text}" is not a declared socket: a bond groups sockets declared by their own socket = lines (declared: ${sockets.map((x) => `${x.spec.proto}:${formatAddress({ host: x.spec.host, port: x.spec.port! })}`).join(', ') || 'none'})`,
          );
        }
        members.push(declared.spec);
      }
      bonds.push({ name: b.name, members, where: b.where });
      warnings.push(`${formatWhere(b.nameWhere)}: socket bond "${b.name}" accepted, has no effect in x-server: there is no outbound socket selection by bond (its ${members.length} member socket(s) listen as declared)`);
    } catch (err) {
      keep(err);
    }
  }

  // each module's own cross-param rules and references to the rest of the cfg (proto_hep: its
  // hep_ids and the HEP sockets; tracing: every trace_destination names a hep_id), then the
  // route-script exports it runs
  const view: ConfigView = { sockets: sockets.map((x) => x.spec), modules: modules.map((m) => m.view), protocols: [...protocols.keys()] };
  for (const l of loaded) {
    try {
      const entry = entryOf.get(l);
      // a module in error is already reported
      if (l.loaded.kind !== 'package' || entry === undefined) continue;
      const m = l.loaded.module;
      let bindings: RouteBinding[];
      try {
        m.checkConfig?.(entry.params, view);
        bindings = m.routes?.(entry.params) ?? [];
      } catch (err) {
        throw moduleRefused(loaded, l, err);
      }
      entry.routes = bindings;
      for (const b of bindings) {
        if (!(b.required ?? b.param !== undefined)) continue;
        const where = (b.param !== undefined ? settingWhere(l, { param: b.param, index: b.index }) : undefined) ?? l.where;
        routeRefs.push({ module: l.loaded.name, param: b.param, route: b.name, where });
      }
    } catch (err) {
      keep(err);
    }
  }

  if (errors.length > 0) throw CfgError.all(errors);
  const out: ResolvedConfig = { file, globals, notes, warnings, modules, protocols, sockets, bonds, tlsDomains: domains, routeRefs };
  if (httpd) out.httpd = httpd;
  if (mi) out.mi = mi;
  if (globals.route_script !== undefined) {
    const rs = globals.route_script;
    const base = routeScriptWhere ? dirname(routeScriptWhere.file) : dirname(file);
    out.routeScript = isAbsolute(rs) ? rs : resolve(base, rs);
    if (routeScriptWhere) out.routeScriptWhere = routeScriptWhere;
  }
  return out;
}
