/**
 * keepalived.conf statement tree, read as keepalived 2.2.7's lib/parser.c reads lines before it
 * looks at keywords: `include` is textual (a block may open in one file and close in another),
 * `@ID` / `@^ID` conditional lines, `$NAME=VALUE` definitions (multi-line with `\`) and their
 * substitution, `~SEQ` / `~LST` line replication, and a `{` or `}` anywhere outside quotes
 * splitting the line. The result is `keyword args... [{ statements }]`, one statement per line
 * part. The only I/O is through the `FileSource` the caller gives (async on the daemon side).
 * It streams: lines are read one at a time and split into words in a reused array, so no
 * token objects are kept (a 1000-instance file's tree is ~3 KB an instance).
 *
 * Where keepalived silently mis-reads (a missing plain include, an include loop, `$NAME =`,
 * a `\` ending a plain line, an undefined `${NAME}` whose braces become a block, …) vipd
 * reports an error with file:line:column; where it quietly keeps something odd, a warning.
 */
import { ConfigFileError, openInclude, type IncludeReq, type IncludeSink } from './fs-source.js';
import { BACKSLASH, cut, decomment, Defs, findBrace, isBlank, isSpace, lineAt, MAX_LINE, parseSeq, posAt, QUOTE, type Def, type Line, type Pos, type Reporter, type Seq } from './lexer.js';
import { ConfigErrors } from './model.js';
import type { Diagnostic } from './spec.js';
import { Blocks } from './tree-braces.js';

export interface Statement {
  keyword: string;
  /** Words after the keyword; `quoted` when written in double quotes (keepalived keeps such a word whole). */
  args: readonly { text: string; pos: Pos; quoted: boolean }[];
  block: Statement[] | null;
  pos: Pos;
}

/** What is at a path, following symbolic links: `exec` is a regular file with an execute bit. */
export type FileKind = 'file' | 'exec' | 'dir' | 'other';

export interface FileSource {
  read(path: string): Promise<string>;
  /** Expand a glob (absolute pattern, no braces) to existing paths, files or not, sorted. */
  glob(pattern: string): Promise<string[]>;
  resolve(fromFile: string, path: string): string;
  /** What is at `path`, null when nothing. Without it every path is taken as a readable regular file. */
  kind?(path: string): Promise<FileKind | null>;
  /** The host name up to its first dot: keepalived's default config id (`-i`). */
  hostname?(): string;
}

export interface ParseOptions {
  /** keepalived's config id (`-i ID`): `@ID line` is kept only when ID equals it, `@^ID line` only when not. Default: `src.hostname()`. */
  configId?: string;
  /** [0, 1) source for `${_RANDOM}` (default Math.random). */
  random?: () => number;
  /**
   * Awaited every PAUSE_LINES lines and between parsing and building (a running daemon's
   * reload: its event loop sends 10 ms adverts meanwhile; the parse of 1000 lines takes 5-30 ms).
   */
  pause?: () => Promise<void>;
}

/** Lines between two `pause()` calls. */
const PAUSE_LINES = 200;

export interface ParseResult {
  statements: Statement[];
  warnings: Diagnostic[];
}

interface Frame {
  file: string;
  text: string;
  off: number;
  lineNo: number;
  /** The glob's further files, read after this one. */
  queue: { file: string; text: string }[];
}
/** The lines of a multi-line definition still to come, at the position of its reference. */
interface Pending {
  lines: string[];
  i: number;
  pos: Pos;
  /** The ~SEQ depth under which these lines come before the ~SEQ's next value. */
  depth: number;
}

const INCLUDE = 1;

/** keepalived's read_line(): the next logical line, in the order keepalived produces them. */
/** At most this many lines after ~SEQ and definition expansion (a 1000-instance file has ~11 000). */
const MAX_LINES = 200_000;

class Reader implements IncludeSink {
  readonly errors: Diagnostic[] = [];
  readonly warnings: Diagnostic[] = [];
  readonly frames: Frame[] = [];
  readonly defs: Defs;
  req: IncludeReq | null = null;
  filesRead = 0;
  /** Lines produced, ~SEQ and definition expansions included (bounded by MAX_LINES). */
  private lines = 0;
  private readonly seen = new Set<string>();
  private residue: Line | null = null;
  private readonly seqs: Seq[] = [];
  private mlDepth = 0;
  private pending: Pending | null = null;
  private readonly mlStack: Pending[] = [];
  private collecting: Def | null = null;

