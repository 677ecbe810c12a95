import { readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { CfgError, CfgErrorCodes, type Where } from '../errors.js';
import { Scanner, type Token } from './scanner.js';

/** A value as written: an (optionally negative) integer or a quoted string. */
export type CfgValue = { kind: 'int'; value: number } | { kind: 'string'; value: string };

export type Statement =
  | { type: 'global'; name: string; value: CfgValue; where: Where; valueWhere: Where }
  /** `quoted`: the spec was written as a string, so its text starts one column after valueWhere */
  | { type: 'socket'; keyword: 'socket' | 'listen'; text: string; where: Where; valueWhere: Where; quoted?: true }
  /** `socket = bond:NAME { "spec", ... }`: each member's where is its string's opening quote */
  | { type: 'bond'; name: string; members: Array<{ text: string; where: Where }>; where: Where; valueWhere: Where; nameWhere: Where }
  | { type: 'loadmodule'; path: string; where: Where; valueWhere: Where }
  | { type: 'modparam'; module: string; param: string; value: CfgValue; where: Where; moduleWhere: Where; paramWhere: Where; valueWhere: Where };

export interface ParsedCfg {
  statements: Statement[];
  /** every file read, the main one first */
  files: string[];
}

export interface ParseOptions {
  /**
   * Collects errors instead of throwing the first: a statement that does not parse is recorded
   * here and parsing goes on at the next line (at most MAX_ERRORS), so every error of a file is
   * reported in one run. Without it, the first error is thrown.
   */
  errors?: CfgError[];
  /** reads an included file; default: readCfgFile (a regular file of at most 1 MiB) relative to the including file */
  readFile?: (path: string) => string;
  /** default 10 */
  maxIncludeDepth?: number;
}

/** Parsing stops after this many errors (a binary file given as a cfg would give one per line). */
export const MAX_ERRORS = 100;

/** The largest cfg file (main or included) read: a config is text, not data (default 1 MiB). */
export const MAX_CFG_FILE_BYTES = 1 << 20;

/**
 * Reads a cfg file: a regular file of at most `max` bytes (`/dev/zero`, a FIFO or a directory
 * would hang or grow without bound). Throws a CfgError (no location) with the reason.
 */
export function readCfgFile(path: string, max = MAX_CFG_FILE_BYTES): string {
  const st = statSync(path);
  if (!st.isFile()) throw new CfgError(CfgErrorCodes.FILE, undefined, `not a regular file (${st.isDirectory() ? 'a directory' : st.isFIFO() ? 'a FIFO' : st.isCharacterDevice() ? 'a character device' : st.isBlockDevice() ? 'a block device' : st.isSocket() ? 'a socket' : 'not a file'})`);
  if (st.size > max) throw new CfgError(CfgErrorCodes.FILE, undefined, `${st.size} bytes, over the ${max}-byte limit of a cfg file`);
  const text = readFileSync(path, 'utf8');
  if (Buffer.byteLength(text) > max) throw new CfgError(CfgErrorCodes.FILE, undefined, `over the ${max}-byte limit of a cfg file`);
  return text;
}

const ROUTE_BLOCKS = new Set([
  'route', 'onreply_route', 'failure_route', 'branch_route', 'local_route', 'startup_route',
  'timer_route', 'event_route', 'error_route', 'request_route', 'reply_route',
]);
/** `yes`/`no` style words OpenSIPS accepts for boolean globals */
const BOOL_WORDS: Record<string, number> = { yes: 1, no: 0, on: 1, off: 0, true: 1, false: 0, enable: 1, disable: 0 };

/** globals whose value OpenSIPS takes as a bare name: `tcp_no_new_conn_bflag = TCP_NO_CONNECT`, `log_facility = LOG_LOCAL0` */
const NAME_VALUED_GLOBALS = new Set(['tcp_no_new_conn_bflag', 'tcp_no_new_conn_rplflag', 'log_facility', 'syslog_facility']);

/** globals whose value OpenSIPS takes as an address, quoted or not: `advertised_address = 203.0.113.5`, `alias = udp:sip.example.com:5060` */
const ADDRESS_VALUED_GLOBALS = new Set(['alias', 'advertised_address']);

/** worker counts OpenSIPS lets name an auto-scaling profile: `udp_workers = 4 use_auto_scaling_profile PROFILE_SIP` */
const AUTO_SCALED_GLOBALS = new Set(['tcp_workers', 'udp_workers']);

const EXPECTED_STATEMENT =
  'expected a global parameter "name = value", loadmodule "x.so", modparam("module", "param", value), socket = / listen = proto:host[:port], include_file "file" or mpath = "dir"';

function describe(t: Token): string {
  switch (t.kind) {
    case 'eof': return 'end of file';
    case 'string': return `string ${JSON.stringify(t.value)}`;
    case 'int': return `number ${t.text}`;
    default: return `"${t.text}"`;
  }
}

function syntax(t: Token, expected: string): CfgError {
  return new CfgError(CfgErrorCodes.SYNTAX, t.where, `expected ${expected}, found ${describe(t)}`);
}

/**
 * Parses the opensips.cfg transport dialect into a flat statement list, following
 * include_file / import_file (relative to the including file). Semantics (which globals,
 * which modules, which params) are checked later by `resolveConfig`, which has the modules.
 */
export function parseCfg(text: string, file: string, opts: ParseOptions = {}): ParsedCfg {
  const out: ParsedCfg = { statements: [], files: [file] };
  const read = opts.readFile ?? ((p: string) => readCfgFile(p));
  const maxDepth = opts.maxIncludeDepth ?? 10;

  const parseOne = (src: string, name: string, depth: number): void => {
    const s = new Scanner(src, name);
    const expectPunct = (p: string, what: string): Token => {
      const t = s.next();
      if (t.kind !== 'punct' || t.text !== p) throw syntax(t, what);
      return t;
    };
    const value = (what: string): { v: CfgValue; where: Where } => {
      const t = s.next();
      if (t.kind === 'int') return { v: { kind: 'int', value: t.value }, where: t.where };
      if (t.kind === 'string') return { v: { kind: 'string', value: t.value }, where: t.where };
      if (t.kind === 'ident' && Object.hasOwn(BOOL_WORDS, t.text.toLowerCase())) {
        return { v: { kind: 'int', value: BOOL_WORDS[t.text.toLowerCase()]! }, where: t.where };
      }
      throw syntax(t, what);
    };
    const optionalSemicolon = (): void => {
      const t = s.peek();
      if (t.kind === 'punct' && t.text === ';') s.next();
    };

    const one = (): boolean => {
      const t = s.next();
      if (t.kind === 'eof') return true;
      if (t.kind === 'punct' && t.text === ';') return false;
      if (t.kind !== 'ident') throw syntax(t, 'a statement (' + EXPECTED_STATEMENT + ')');
      const kw = t.text.toLowerCase();

      if (ROUTE_BLOCKS.has(kw)) {
        s.skipBlock();
        throw new CfgError(
          CfgErrorCodes.UNKNOWN_STATEMENT,
          t.where,
          `"${t.text}" blocks are not supported: routing is JavaScript here; export a "${kw === 'onreply_route' ? 'reply' : 'request'}" function from the module named by route_script = "./routes.mjs"`,
        );
      }
      if (kw === 'loadmodule') {
        const v = s.next();
        if (v.kind !== 'string') throw syntax(v, 'a quoted module name or path after loadmodule, e.g. loadmodule "proto_tcp.so"');
        out.statements.push({ type: 'loadmodule', path: v.value, where: t.where, valueWhere: v.where });
        optionalSemicolon();
        return false;
      }
      if (kw === 'include_file' || kw === 'import_file') {
        const v = s.next();
        if (v.kind !== 'string') throw syntax(v, `a quoted file name after ${kw}`);
        if (depth >= maxDepth) throw new CfgError(CfgErrorCodes.FILE, v.where, `include depth exceeds ${maxDepth} (include loop?)`);
        const path = isAbsolute(v.value) ? v.value : resolve(dirname(name), v.value);
        let body: string;
        try {
          body = read(path);
        } catch (err) {
          throw new CfgError(CfgErrorCodes.FILE, v.where, `cannot read included file "${v.value}": ${(err as Error).message}`, { cause: err });
        }
        out.files.push(path);
        optionalSemicolon();
        parseOne(body, path, depth + 1);
        return false;
      }
      if (kw === 'modparam') {
        expectPunct('(', '"(" after modparam');
        const m = s.next();
        if (m.kind !== 'string') throw syntax(m, 'a quoted module name (or regex) as the first modparam argument');
        expectPunct(',', '"," after the module name');
        const p = s.next();
        if (p.kind !== 'string') throw syntax(p, 'a quoted parameter name as the second modparam argument');
        expectPunct(',', '"," after the parameter name');
        const v = value('a quoted string or an integer as the modparam value');
        expectPunct(')', '")" closing modparam');
        optionalSemicolon();
        out.statements.push({ type: 'modparam', module: m.value, param: p.value, value: v.v, where: t.where, moduleWhere: m.where, paramWhere: p.where, valueWhere: v.where });
        return false;
      }
      const eq = s.peek();
      if (eq.kind !== 'punct' || eq.text !== '=') {
        throw new CfgError(CfgErrorCodes.UNKNOWN_STATEMENT, t.where, `unknown statement "${t.text}": ${EXPECTED_STATEMENT}`);
      }
      s.next();
      if (kw === 'socket' || kw === 'listen') {
        if (s.atQuote()) {
          const v = s.next() as Extract<Token, { kind: 'string' }>;
          optionalSemicolon();
          out.statements.push({ type: 'socket', keyword: kw, text: v.value, where: t.where, valueWhere: v.where, quoted: true });
          return false;
        }
        const bond = s.bondHeader();
        if (bond) {
          // socket = bond:NAME { "udp:1.2.3.4:5060", "tcp:1.2.3.4:5060" } (may span lines)
          if (bond.name === '') throw new CfgError(CfgErrorCodes.BAD_SOCKET, bond.nameWhere, 'expected a bond name after "bond:", e.g. socket = bond:ext { "udp:1.2.3.4:5060", "tcp:1.2.3.4:5060" }');
          expectPunct('{', `"{" after bond:${bond.name}, then the member sockets as quoted strings`);
          const members: Array<{ text: string; where: Where }> = [];
          for (;;) {
            const m = s.next();
            if (m.kind !== 'string') throw syntax(m, `a member socket as a quoted string, e.g. "udp:1.2.3.4:5060", in bond:${bond.name}`);
            members.push({ text: m.value, where: m.where });
            const sep = s.next();
            if (sep.kind === 'punct' && sep.text === '}') break;
            if (sep.kind !== 'punct' || sep.text !== ',') throw syntax(sep, `"," or "}" after a member of bond:${bond.name}`);
          }
          optionalSemicolon();
          out.statements.push({ type: 'bond', name: bond.name, members, where: t.where, valueWhere: bond.where, nameWhere: bond.nameWhere });
          return false;
        }
        const rest = s.restOfLine();
        if (rest.text === '') throw new CfgError(CfgErrorCodes.SYNTAX, rest.where, `expected proto:host[:port] after "${kw} =", found end of line`);
        out.statements.push({ type: 'socket', keyword: kw, text: rest.text, where: t.where, valueWhere: rest.where });
        return false;
      }
      if (ADDRESS_VALUED_GLOBALS.has(kw)) {
        if (s.atQuote()) {
          const v = s.next() as Extract<Token, { kind: 'string' }>;
          optionalSemicolon();
          out.statements.push({ type: 'global', name: kw, value: { kind: 'string', value: v.value }, where: t.where, valueWhere: v.where });
          return false;
        }
        const rest = s.restOfLine();
        if (rest.text === '') throw new CfgError(CfgErrorCodes.SYNTAX, rest.where, `expected an address after "${kw} =", found end of line`);
        out.statements.push({ type: 'global', name: kw, value: { kind: 'string', value: rest.text.replace(/;\s*$/, '') }, where: t.where, valueWhere: rest.where });
        return false;
      }
      if (NAME_VALUED_GLOBALS.has(kw)) {
        const n = s.next();
        if (n.kind !== 'ident' && n.kind !== 'string' && n.kind !== 'int') throw syntax(n, `a name after "${t.text} ="`);
        optionalSemicolon();
        const text = n.kind === 'string' ? n.value : n.text;
        out.statements.push({ type: 'global', name: kw, value: { kind: 'string', value: text }, where: t.where, valueWhere: n.where });
        return false;
      }
      const v = value(`a quoted string or an integer after "${t.text} ="`);
      if (AUTO_SCALED_GLOBALS.has(kw)) {
        // `tcp_workers = N use_auto_scaling_profile P`: the profile goes with the (ignored) worker count
        const u = s.peek();
        if (u.kind === 'ident' && u.text.toLowerCase() === 'use_auto_scaling_profile') {
          s.next();
          const p = s.next();
          if (p.kind !== 'ident' && p.kind !== 'string') throw syntax(p, 'an auto-scaling profile name after use_auto_scaling_profile');
        }
      }
      optionalSemicolon();
      out.statements.push({ type: 'global', name: kw, value: v.v, where: t.where, valueWhere: v.where });
      return false;
    };
    for (;;) {
      let mark = s.mark();
      try {
        s.skipTrivia();
        mark = s.mark();
        if (one()) return;
      } catch (err) {
        if (!(err instanceof CfgError) || opts.errors === undefined) throw err;
        opts.errors.push(err);
        if (opts.errors.length >= MAX_ERRORS || s.dead) return;
        if (!s.skipped) s.resync(mark, err.where);
        s.skipped = false;
      }
      if (opts.errors !== undefined && opts.errors.length >= MAX_ERRORS) return;
    }
  };

  parseOne(text, file, 0);
  return out;
}
