/**
 * keepalived.conf statement tree: `keyword args... [{ statements }]`, one statement per line,
 * with `include GLOB` expanded relative to the including file. The only I/O is reading the
 * files, done through the `FileSource` the caller gives (async on the daemon side).
 */
import { ConfigError, Lexer, type Pos } from './lexer.js';

export interface Statement {
  keyword: string;
  args: readonly { text: string; pos: Pos }[];
  block: Statement[] | null;
  pos: Pos;
}

export interface FileSource {
  read(path: string): Promise<string>;
  /** Expand a glob (absolute pattern) to existing files, sorted. */
  glob(pattern: string): Promise<string[]>;
  resolve(fromFile: string, path: string): string;
}

const MAX_INCLUDE_DEPTH = 8;

export async function parseFile(path: string, src: FileSource, depth = 0, includedFrom?: Pos): Promise<Statement[]> {
  let text: string;
  try {
    text = await src.read(path);
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message;
    if (includedFrom) throw new ConfigError(includedFrom, `cannot read included file ${path}: ${why}`);
    throw new ConfigError({ file: path, line: 0, col: 0 }, `cannot read configuration: ${why}`);
  }
  const lx = new Lexer(text, path);
  lx.advance();
  const stmts = parseBlock(lx, false);
  return expandIncludes(stmts, src, depth);
}

const NO_ARGS: Statement['args'] = Object.freeze([]);
/** Arguments of the statement being read: copied out at its exact length (a pushed-to array keeps room for 17). */
const scratch: { text: string; pos: Pos }[] = [];

/** Statements up to the end of the text (or the closing brace, when nested). `lx` stands on the first token. */
function parseBlock(lx: Lexer, nested: boolean): Statement[] {
  const out: Statement[] = [];
  for (;;) {
    const kind = lx.kind;
    if (kind === 'end') {
      if (nested) throw new ConfigError(lx.pos(), "missing '}' at end of file");
      return out.slice();
    }
    if (kind === 'eol') {
      lx.advance();
      continue;
    }
    if (kind === '}') {
      if (!nested) throw new ConfigError(lx.pos(), "unexpected '}'");
      lx.advance();
      return out.slice();
    }
    if (kind === '{') {
      // keepalived accepts a bare block after a keyword on the previous line: attach it
      const last = out[out.length - 1];
      if (!last || last.block) throw new ConfigError(lx.pos(), "unexpected '{'");
      lx.advance();
      last.block = parseBlock(lx, true);
      continue;
    }
    const stmt: Statement = { keyword: lx.text, args: NO_ARGS, block: null, pos: lx.pos() };
    scratch.length = 0;
    for (;;) {
      const k = lx.advance();
      if (k === 'word') {
        scratch.push({ text: lx.text, pos: lx.pos() });
        continue;
      }
      if (scratch.length) stmt.args = scratch.slice();
      if (k === '{') {
        lx.advance();
        stmt.block = parseBlock(lx, true);
      }
      break;
    }
    out.push(stmt);
  }
}

async function expandIncludes(stmts: Statement[], src: FileSource, depth: number): Promise<Statement[]> {
  const out: Statement[] = [];
  for (const st of stmts) {
    if (st.keyword === 'include') {
      if (st.args.length !== 1) throw new ConfigError(st.pos, 'include takes exactly one path or glob');
      if (depth >= MAX_INCLUDE_DEPTH) throw new ConfigError(st.pos, `include nested deeper than ${MAX_INCLUDE_DEPTH} (a loop?)`);
      const pattern = src.resolve(st.pos.file, st.args[0]!.text);
      const files = /[*?[]/.test(pattern) ? await src.glob(pattern) : [pattern];
      for (const f of files) out.push(...(await parseFile(f, src, depth + 1, st.pos)));
      continue;
    }
    if (st.block) st.block = await expandIncludes(st.block, src, depth);
    out.push(st);
  }
  return out;
}
