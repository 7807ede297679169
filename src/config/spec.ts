/**
 * The keyword table's shape and the builder that walks a block with it.
 *
 * One table per keepalived.conf block (`global_defs`, `vrrp_instance`, `vrrp_script`, …)
 * drives three things: the parser (each keyword's `handle`), the compatibility reference
 * (`docs/keepalived-compat.md`, generated from the tables) and the warnings vipd prints for
 * what it reads but does not act on. A keyword absent from its block's table is an error with
 * a "did you mean" suggestion: keepalived 2.2.7 logs "Unknown keyword" and goes on, vipd
 * refuses the file (a typo in `nopreempt` silently changes who owns the address).
 */
import type { Pos } from './lexer.js';
import type { Statement } from './tree.js';

/**
 * What vipd does with a keyword:
 * - `implemented`: acted on as keepalived 2.2.7 does (differences in `note`).
 * - `planned`: parsed into the model and checked, not acted on yet; a warning with file:line
 *   names the issue that implements it and says what keepalived would have done.
 * - `outside`: outside what vipd is for (LVS, SNMP, DBus, BFD, process layout); parsed
 *   loosely and warned about with what to run instead.
 * - `not-needed`: keepalived tuning that vipd's design makes moot; warned, with why.
 */
export type KwStatus = 'implemented' | 'planned' | 'outside' | 'not-needed';

export interface Kw<C> {
  name: string;
  /** The keyword's arguments as keepalived.conf(5) gives them, for the reference. */
  syntax: string;
  status: KwStatus;
  /** For `planned`: the issue that implements it (none: no issue has it yet). */
  issue?: number;
  /** keepalived 2.2.7's default when the keyword is absent, as text (reference only). */
  kaDefault?: string;
  /** What vipd does or, for a warned keyword, what keepalived would have done (one sentence). */
  note: string;
  /** May stand more than once in its block (a list); otherwise a second one is an error. */
  repeat?: boolean;
  /** Sub-block table, for the reference (the handler walks it). */
  sub?: Table<never>;
  /** Reads the statement into `ctx`, reporting problems through `b`. */
  handle(b: Builder, st: Statement, ctx: C): void;
}

export interface Table<C> {
  /** The block as the reference names it: `global_defs`, `vrrp_instance`, `top level`. */
  block: string;
  keywords: Kw<C>[];
}

export interface Diagnostic {
  pos: Pos;
  message: string;
}

