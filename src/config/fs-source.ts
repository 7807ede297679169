/**
 * The real file system behind the config loader (async), with the glob(3) that keepalived
 * 2.2.7's `include` uses: `*`, `?`, `[…]` (`[!…]` negated), names starting with `.` only
 * matched by a pattern starting with `.`, each directory's names sorted, and csh braces
 * (`{a,b}`, nested; GLOB_BRACE) expanded first by `expandBraces`; and what keepalived's
 * `include` does with what the glob finds (`openInclude`), for any `FileSource`.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import type { Pos, Reporter } from './lexer.js';
import { ConfigErrors } from './model.js';
import type { FileKind, FileSource } from './tree.js';

/** `a{b,c{d,e}}f` -> `abf`, `acdf`, `acef`, in order; a `{` without a matching `}` stays as it is. */
export function expandBraces(p: string, max = MAX_BRACE_PATTERNS): string[] {
  const out = expandAll(p, max);
  return out.length > max ? out.slice(0, max + 1) : out;
}

/** At most this many patterns from one include's braces (each more is an error, never a hang). */
export const MAX_BRACE_PATTERNS = 4096;
/** At most this many files read for one configuration, includes counted (a fan-out or a glob that includes itself grows as n^depth or n!). */
export const MAX_FILES_READ = 2000;

function expandAll(p: string, max: number): string[] {
  let depth = 0;
  let open = -1;
  for (let i = 0; i < p.length; i++) {
    const c = p[i];
    if (c === '\\') i++;
    else if (c === '{' && depth++ === 0) open = i;
    else if (c === '}' && depth > 0 && --depth === 0) {
      const alts: string[] = [];
      let d = 0;
      let from = open + 1;
      for (let j = from; j < i; j++) {
        const x = p[j];
        if (x === '\\') j++;
        else if (x === '{') d++;
        else if (x === '}') d--;
        else if (x === ',' && d === 0) {
          alts.push(p.slice(from, j));
          from = j + 1;
        }
      }
      alts.push(p.slice(from, i));
      const out: string[] = [];
      for (const a of alts) {
        out.push(...expandAll(p.slice(0, open) + a + p.slice(i + 1), max));
        if (out.length > max) break;
      }
      return out;
    }
  }
  return [p];
}

function globToRegExp(seg: string): RegExp {
  let re = '';
  for (let i = 0; i < seg.length; i++) {
    const c = seg[i]!;
    const close = c === '[' ? seg.indexOf(']', i + 2) : -1;
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (close > 0) {
      let set = seg.slice(i + 1, close);
      const neg = set[0] === '!' || set[0] === '^';
      if (neg) set = set.slice(1);
      re += `[${neg ? '^' : ''}${set.replace(/[\\\]^]/g, '\\$&')}]`;
      i = close;
    } else if (c === '\\' && i + 1 < seg.length) re += seg[++i]!.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    else re += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

const WILD = /[*?[]/;

async function expand(dir: string, segs: string[]): Promise<string[]> {
  if (segs.length === 0) return [dir];
  const [seg, ...rest] = segs as [string, ...string[]];
  if (!WILD.test(seg)) return expand(join(dir, seg.replace(/\\(.)/g, '$1')), rest);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const re = globToRegExp(seg);
  const dots = seg.startsWith('.');
  const out: string[] = [];
  for (const n of names.filter((x) => re.test(x) && (dots || !x.startsWith('.'))).sort()) out.push(...(await expand(join(dir, n), rest)));
  return out;
}

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}

export const fsSource: FileSource = {
  read: (p) => readFile(p, 'utf8'),
  async glob(pattern) {
    const found = await expand('/', pattern.split('/').filter(Boolean));
    const out: string[] = [];
    for (const f of found) if (await exists(f)) out.push(f);
    return out;
  },
  resolve: (from, p) => (isAbsolute(p) ? p : resolve(dirname(resolve(from)), p)),
  async kind(p): Promise<FileKind | null> {
    try {
      const s = await stat(p);
      if (s.isDirectory()) return 'dir';
      if (!s.isFile()) return 'other';
      return s.mode & 0o111 ? 'exec' : 'file';
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      return code === 'ENOENT' || code === 'ENOTDIR' ? null : 'file';
    }
  },
  hostname: () => hostname().split('.')[0]!,
};

/** An `include` line: `include` or a variant (`includer`, `includem`, `includew`, `includeb`, `includea`), and the rest of the line. */
export interface IncludeReq {
  word: string;
  pattern: string;
  pos: Pos;
}
/** Where `openInclude` reports and puts the files it read (in glob order, read one after the other). */
export interface IncludeSink extends Reporter {
  readonly frames: readonly { file: string }[];
  /** Files read so far for this configuration (bounded by MAX_FILES_READ). */
  filesRead: number;
  push(files: { file: string; text: string }[]): void;
}

/** Include nesting beyond this is refused (keepalived has no limit; a loop is caught before). */
const MAX_INCLUDE_DEPTH = 32;
/** keepalived's include checks: readable (what is found is a readable, non-executable regular file), match (its directory exists), wildcard match, brace match. */
const R = 1;
const M = 2;
const W = 4;
const B = 8;
const CHECKS: Record<string, number> = { include: 0, includer: R, includem: R | M, includew: R | M | W, includeb: R | B, includea: R | M | W | B };

/** Why a file could not be read, in words (`no such file`, `permission denied`, `a directory`); else the error's message. */
export function whyNot(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'ENOTDIR') return 'no such file';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'EISDIR') return 'a directory';
  if (code === 'ELOOP') return 'too many symbolic links';
  return (e as Error).message;
}

