/**
 * keepalived.conf at the level of one line, as keepalived 2.2.7 (lib/parser.c) treats a line
 * before any keyword is looked at: comments and their escapes, the trailing `\`, double
 * quotes, `$NAME=VALUE` definitions and their substitution (with the pre-defined `_PWD`,
 * `_INSTANCE`, `_RANDOM`, `_HASH`, `_BANG`), `~SEQ`/`~LST` heads, and where a brace splits
 * a line. Pure: tree.ts reads the files, drives lines through these functions and splits
 * them into words.
 *
 * A line keeps where each character came from (1-based line:column of the file it stands
 * in); text that a substitution put in a line takes the column of the `$` that brought it.
 */
export interface Pos {
  file: string;
  line: number;
  col: number;
}

export class ConfigError extends Error {
  constructor(
    readonly pos: Pos,
    readonly detail: string,
  ) {
    super(`${pos.file}:${pos.line}:${pos.col}: ${detail}`);
    this.name = 'ConfigError';
  }
}

/** Where problems go: `error` makes the file unusable, `warn` is printed. */
export interface Reporter {
  error(pos: Pos, message: string): void;
  warn(pos: Pos, message: string): void;
}

/** A line of text; the column of `text[i]` is `cols[i]` when given, else `col + i`. */
export interface Line {
  readonly text: string;
  readonly file: string;
  readonly line: number;
  readonly col: number;
  readonly cols: readonly number[] | null;
}

export function colAt(l: Line, i: number): number {
  const c = l.cols;
  if (!c) return l.col + i;
  if (i < c.length) return c[i]!;
  return c.length ? c[c.length - 1]! + 1 : l.col;
}
export function posAt(l: Line, i: number): Pos {
  return { file: l.file, line: l.line, col: colAt(l, i) };
}
export function cut(l: Line, from: number, to = l.text.length): Line {
  if (from === 0 && to === l.text.length) return l;
  return { text: l.text.slice(from, to), file: l.file, line: l.line, col: colAt(l, from), cols: l.cols ? l.cols.slice(from, to) : null };
}
/** `l` with [from, to) replaced by `text`, whose characters all get column `col`. */
export function splice(l: Line, from: number, to: number, text: string, col: number): Line {
  const cols: number[] = [];
  for (let i = 0; i < from; i++) cols.push(colAt(l, i));
  for (let i = 0; i < text.length; i++) cols.push(col);
  for (let i = to; i < l.text.length; i++) cols.push(colAt(l, i));
  return { text: l.text.slice(0, from) + text + l.text.slice(to), file: l.file, line: l.line, col: colAt(l, 0), cols };
}
/** A line whose every character stands at `pos` (a line of a multi-line definition, expanded there). */
export function lineAt(text: string, pos: Pos): Line {
  return { text, file: pos.file, line: pos.line, col: pos.col, cols: new Array<number>(text.length).fill(pos.col) };
}