/** Edit distance, for "did you mean" (small words only). */
function distance(a: string, b: string): number {
  const d = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0]!;
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = d[j]!;
      d[j] = Math.min(d[j]! + 1, d[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return d[b.length]!;
}

/** The closest of `names` to `word`, when close enough to be a typo. */
export function suggest(word: string, names: Iterable<string>): string | null {
  let best: string | null = null;
  let bestD = Infinity;
  for (const n of names) {
    const dd = distance(word.toLowerCase(), n);
    if (dd < bestD) {
      bestD = dd;
      best = n;
    }
  }
  return best !== null && bestD <= Math.max(2, Math.floor(word.length / 4)) ? best : null;
}

const INT = /^[+-]?\d+$/;
const DEC = /^\d+(\.\d+)?$/;

/** Collects errors and warnings; small readers for keepalived's argument forms. */
export class Builder {
  readonly errors: Diagnostic[] = [];
  readonly warnings: Diagnostic[] = [];
  /**
   * What the file says but could not be read, because of an error already reported: keywords
   * (`track_script`) and named blocks (`vrrp_script chk`) whose statement had an error, and
   * the keyword an unknown one was suggested for (`virtual_router_idd` is a broken
   * `virtual_router_id`). A check that would call such a thing missing stays quiet: one
   * mistake, one error. Read with `isBroken`.
   */
  private readonly broken = new Set<string>();
  /** Every keyword of every table, for suggestions across blocks ("it belongs in global_defs"). */
  private readonly homes = new Map<string, string>();

  err(pos: Pos, message: string): void {
    this.errors.push({ pos, message });
  }
  warn(pos: Pos, message: string): void {
    this.warnings.push({ pos, message });
  }

  /** Makes `tables`' keywords known for the "belongs in" hint of an unknown keyword. */
  know(...tables: Table<never>[]): void {
    for (const t of tables) for (const k of t.keywords) if (!this.homes.has(k.name)) this.homes.set(k.name, t.block);
  }

  /** True when `keyword` (with first argument `name`, when given) was written but not read because of an error already reported. */
  isBroken(keyword: string, name?: string): boolean {
    return this.broken.has(name === undefined ? keyword : `${keyword} ${name}`);
  }
  private markBroken(keyword: string, st: Statement): void {
    this.broken.add(keyword);
    if (st.args[0]) this.broken.add(`${keyword} ${st.args[0].text}`);
  }

  /**
   * Runs `stmts` through `table` into `ctx`: unknown keywords are errors, repeats checked,
   * warnings for what is not acted on. Returns the keywords of `table` written but broken:
   * those whose statement had an error, and those a misspelt keyword was taken for
   * (`interfce` -> `interface`). A "required" check skips them: their error is already told.
   */
  walk<C>(table: Table<C>, stmts: readonly Statement[], ctx: C, where = table.block): Set<string> {
    const seen = new Map<string, Pos>();
    const broken = new Set<string>();
    for (const st of stmts) {
      const kw = table.keywords.find((k) => k.name === st.keyword);
      if (!kw) {
        const meant = this.unknown(st, table, where);
        if (meant !== null) {
          broken.add(meant);
          this.markBroken(meant, st);
        }
        continue;
      }
      if (!kw.repeat) {
        const first = seen.get(st.keyword);
        if (first) this.warn(st.pos, `'${st.keyword}' given again in ${where} (line ${first.line} is overridden, as keepalived does)`);
        seen.set(st.keyword, st.pos);
      }
      const before = this.errors.length;
      kw.handle(this, st, ctx);
      if (this.errors.length === before) this.statusWarning(kw, st.pos);
      else {
        broken.add(kw.name);
        this.markBroken(kw.name, st);
      }
    }
    return broken;
  }

  /** The warning of a keyword vipd reads but does not act on. */
  statusWarning(kw: Kw<never> | Kw<unknown>, pos: Pos): void {
    if (kw.status === 'planned') this.warn(pos, `'${kw.name}' is read but not acted on yet${kw.issue ? ` (issue #${kw.issue})` : ''}: ${kw.note}`);
    else if (kw.status === 'outside' || kw.status === 'not-needed') this.warn(pos, `'${kw.name}' is not acted on by vipd: ${kw.note}`);
  }

  /** The error for a keyword not in `table`; returns the keyword of `table` it is a likely typo of, if any. */
  unknown(st: Statement, table: Table<never> | Table<unknown>, where: string): string | null {
    const names = table.keywords.map((k) => k.name);
    const home = this.homes.get(st.keyword);
    if (home && home !== table.block) {
      this.err(st.pos, `'${st.keyword}' belongs in ${home}, not in ${where}`);
      return null;
    }
    const s = suggest(st.keyword, names);
    this.err(st.pos, `unknown keyword '${st.keyword}' in ${where}${s ? ` (did you mean '${s}'?)` : ''}`);
    return s;
  }

  /** Between `min` and `max` arguments, and no block. */
  words(st: Statement, min: number, max = min): string[] | null {
    const n = st.args.length;
    if (n < min || n > max) {
      const want = min === max ? (min === 0 ? 'no argument' : min === 1 ? 'one argument' : `${min} arguments`) : max === Infinity ? `at least ${min} argument${min === 1 ? '' : 's'}` : `${min} to ${max} arguments`;
      this.err(n > max ? st.args[max]!.pos : st.pos, `'${st.keyword}' takes ${want}, got ${n}`);
      return null;
    }
    if (st.block) this.err(st.pos, `'${st.keyword}' takes no block`);
    return st.args.map((a) => a.text);
  }
  /** A keyword without argument (a flag). */
  flag(st: Statement): boolean {
    return this.words(st, 0) !== null;
  }
  /** One word. */
  word(st: Statement): string | null {
    return this.words(st, 1)?.[0] ?? null;
  }
  /** One integer in [min, max] (keepalived's read_int/read_unsigned: decimal only). */
  int(st: Statement, min: number, max: number): number | null {
    const w = this.word(st);
    return w === null ? null : this.intAt(st, 0, min, max);
  }
  /** Argument `i` as an integer in [min, max]. */
  intAt(st: Statement, i: number, min: number, max: number): number | null {
    const a = st.args[i];
    if (!a) {
      this.err(st.pos, `'${st.keyword}' needs a value`);
      return null;
    }
    const v = Number(a.text);
    if (!INT.test(a.text) || v < min || v > max) {
      this.err(a.pos, `'${st.keyword}' must be an integer from ${min} to ${max}, got '${a.text}'`);
      return null;
    }
    return v;
  }
  /** One decimal number (seconds, as keepalived's read_decimal_unsigned) in [min, max]. */
  num(st: Statement, min: number, max: number): number | null {
    const w = this.word(st);
    if (w === null) return null;
    const v = Number(w);
    if (!DEC.test(w) || v < min || v > max) {
      this.err(st.args[0]!.pos, `'${st.keyword}' must be a number from ${min} to ${max}, got '${w}'`);
      return null;
    }
    return v;
  }
  /** The statement's block; an error if it has none (unless one was just told about its arguments: "takes a { block }, not arguments"). */
  block(st: Statement): Statement[] {
    if (!st.block) {
      const last = this.errors[this.errors.length - 1]?.pos;
      const told = last && st.args.some((a) => a.pos.file === last.file && a.pos.line === last.line && a.pos.col === last.col);
      if (!told) this.err(st.pos, `'${st.keyword}' needs a { block }`);
      return [];
    }
    return st.block;
  }
  /** A block whose lines are single words (unicast_peer, group, notification_email …). */
  list(st: Statement): { text: string; pos: Pos; st: Statement }[] {
    if (st.args.length) this.err(st.args[0]!.pos, `'${st.keyword}' takes a { block } of entries, not arguments on its line`);
    return this.block(st).map((s) => ({ text: s.keyword, pos: s.pos, st: s }));
  }
}

/** A table entry for a keyword that is only warned about (outside vipd, or not needed). */
export function warned<C>(name: string, status: 'outside' | 'not-needed', note: string, syntax = '…', extra: Partial<Kw<C>> = {}): Kw<C> {
  return { name, syntax, status, note, repeat: true, handle: () => undefined, ...extra };
}
