/**
 * keepalived.conf lexer: words, quoted strings, braces, `#` and `!` comments, line ends.
 * Pure: the loader hands it the text of each file. Positions are 1-based line:column.
 */

export interface Pos {
  file: string;
  line: number;
  col: number;
}

export type Token = ({ kind: 'word'; text: string; quoted: boolean } | { kind: '{' } | { kind: '}' } | { kind: 'eol' }) & { pos: Pos };

export class ConfigError extends Error {
  constructor(
    readonly pos: Pos,
    readonly detail: string,
  ) {
    super(`${pos.file}:${pos.line}:${pos.col}: ${detail}`);
    this.name = 'ConfigError';
  }
}

export function lex(text: string, file: string): Token[] {
  const out: Token[] = [];
  let line = 1;
  let col = 1;
  let i = 0;
  const pos = (): Pos => ({ file, line, col });
  const adv = (n = 1): void => {
    i += n;
    col += n;
  };
  while (i < text.length) {
    const c = text[i] as string;
    if (c === '\n') {
      out.push({ kind: 'eol', pos: pos() });
      i++;
      line++;
      col = 1;
    } else if (c === ' ' || c === '\t' || c === '\r') {
      adv();
    } else if (c === '#' || c === '!') {
      while (i < text.length && text[i] !== '\n') adv();
    } else if (c === '{' || c === '}') {
      out.push({ kind: c, pos: pos() });
      adv();
    } else if (c === '"') {
      const start = pos();
      adv();
      let s = '';
      while (i < text.length && text[i] !== '"' && text[i] !== '\n') {
        if (text[i] === '\\' && i + 1 < text.length && text[i + 1] !== '\n') {
          s += text[i + 1];
          adv(2);
        } else {
          s += text[i];
          adv();
        }
      }
      if (text[i] !== '"') throw new ConfigError(start, 'unterminated quoted string');
      adv();
      out.push({ kind: 'word', text: s, quoted: true, pos: start });
    } else {
      const start = pos();
      let s = '';
      while (i < text.length && !/[\s{}"]/.test(text[i] as string)) {
        s += text[i];
        adv();
      }
      out.push({ kind: 'word', text: s, quoted: false, pos: start });
    }
  }
  out.push({ kind: 'eol', pos: pos() });
  return out;
}
