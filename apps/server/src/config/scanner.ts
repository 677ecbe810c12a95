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
        if (end < 0) throw this.syntax(start, 'unterminated comment: "/*" without "*/"');
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