  constructor(
    private readonly configId: string | undefined,
    random: () => number,
    dirOf: (file: string) => string,
  ) {
    this.defs = new Defs({ instance: configId ?? '', random, pwd: () => dirOf(this.frames[this.frames.length - 1]?.file ?? '') }, this);
  }

  error(pos: Pos, message: string): void {
    this.note(this.errors, pos, message);
  }
  warn(pos: Pos, message: string): void {
    this.note(this.warnings, pos, message);
  }
  /** A ~SEQ repeats a line: its problems are told once. */
  private note(list: Diagnostic[], pos: Pos, message: string): void {
    const key = `${pos.file}:${pos.line}:${pos.col}:${message}`;
    if (!this.seen.has(key)) list.push({ pos, message });
    this.seen.add(key);
  }

  push(files: { file: string; text: string }[]): void {
    const [first, ...queue] = files;
    this.frames.push({ file: first!.file, text: first!.text, off: 0, lineNo: 0, queue });
  }

  /** The next line: a `{`, a `}`, words, INCLUDE (then `req` says what to open), or null at the end. */
  next(): Line | null | typeof INCLUDE {
    for (;;) {
      let l: Line;
      if (this.residue) {
        l = this.residue;
        this.residue = null;
      } else if (this.seqs.length > this.mlDepth) l = this.seqStep();
      else if (this.pending) l = this.pendingStep();
      else {
        const p = this.physical();
        if (!p) return null;
        l = p;
      }
      if (++this.lines > MAX_LINES) {
        this.error(posAt(l, 0), `the configuration expands to more than ${MAX_LINES} lines (a ~SEQ or a definition that repeats without bound?); reading stops here`);
        return null;
      }
      if (this.collecting) {
        if (!this.defs.more(this.collecting, l.text)) this.collecting = null;
        continue;
      }
      let out = l.text ? this.process(l) : null;
      if (!out?.text) continue;
      if (out.text.endsWith('\\')) {
        this.error(posAt(out, out.text.length - 1), "a '\\' ends the line: keepalived 2.2.7 continues only a $NAME= definition so, and keeps it as part of the last word here");
        if (!(out = cut(out, 0, out.text.length - 1)).text) continue;
      }
      const inc = out.text.startsWith('include') ? this.include(out) : null;
      if (inc) return INCLUDE;
      if (inc === false) continue;
      return this.braces(out);
    }
  }

  /** The next non-empty line of the files, decommented. An empty line ends a multi-line definition. */
  private physical(): Line | null {
    for (;;) {
      const f = this.frames[this.frames.length - 1];
      if (!f) return null;
      if (f.off >= f.text.length) {
        const nx = f.queue.shift();
        if (nx) Object.assign(f, { file: nx.file, text: nx.text, off: 0, lineNo: 0 });
        else this.frames.pop();
        continue;
      }
      const t = f.text;
      const nl = t.indexOf('\n', f.off);
      let e = nl < 0 ? t.length : nl;
      while (e > f.off && t.charCodeAt(e - 1) === 13) e--;
      const start = f.off;
      f.off = nl < 0 ? t.length : nl + 1;
      f.lineNo++;
      if (e === start) {
        if (this.collecting && !this.defs.more(this.collecting, null)) this.collecting = null;
        continue;
      }
      const raw: Line = { text: t.slice(start, e), file: f.file, line: f.lineNo, col: 1, cols: null };
      if (e - start > MAX_LINE / 3 && Buffer.byteLength(raw.text) > MAX_LINE) {
        this.error(posAt(raw, 0), `line longer than keepalived 2.2.7's ${MAX_LINE} bytes (it would read the rest as another line)`);
        continue;
      }
      const l = decomment(raw, this);
      if (l?.text) return l;
    }
  }