/**
 * The configuration file itself cannot be read: no line to point at, so the CLI prints
 * `vipd: cannot read FILE: REASON` (and exits 2), not a `FILE:LINE:COL:` diagnostic. Its one
 * entry in `errors` has line and column 0.
 */
export class ConfigFileError extends ConfigErrors {
  readonly reason: string;
  constructor(
    readonly path: string,
    cause: unknown,
  ) {
    const reason = whyNot(cause);
    super([{ pos: { file: path, line: 0, col: 0 }, message: `cannot read ${path}: ${reason}` }]);
    this.reason = reason;
    this.message = `cannot read ${path}: ${reason}`;
    this.name = 'ConfigFileError';
  }
}

/**
 * keepalived 2.2.7's include: the rest of the line is one pattern (blanks and quotes
 * included), brace alternatives expanded, each globbed (or taken as a path) relative to the
 * file being read (`from`). vipd refuses what keepalived skips with a message but no error
 * (a missing or executable file, a directory, a loop), except that a glob matching nothing,
 * or matching a directory, is only a warning for plain `include` as for keepalived.
 */
export async function openInclude(req: IncludeReq, from: string, sink: IncludeSink, src: FileSource): Promise<void> {
  const { word, pattern, pos } = req;
  const checks = CHECKS[word] ?? 0;
  if (sink.frames.length >= MAX_INCLUDE_DEPTH) return sink.error(pos, `includes nested deeper than ${MAX_INCLUDE_DEPTH}`);
  const files: { file: string; text: string }[] = [];
  const alts = expandBraces(pattern);
  if (alts.length > MAX_BRACE_PATTERNS) return sink.error(pos, `include '${pattern}': its braces make more than ${MAX_BRACE_PATTERNS} patterns`);
  const odd = /[\s"]/.test(pattern) ? ' (keepalived 2.2.7 takes the rest of the line, quotes and blanks included, as one file name)' : '';
  for (const alt of alts) {
    const wild = WILD.test(alt);
    const found = wild ? await src.glob(src.resolve(from, alt)) : [src.resolve(from, alt)];
    if (!found.length) {
      const abs = src.resolve(from, alt);
      const dir = abs.slice(0, abs.search(WILD)).replace(/[^/]*$/, '');
      const noDir = checks & M && src.kind && (await src.kind(dir)) !== 'dir';
      if (checks & W || noDir || (checks & B && alts.length > 1)) sink.error(pos, `${word} '${alt}' matched no file (an error for ${word} in keepalived 2.2.7 too)`);
      else sink.warn(pos, `include '${alt}' matched no file: nothing included, as keepalived 2.2.7 does`);
      continue;
    }
    for (const f of found) {
      const kind = src.kind ? await src.kind(f) : 'file';
      if (kind !== 'file') {
        const why = kind === null ? 'no such file' : kind === 'dir' ? 'a directory' : kind === 'exec' ? 'an executable file' : 'not a regular file';
        const ka = kind ? ' (keepalived 2.2.7 skips it)' : checks & M ? ' (keepalived 2.2.7 reports "Config files missing" as an error)' : ' (keepalived 2.2.7 logs "Config files missing" and reads on without it)';
        if (!wild || checks & R) sink.error(pos, `cannot read included file ${f}: ${why}${ka}${kind ? '' : odd}`);
        else sink.warn(pos, `included ${f} is ${why}: skipped, as keepalived 2.2.7 does`);
      } else if (sink.frames.some((fr) => fr.file === f)) {
        sink.error(pos, `include loop: ${f} is already being read (keepalived 2.2.7 reads it again until it runs out of file descriptors)`);
      } else {
        try {
          if (++sink.filesRead > MAX_FILES_READ) return sink.error(pos, `more than ${MAX_FILES_READ} files read for this configuration (an include fan-out or a glob that includes itself?)`);
          files.push({ file: f, text: await src.read(f) });
        } catch (e) {
          sink.error(pos, `cannot read included file ${f}: ${whyNot(e)}${odd}`);
        }
      }
    }
  }
  if (files.length) sink.push(files);
}
