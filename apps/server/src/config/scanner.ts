import { CfgError, CfgErrorCodes, type Where } from '../errors.js';

export type Token =
  | { kind: 'ident'; text: string; where: Where }
  | { kind: 'int'; value: number; text: string; where: Where }
  | { kind: 'string'; value: string; where: Where }
  | { kind: 'punct'; text: string; where: Where }
  | { kind: 'eof'; where: Where };

const IDENT_START = /[A-Za-z_]/;
const IDENT_PART = /[A-Za-z0-9_.]/;
const PUNCT = new Set(['=', '(', ')', ',', ';', '{', '}']);

/** A hand-written scanner for the opensips.cfg dialect: positions are tracked so every error can name line and column. */
export class Scanner {
  private pos = 0;
  private line = 1;
  private col = 1;
  constructor(
    private readonly text: string,
    private readonly file: string,
  ) {}

  here(): Where {
    return { file: this.file, line: this.line, col: this.col };
  }

  private advance(n = 1): void {
    for (let i = 0; i < n; i++) {
      if (this.text[this.pos] === '\n') {
        this.line++;
        this.col = 1;
      } else {
        this.col++;
      }
      this.pos++;
    }
  }

  /** set when the rest of the text cannot be read (an unterminated comment): no resync helps */
  dead = false;

  /** set by skipBlock: the statement in error was skipped whole, no resync needed */
  skipped = false;

  /**
   * Skips a `{ ... }` block (a route block of a stock opensips.cfg, whose script language this
   * dialect does not read), braces balanced, strings and comments respected; to the end of the
   * text when unbalanced.
   */
  skipBlock(): void {
    const t = this.text;
    let i = this.pos;
    let depth = 0;
    let opened = false;
    while (i < t.length) {
      const c = t[i]!;
      if (c === '"' || c === "'") {
        i++;
        while (i < t.length && t[i] !== c && t[i] !== '\n') i += t[i] === '\\' ? 2 : 1;
      } else if (c === '#' || (c === '/' && t[i + 1] === '/')) {
        while (i < t.length && t[i] !== '\n') i++;
        continue;
      } else if (c === '/' && t[i + 1] === '*') {
        const end = t.indexOf('*/', i + 2);
        i = end < 0 ? t.length : end + 2;
        continue;
      } else if (c === '{') {
        depth++;
        opened = true;
      } else if (c === '}') {
        depth--;
        if (opened && depth === 0) {
          i++;
          break;
        }
      }
      i++;
    }
    this.advance(Math.min(i, t.length) - this.pos);
    this.skipped = true;
  }

  /** the position, for `resync` */
  mark(): { pos: number; line: number; col: number } {
    return { pos: this.pos, line: this.line, col: this.col };
  }

  /**
   * After an error in the statement that began at `start`, moves to where the next statement
   * may begin: the error's line when its token opens that line (a statement cut short at the end
   * of the previous line), else the line after the error. Always moves forward.
   */
  resync(start: { pos: number; line: number }, at: Where | undefined): void {
    const errLine = at !== undefined && at.file === this.file ? at.line : Math.max(this.line, start.line);
    let pos = 0;
    let line = 1;
    while (line < errLine && pos < this.text.length) {
      const nl = this.text.indexOf('\n', pos);
      if (nl < 0) { pos = this.text.length; break; }
      pos = nl + 1;
      line++;
    }
    const lead = at !== undefined && at.file === this.file ? this.text.slice(pos, pos + at.col - 1) : 'x';
    if (!(errLine > start.line && /^[ \t]*$/.test(lead))) {
      const nl = this.text.indexOf('\n', pos);
      pos = nl < 0 ? this.text.length : nl + 1;
      line++;
    }
    if (pos <= start.pos) {
      const nl = this.text.indexOf('\n', start.pos);
      pos = nl < 0 ? this.text.length : nl + 1;
      line = start.line + 1;
    }
    this.pos = pos;
    this.line = line;
    this.col = 1;
  }

  private syntax(where: Where, msg: string): CfgError {
    return new CfgError(CfgErrorCodes.SYNTAX, where, msg);
  }