  private seqStep(): Line {
    const s = this.seqs[this.seqs.length - 1]!;
    if (s.sets) {
      const set = s.sets[s.next]!;
      s.vars.forEach((v, k) => this.defs.set(v, set[k] ?? ''));
      if (++s.next >= s.sets.length) this.seqs.pop();
    } else {
      this.defs.set(s.vars[0]!, s.hex ? s.next.toString(16) : String(s.next));
      s.next += s.step;
      if ((s.step > 0 && s.next > s.last) || (s.step < 0 && s.next < s.last)) this.seqs.pop();
    }
    return s.text;
  }

  private pendingStep(): Line {
    const p = this.pending!;
    const text = p.lines[p.i++]!;
    if (p.i >= p.lines.length) {
      this.pending = this.mlStack.pop() ?? null;
      this.mlDepth = this.pending?.depth ?? 0;
    }
    return lineAt(text, p.pos);
  }

  /** Conditionals, definitions, ~SEQ/~LST heads and substitution, until the line is stable. Null: nothing left. */
  private process(l: Line): Line | null {
    let line = l;
    // keepalived strips '@ID ' with the length the line had before this round's substitutions
    let stale = line.text.length;
    for (;;) {
      let t = line.text;
      if (t.charCodeAt(0) === 64) {
        const rev = t.charCodeAt(1) === 94;
        const ofs = rev ? 2 : 1;
        const sp = t.slice(ofs).search(/[ \t]/);
        if (sp < 0) {
          this.warn(posAt(line, 0), `'${t}' has nothing after its config id: keepalived 2.2.7 ignores the line`);
          return null;
        }
        const id = t.slice(ofs, ofs + sp);
        if ((this.configId === undefined || id !== this.configId) !== rev) return null;
        let rest = ofs + sp;
        while (isBlank(t.charCodeAt(rest))) rest++;
        if (t.length > stale) {
          this.error(posAt(line, 0), `keepalived 2.2.7 mis-reads a '@${id}' that a substitution longer than its reference put at the start of the line: write '@${id}' in the line itself`);
          return null;
        }
        stale -= rest;
        line = cut(line, rest);
        t = line.text;
      }
      if (t.charCodeAt(0) === 36) {
        const def = this.defs.define(line);
        if (def === false) return null;
        if (def) {
          if (def.multiline) this.collecting = def;
          return null;
        }
      }
      if (t.startsWith('~SEQ') || t.startsWith('~LST')) {
        const s = parseSeq(line, this.defs, this);
        if (s) this.seqs.push(s);
        return null;
      }
      if (t.charCodeAt(0) === 126) {
        this.error(posAt(line, 0), `'${t.split(/[\s(]/)[0]}': keepalived 2.2.7 knows only ~SEQ, ~SEQx and ~LST (it would read this as a keyword)`);
        return null;
      }
      if (!t.includes('$')) return line;
      const sub = this.defs.substitute(line);
      if (sub === false) return null;
      if (sub === null) {
        this.defs.unresolved(line);
        return line;
      }
      for (const rest of sub.rests) {
        if (this.pending) this.mlStack.push(this.pending);
        this.pending = { lines: rest.lines, i: 0, pos: rest.pos, depth: (this.mlDepth = this.seqs.length) };
      }
      const d = decomment(sub.line, this);
      if (!d?.text) return null;
      line = d;
      if (line.text.charCodeAt(0) !== 64 && !line.text.includes('$')) return line;
    }
  }

  /** keepalived's check_include(): true when `req` is set, false after an error, null when no include. */
  private include(l: Line): boolean | null {
    const m = /^include([rmwba]?)(?:\s+(.*))?$/s.exec(l.text);
    if (!m) return null;
    const [, v = '', rest] = m;
    if (rest) this.req = { word: `include${v}`, pattern: rest, pos: posAt(l, 0) };
    else this.error(posAt(l, 0), `include${v} needs a file name or glob`);
    return !!rest;
  }

  /** keepalived splits a line at its first `{` or `}` outside quotes; the rest is read next. */
  private braces(l: Line): Line {
    const t = l.text;
    const c0 = t.charCodeAt(0);
    const p = c0 === 123 || c0 === 125 ? 0 : findBrace(t);
    if (p < 0) return l;
    if (p === 0) {
      let s = 1;
      while (isBlank(t.charCodeAt(s))) s++;
      if (s < t.length) this.residue = cut(l, s);
      return cut(l, 0, 1);
    }
    let e = p;
    while (e > 0 && isBlank(t.charCodeAt(e - 1))) e--;
    this.residue = cut(l, p);
    return cut(l, 0, e);
  }
}