export const QUOTE = 34;
export const BACKSLASH = 92;
const HASH = 35;
const BANG = 33;
export const isBlank = (c: number): boolean => c === 32 || c === 9;
export const isSpace = (c: number, t: string, i: number): boolean => c === 32 || (c >= 9 && c <= 13) || (c > 127 && /\s/.test(t[i]!));
const isNameStart = (c: number): boolean => (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
const isNameChar = (c: number): boolean => isNameStart(c) || (c >= 48 && c <= 57);

/**
 * keepalived's decomment(): drops leading blanks, the comment (`#` or `!` outside double
 * quotes, to the end of the line), the `\` of `\#` and `\!` outside quotes, and trailing
 * blanks. A line ending in `\` (even inside the comment) keeps one `\` at its end, right
 * after the last word: keepalived continues only a definition that way. An unterminated
 * quote is an error (null: the line is dropped).
 */
export function decomment(l: Line, r: Reporter): Line | null {
  const t = l.text;
  const n = t.length;
  let i = 0;
  while (i < n && isBlank(t.charCodeAt(i))) i++;
  let quote = -1;
  let skip = -1;
  let cont = -1;
  let drop: number[] | null = null;
  for (let p = i; p < n; p++) {
    const c = t.charCodeAt(p);
    if (c === QUOTE) {
      if (skip < 0) quote = quote < 0 ? p : -1;
    } else if (c === BACKSLASH) {
      if (p + 1 === n) {
        cont = p;
        break;
      }
      const d = t.charCodeAt(p + 1);
      if (quote < 0 && (d === HASH || d === BANG)) (drop ??= []).push(p);
      p++;
    } else if ((c === HASH || c === BANG) && quote < 0 && skip < 0) skip = p;
  }
  if (quote >= 0) {
    r.error(posAt(l, quote), 'unterminated quoted string');
    return null;
  }
  let end = skip >= 0 ? skip : cont >= 0 ? cont : n;
  while (end > i && isBlank(t.charCodeAt(end - 1))) end--;
  let out = cut(l, i, end);
  if (drop) for (let k = drop.length - 1; k >= 0; k--) if (drop[k]! < end) out = splice(out, drop[k]! - i, drop[k]! - i + 1, '', 0);
  if (cont >= 0) out = { ...out, text: `${out.text}\\`, cols: out.cols ? [...out.cols, colAt(out, out.text.length)] : null };
  return out;
}

/** Index of the first `{` or `}` outside double quotes and outside `${…}`, or -1. */
export function findBrace(t: string): number {
  for (let i = 0; i < t.length; i++) {
    const c = t.charCodeAt(i);
    if (c === 123 || c === 125) return i;
    if (c === QUOTE) {
      i++;
      while (i < t.length && t.charCodeAt(i) !== QUOTE) i += t.charCodeAt(i) === BACKSLASH ? 2 : 1;
      if (i >= t.length) return -1;
    } else if (c === 36 && t.charCodeAt(i + 1) === 123) {
      const ref = /^\$\{[A-Za-z_]\w*[ \d]*\}/.exec(t.slice(i));
      if (ref) i += ref[0].length - 1;
    }
  }
  return -1;
}

/** A definition: its value (lines joined by '\n' when multi-line), or the function of a pre-defined one. */
export interface Def {
  value: string;
  multiline: boolean;
  fn: ((params: string | null, pos: Pos) => string) | null;
  /** Takes `${NAME 1 2}` numbers (only `_RANDOM`). */
  params: boolean;
}

/** What the pre-defined definitions read: keepalived's config id, the current file's directory, a [0, 1) random source. */
export interface StdValues {
  instance: string;
  pwd(): string;
  random(): number;
}

/** The longest substituted line keepalived 2.2.7 keeps (its buffer is 1024 bytes). */
export const MAX_LINE = 1023;
const MAX_SUBSTITUTIONS = 1000;

/**
 * keepalived 2.2.7's parameter definitions: `$NAME=VALUE` (no blank before `=`), multi-line
 * with a trailing `\`, and `$NAME` (before white space, `,`, `)` or the line end) or `${NAME}`
 * replaced in later lines, again and again until none is left. An undefined name is kept as
 * written (a warning here; an error where keepalived would then read `${…}`'s braces as a block).
 */
export class Defs {
  private readonly map = new Map<string, Def>();

  constructor(
    std: StdValues,
    private readonly r: Reporter,
  ) {
    const builtin = (fn: Def['fn'], params = false): Def => ({ value: '', multiline: false, fn, params });
    this.map.set('_PWD', builtin(() => std.pwd()));
    this.map.set('_INSTANCE', builtin(() => std.instance));
    this.map.set('_RANDOM', builtin((params, pos) => {
      const [min = 0, max = 32767, extra] = (params ?? '').split(/ +/).filter(Boolean).map(Number);
      if (extra !== undefined || min > max) r.error(pos, `\${_RANDOM${params ? ` ${params}` : ''}} takes at most MIN and MAX, MIN <= MAX (keepalived 2.2.7 gives a wrong number otherwise)`);
      return String(min + Math.floor(std.random() * (max - min + 1)));
    }, true));
    this.map.set('_HASH', { value: '#', multiline: false, fn: null, params: false });
    this.map.set('_BANG', { value: '!', multiline: false, fn: null, params: false });
  }

  /** A ~SEQ or ~LST variable takes its next value (a plain one-line definition). */
  set(name: string, value: string): void {
    this.map.set(name, { value, multiline: false, fn: null, params: false });
  }

  /**
   * `$NAME=VALUE` at the start of `l`: stored, and returned (multi-line when VALUE ends in
   * `\`: the caller then feeds the next lines to `more`). Null when `l` is no definition;
   * false when it was meant as one but keepalived reads it otherwise (`$NAME = VALUE`).
   */
  define(l: Line): Def | null | false {
    const t = l.text;
    if (t.charCodeAt(0) !== 36 || !isNameStart(t.charCodeAt(1))) return null;
    let p = 2;
    while (p < t.length && isNameChar(t.charCodeAt(p))) p++;
    if (t.charCodeAt(p) !== 61) {
      if (/^[ \t]+=/.test(t.slice(p))) {
        this.r.error(posAt(l, 0), `'${t.slice(0, p)} =' is no definition for keepalived 2.2.7, which reads the line as keyword '${t.slice(0, p)}': write ${t.slice(0, p)}=VALUE`);
        return false;
      }
      return null;
    }
    let v = t.slice(p + 1).replace(/^[ \t]+/, '');
    const multiline = v.endsWith('\\');
    if (multiline) v = v.slice(0, -1).replace(/[ \t]+$/, '');
    const def: Def = { value: multiline && v ? `${v}\n` : v, multiline, fn: null, params: false };
    this.map.set(t.slice(1, p), def);
    return def;
  }

  /** The next line of a multi-line definition (null: an empty line); false once `def` is complete. */
  more(def: Def, text: string | null): boolean {
    let t = text ?? '';
    const cont = t.endsWith('\\');
    if (cont) t = `${t.slice(0, -1).replace(/[ \t]+$/, '')}\n`;
    else if (!def.value) def.multiline = false;
    if (t.length >= 2 || (t && !cont)) def.value += t;
    return cont;
  }

  /** The reference at `t[at]` (a `$`), to `end`, if keepalived 2.2.7 substitutes it there. */
  private find(t: string, at: number): { def: Def; end: number; params: string | null } | null {
    let i = at + 1;
    const braces = t.charCodeAt(i) === 123;
    if (braces) i++;
    if (!isNameStart(t.charCodeAt(i))) return null;
    let k = i + 1;
    while (k < t.length && isNameChar(t.charCodeAt(k))) k++;
    let params: string | null = null;
    let end = k;
    if (braces) {
      const m = /^ +(\d+(?: +\d+)*)\}/.exec(t.slice(k)) ?? /^\}/.exec(t.slice(k));
      // keepalived also takes `${NAME }` but then keeps the '}': left for unresolved() to refuse
      if (!m) return null;
      params = m[1] ?? null;
      end = k + m[0].length;
    } else if (k < t.length && !/[ \t,)]/.test(t[k]!)) return null;
    const def = this.map.get(t.slice(i, k));
    if (!def || (def.multiline && end !== t.length) || (params !== null && !def.params)) return null;
    return { def, end, params };
  }

  /**
   * keepalived's replace_param(): every reference replaced, rescanning the replacement (a
   * value starting with `~` stops the scan, for a ~SEQ to be read first). Null when nothing
   * was replaced, false after an error (the line is dropped). `rests`: for each multi-line
   * definition expanded, its lines after the first, which follow this line.
   */
  substitute(l: Line): { line: Line; rests: { lines: string[]; pos: Pos }[] } | null | false {
    let line = l;
    let t = l.text;
    let cur = 0;
    let count = 0;
    const rests: { lines: string[]; pos: Pos }[] = [];
    while ((cur = t.indexOf('$', cur)) >= 0 && cur + 1 < t.length) {
      const ref = this.find(t, cur);
      if (!ref) {
        cur++;
        continue;
      }
      const pos = posAt(line, cur);
      if (++count > MAX_SUBSTITUTIONS) {
        this.r.error(pos, `definitions refer to each other without end here (keepalived 2.2.7 never finishes reading the line)`);
        return false;
      }
      let value = ref.def.fn ? ref.def.fn(ref.params, pos) : ref.def.value;
      if (ref.def.multiline) {
        const nl = value.indexOf('\n');
        if (nl >= 0) rests.push({ lines: value.slice(nl + 1).split('\n'), pos });
        if (nl >= 0) value = value.slice(0, nl);
      }
      line = splice(line, cur, ref.end, value, pos.col);
      t = line.text;
      if (t.length > MAX_LINE / 3 && Buffer.byteLength(t) > MAX_LINE) {
        this.r.error(pos, `substitution makes the line longer than keepalived 2.2.7's ${MAX_LINE} bytes (it stops substituting there)`);
        return false;
      }
      if (/^[ \t]*~/.test(value)) break;
    }
    return count ? { line, rests } : null;
  }

  /** Reports the references left in a finished line (`l` contains a `$`). */
  unresolved(l: Line): void {
    const t = l.text;
    let q = false;
    for (let i = 0; i < t.length; i++) {
      const c = t.charCodeAt(i);
      if (q && c === BACKSLASH) i++;
      else if (c === QUOTE) q = !q;
      if (c !== 36) continue;
      const braces = t.charCodeAt(i + 1) === 123;
      const s = i + (braces ? 2 : 1);
      if (!isNameStart(t.charCodeAt(s))) continue;
      let k = s + 1;
      while (k < t.length && isNameChar(t.charCodeAt(k))) k++;
      const name = t.slice(s, k);
      const def = this.map.get(name);
      const close = t.indexOf('}', k);
      const ref = braces && close >= 0 ? t.slice(i, close + 1) : t.slice(i, k);
      const pos = posAt(l, i);
      if (braces && def && !def.multiline) this.r.error(pos, `'${ref}' is not substituted as written: keepalived 2.2.7 takes '\${${name}}'${def.params ? ` or '\${${name} MIN MAX}'` : ''} and mis-reads this`);
      else if (braces && !q && close >= 0) this.r.error(pos, `'${ref}' is ${def ? 'a multi-line definition not at the end of the line' : 'not defined'}: keepalived 2.2.7 keeps it as written and reads its braces as a block`);
      else if (!def) this.r.warn(pos, `'${ref}' is not defined: kept as written, as keepalived 2.2.7 does`);
      else if (def.multiline) this.r.warn(pos, `'${ref}' is a multi-line definition: keepalived 2.2.7 expands one only at the end of a line, and keeps it as written here`);
      else this.r.warn(pos, `'${ref}' is kept as written: keepalived 2.2.7 replaces $${name} only before white space, ',', ')' or the end of the line (write \${${name}})`);
      i = k - 1;
    }
  }
}

