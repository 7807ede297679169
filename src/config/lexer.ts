/**
 * keepalived.conf lexer: words, quoted strings, braces, `#` and `!` comments, line ends.
 * Pure: the loader hands it the text of each file. Positions are 1-based line:column.
 *
 * It streams: `advance()` moves to the next token and describes it in its own fields, so
 * parsing a large configuration keeps no token objects (a 1000-instance file has 32 000
 * tokens; as objects, with a position each, they were 4 MB of heap at once during start-up).
 * Words are slices of the text, not strings built a character at a time.
 */

export interface Pos {
  file: string;
  line: number;
  col: number;
}

export type TokenKind = 'word' | '{' | '}' | 'eol' | 'end';

export class ConfigError extends Error {
  constructor(
    readonly pos: Pos,
    readonly detail: string,
  ) {
    super(`${pos.file}:${pos.line}:${pos.col}: ${detail}`);
    this.name = 'ConfigError';
  }
}

const QUOTE = 34;
const BACKSLASH = 92;
const NL = 10;

/** White space as the regexp \s has it. */
function isSpace(c: number, text: string, i: number): boolean {
  return c === 32 || (c >= 9 && c <= 13) || (c > 127 && /\s/.test(text[i] as string));
}

/** Ends an unquoted word: white space, braces and a quote. */
function endsWord(c: number, text: string, i: number): boolean {
  return c === 123 || c === 125 || c === QUOTE || isSpace(c, text, i);
}

export class Lexer {
  /** The current token: after `advance()`, until the next one. 'end' once the text is done. */
  kind: TokenKind = 'eol';
  /** The word's text (words only). */
  text = '';
  quoted = false;
  private line0 = 1;
  private col0 = 1;
  private i = 0;
  private line = 1;
  private col = 1;
  private done = false;

  constructor(
    private readonly src: string,
    readonly file: string,
  ) {}

  /** Where the current token starts (a new object: positions are kept by the tree). */
  pos(): Pos {
    return { file: this.file, line: this.line0, col: this.col0 };
  }

  advance(): TokenKind {
    const t = this.src;
    const n = t.length;
    for (;;) {
      this.line0 = this.line;
      this.col0 = this.col;
      if (this.i >= n) {
        // one line end after the last token, then the end
        this.kind = this.done ? 'end' : 'eol';
        this.done = true;
        return this.kind;
      }
      const c = t.charCodeAt(this.i);
      if (c === NL) {
        this.i++;
        this.line++;
        this.col = 1;
        return (this.kind = 'eol');
      }
      if (isSpace(c, t, this.i)) {
        this.step(1);
      } else if (c === 35 || c === 33) {
        // '#' or '!' comment to the end of the line
        while (this.i < n && t.charCodeAt(this.i) !== NL) this.step(1);
      } else if (c === 123 || c === 125) {
        this.step(1);
        return (this.kind = c === 123 ? '{' : '}');
      } else if (c === QUOTE) {
        return this.quotedWord();
      } else {
        const start = this.i;
        while (this.i < n && !endsWord(t.charCodeAt(this.i), t, this.i)) this.step(1);
        this.text = t.slice(start, this.i);
        this.quoted = false;
        return (this.kind = 'word');
      }
    }
  }

  private step(k: number): void {
    this.i += k;
    this.col += k;
  }

  private quotedWord(): TokenKind {
    const t = this.src;
    const n = t.length;
    const start = this.pos();
    this.step(1);
    let from = this.i;
    let s = '';
    while (this.i < n) {
      const c = t.charCodeAt(this.i);
      if (c === QUOTE || c === NL) break;
      if (c === BACKSLASH && this.i + 1 < n && t.charCodeAt(this.i + 1) !== NL) {
        s += t.slice(from, this.i) + (t[this.i + 1] as string);
        this.step(2);
        from = this.i;
      } else this.step(1);
    }
    if (t.charCodeAt(this.i) !== QUOTE) throw new ConfigError(start, 'unterminated quoted string');
    s += t.slice(from, this.i);
    this.step(1);
    this.text = s;
    this.quoted = true;
    this.line0 = start.line;
    this.col0 = start.col;
    return (this.kind = 'word');
  }
}