  /** skips blanks, newlines and the three comment forms */
  skipTrivia(stopAtNewline = false): void {
    for (;;) {
      const c = this.text[this.pos];
      if (c === undefined) return;
      if (c === '\n' && stopAtNewline) return;
      if (c === ' ' || c === '\t' || c === '\r' || c === '\n') {
        this.advance();
      } else if (c === '#' || (c === '/' && this.text[this.pos + 1] === '/')) {
        while (this.pos < this.text.length && this.text[this.pos] !== '\n') this.advance();
      } else if (c === '/' && this.text[this.pos + 1] === '*') {
        const start = this.here();
        const end = this.text.indexOf('*/', this.pos + 2);
        if (end < 0) {
          this.dead = true;
          throw this.syntax(start, 'unterminated comment: "/*" without "*/"');
        }
        this.advance(end + 2 - this.pos);
      } else {
        return;
      }
    }
  }

  peek(): Token {
    const save = { pos: this.pos, line: this.line, col: this.col };
    const t = this.next();
    this.pos = save.pos;
    this.line = save.line;
    this.col = save.col;
    return t;
  }

  next(): Token {
    this.skipTrivia();
    const where = this.here();
    const c = this.text[this.pos];
    if (c === undefined) return { kind: 'eof', where };
    if (c === '"' || c === "'") return { kind: 'string', value: this.readString(c), where };
    if (/[0-9]/.test(c) || (c === '-' && /[0-9]/.test(this.text[this.pos + 1] ?? ''))) {
      const m = /^-?(0x[0-9a-fA-F]+|[0-9]+)/.exec(this.text.slice(this.pos, this.pos + 40))!;
      const text = m[0];
      const after = this.text[this.pos + text.length];
      if (after !== undefined && IDENT_PART.test(after)) {
        throw this.syntax(where, `bad number "${text}${after}...": expected an integer`);
      }
      this.advance(text.length);
      const neg = text.startsWith('-');
      const body = neg ? text.slice(1) : text;
      const value = (neg ? -1 : 1) * Number(body.startsWith('0x') ? Number.parseInt(body.slice(2), 16) : body);
      if (!Number.isSafeInteger(value)) throw this.syntax(where, `number ${text} is out of range`);
      return { kind: 'int', value, text, where };
    }
    if (IDENT_START.test(c)) {
      let end = this.pos;
      while (end < this.text.length && IDENT_PART.test(this.text[end]!)) end++;
      const text = this.text.slice(this.pos, end);
      this.advance(end - this.pos);
      return { kind: 'ident', text, where };
    }
    if (PUNCT.has(c)) {
      this.advance();
      return { kind: 'punct', text: c, where };
    }
    throw this.syntax(where, `unexpected character ${JSON.stringify(c)}`);
  }

  private readString(q: string): string {
    const start = this.here();
    this.advance();
    let out = '';
    for (;;) {
      const c = this.text[this.pos];
      if (c === undefined || c === '\n') throw this.syntax(start, `unterminated string: missing closing ${q}`);
      if (c === q) {
        this.advance();
        return out;
      }
      if (c === '\\') {
        const e = this.text[this.pos + 1];
        const map: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\', '"': '"', "'": "'" };
        out += e !== undefined && map[e] !== undefined ? map[e] : `\\${e ?? ''}`;
        this.advance(2);
        continue;
      }
      out += c;
      this.advance();
    }
  }

  /** the raw rest of the line (socket specs), up to a comment, ";" or the newline; trimmed */
  restOfLine(): { text: string; where: Where } {
    this.skipTrivia(true);
    const where = this.here();
    let text = '';
    for (;;) {
      const c = this.text[this.pos];
      if (c === undefined || c === '\n' || c === ';' || c === '#') break;
      if (c === '/' && (this.text[this.pos + 1] === '/' || this.text[this.pos + 1] === '*')) break;
      text += c;
      this.advance();
    }
    if (this.text[this.pos] === ';') this.advance();
    return { text: text.trimEnd(), where };
  }

  /**
   * At `bond:NAME` (keyword case-insensitive): consumes it and returns the name ('' when
   * missing) and where it starts; elsewhere: consumes nothing and returns undefined.
   */
  bondHeader(): { name: string; where: Where; nameWhere: Where } | undefined {
    this.skipTrivia(true);
    const m = /^bond:([\w.-]*)/i.exec(this.text.slice(this.pos, this.pos + 300));
    if (!m) return undefined;
    const where = this.here();
    this.advance(5);
    const nameWhere = this.here();
    this.advance(m[1]!.length);
    return { name: m[1]!, where, nameWhere };
  }

  atQuote(): boolean {
    this.skipTrivia(true);
    const c = this.text[this.pos];
    return c === '"' || c === "'";
  }
}