/** A `~SEQ`/`~SEQx`/`~LST` head: the variables, their values (`sets` for ~LST), and the line they repeat. */
export interface Seq {
  vars: string[];
  sets: string[][] | null;
  hex: boolean;
  next: number;
  step: number;
  last: number;
  text: Line;
}

/** C's strtol() base 0 (`0x1f`, `017`, `-3`) at the start of `s`. */
function strtol(s: string): { v: number; n: number } | null {
  const m = /^\s*([+-]?)(?:0[xX]([\da-fA-F]+)|(0[0-7]*)|([1-9]\d*))/.exec(s);
  if (!m) return null;
  const v = m[2] !== undefined ? parseInt(m[2], 16) : m[3] !== undefined ? parseInt(m[3], 8) : parseInt(m[4]!, 10);
  return { v: m[1] === '-' ? -v : v, n: m[0].length };
}
const NAME = /^[A-Za-z_]\w*$/;

/**
 * keepalived 2.2.7's add_seq()/add_lst(): `~SEQ(VAR, [START, [STEP,]] END) line`
 * (START 1 or -1 and STEP 1 or -1 when left out; `~SEQx` formats in hex; the numbers may be
 * definitions) and `~LST(VAR, v1, v2…)` / `~LST({A, B}, {a1, b1}, {a2}…)` (missing values
 * empty). Null after an error: vipd also refuses what keepalived silently reads as 0 or skips.
 */