type Word = Statement['args'][number];

/**
 * The words of `l` into `out` (emptied first): white space separates words, a double-quoted
 * string is one word without its quotes (`\` escapes the next character in it), and a quote
 * also ends an unquoted word. keepalived 2.2.7 reads a quoted string the same way except for
 * the `\` escapes (it keeps `\"` as `\` and ends the string there). False, with an error,
 * on an unterminated quote.
 */
function splitWords(l: Line, out: Word[], r: Reporter): boolean {
  out.length = 0;
  const t = l.text;
  const n = t.length;
  let i = 0;
  while (i < n) {
    const c = t.charCodeAt(i);
    if (isSpace(c, t, i)) {
      i++;
      continue;
    }
    const start = i;
    if (c === QUOTE) {
      let s = '';
      let from = ++i;
      while (i < n && t.charCodeAt(i) !== QUOTE) {
        if (t.charCodeAt(i) === BACKSLASH && i + 1 < n) {
          s += t.slice(from, i);
          from = ++i;
        }
        i++;
      }
      if (i >= n) {
        r.error(posAt(l, start), 'unterminated quoted string');
        return false;
      }
      out.push({ text: s + t.slice(from, i), pos: posAt(l, start), quoted: true });
      i++;
      continue;
    }
    while (i < n && t.charCodeAt(i) !== QUOTE && !isSpace(t.charCodeAt(i), t, i)) i++;
    out.push({ text: t.slice(start, i), pos: posAt(l, start), quoted: false });
  }
  return true;
}

const NO_ARGS: Statement['args'] = Object.freeze([]);
/** Words of the line being read (reused: a statement copies its arguments out at their length). */
const scratch: Word[] = [];

/**
 * The statements of `path` with what keepalived 2.2.7 does to lines before keywords (see the
 * file comment), and the warnings for what it keeps but vipd finds doubtful. Throws
 * `ConfigErrors` listing every error (file:line:column), with the warnings so far, or
 * `ConfigFileError` when `path` itself cannot be read.
 */
export async function parseFileWithWarnings(path: string, src: FileSource, opts: ParseOptions = {}): Promise<ParseResult> {
  let text: string;
  try {
    if (src.kind && (await src.kind(path)) === 'exec') throw new Error('an executable file (keepalived 2.2.7 reads nothing from it and reports success)');
    text = await src.read(path);
  } catch (e) {
    throw new ConfigFileError(path, e);
  }
  const rd = new Reader(opts.configId ?? src.hostname?.(), opts.random ?? Math.random, (f) => src.resolve(f, '.'));
  rd.push([{ file: path, text }]);
  const top: Statement[] = [];
  const blocks = new Blocks(top, rd);
  for (let n = 1; ; n++) {
    if (opts.pause && n % PAUSE_LINES === 0) await opts.pause();
    const l = rd.next();
    if (l === null) break;
    if (l === INCLUDE) {
      const req = rd.req!;
      rd.req = null;
      await openInclude(req, rd.frames[rd.frames.length - 1]!.file, rd, src);
      continue;
    }
    const t = l.text;
    // keepalived takes a block on the line after its keyword too
    if (t === '{') blocks.openBrace(posAt(l, 0));
    else if (t === '}') blocks.closeBrace(posAt(l, 0));
    else if (splitWords(l, scratch, rd) && scratch.length) {
      const kw = scratch[0]!;
      blocks.add({ keyword: kw.text, args: scratch.length > 1 ? scratch.slice(1) : NO_ARGS, block: null, pos: kw.pos });
    }
  }
  blocks.end();
  if (rd.errors.length) throw new ConfigErrors(rd.errors, rd.warnings);
  return { statements: top.slice(), warnings: rd.warnings };
}

/** The statements only (see `parseFileWithWarnings`). */
export async function parseFile(path: string, src: FileSource, opts: ParseOptions = {}): Promise<Statement[]> {
  return (await parseFileWithWarnings(path, src, opts)).statements;
}