export function parseSeq(l: Line, defs: Defs, r: Reporter): Seq | null {
  const t = l.text;
  const lst = t.startsWith('~LST');
  const bad = (why: string): null => (r.error(posAt(l, 0), `invalid ${lst ? '~LST' : '~SEQ'}: ${why}`), null);
  if (lst) return parseLst(l, bad);
  const h = /^~SEQ(x?)[ \t]*\([ \t]*([^ \t,)]*)[ \t]*(,?)/.exec(t);
  if (!h) return bad("'(' must follow ~SEQ");
  const [head, x, name, comma] = h as unknown as [string, string, string, string];
  if (!NAME.test(name)) return bad(`'${name}' is not a variable name`);
  const close = t.indexOf(')', head.length);
  if (!comma || close < 0) return bad('it is ~SEQ(VAR, [START, [STEP,]] END)');
  const sub = defs.substitute(lineAt(t.slice(head.length, close + 1), posAt(l, head.length)));
  if (sub === false) return null;
  if (sub?.rests.length) return bad('a parameter is a multi-line definition');
  let ps = sub ? sub.line.text : t.slice(head.length, close + 1);
  const nums: number[] = [];
  for (;;) {
    const m = strtol(ps);
    if (!m) return bad(`'${ps.replace(/[,)].*/, '').trim()}' is not a number`);
    nums.push(m.v);
    ps = ps.slice(m.n).replace(/^[ \t]+/, '');
    if (ps[0] === ')') break;
    if (ps[0] !== ',' || nums.length === 3) return bad('it is ~SEQ(VAR, [START, [STEP,]] END)');
    ps = ps.slice(1);
  }
  const [a, b, c] = nums as [number, number, number];
  const [start, step, end] = nums.length === 1 ? [a < 0 ? -1 : 1, a < 1 ? -1 : 1, a] : nums.length === 2 ? [a, a <= b ? 1 : -1, b] : [a, b, c];
  if (!step || (start < end && step < 0) || (start > end && step > 0)) return bad('the step is 0 or goes away from the end');
  if (x && (start < 0 || end < 0)) return bad('~SEQx takes no negative numbers');
  let p = close + 1;
  while (isBlank(t.charCodeAt(p))) p++;
  return { vars: [name], sets: null, hex: !!x, next: start, step, last: end, text: cut(l, p) };
}

function parseLst(l: Line, bad: (why: string) => null): Seq | null {
  const t = l.text;
  let p = 4;
  const ws = (): void => {
    while (isBlank(t.charCodeAt(p))) p++;
  };
  /** One name or value, or a `{…}` group of them, each ending at a character of `stop`. */
  const group = (stop: string): string[] | null => {
    const out: string[] = [];
    const braced = t[p] === '{';
    if (braced) p++;
    for (;;) {
      ws();
      const s = p;
      while (p < t.length && !stop.includes(t[p]!)) p++;
      out.push(t.slice(s, p));
      ws();
      if (!braced) return out;
      if (t[p] === '}') break;
      if (t[p++] !== ',') return null;
    }
    p++;
    ws();
    return out;
  };
  ws();
  if (t[p++] !== '(') return bad("'(' must follow ~LST");
  ws();
  const vars = group(' \t,}');
  if (!vars || !vars.every((v) => NAME.test(v))) return bad('it is ~LST(VAR, v1, v2…) or ~LST({VAR1, VAR2…}, {v1, v2…}…)');
  if (t[p++] !== ',') return bad("a ',' must follow the variables");
  const sets: string[][] = [];
  for (;;) {
    ws();
    const set = group(' \t,})');
    if (!set) return bad('a value set is not closed by }');
    if (set.length > vars.length) return bad(`a value set has more values than the ${vars.length} variable(s)`);
    sets.push(set);
    if (t[p] === ')') break;
    if (t[p++] !== ',') return bad("values are separated by ',' and end with ')'");
  }
  p++;
  ws();
  return { vars, sets, hex: false, next: 0, step: 1, last: 0, text: cut(l, p) };
}
