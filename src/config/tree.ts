/**
 * keepalived.conf statement tree: `keyword args... [{ statements }]`, one statement per line,
 * with `include GLOB` expanded relative to the including file. The only I/O is reading the
 * files, done through the `FileSource` the caller gives (async on the daemon side).
 */
import { ConfigError, lex, type Pos, type Token } from './lexer.js';

export interface Statement {
  keyword: string;
  args: { text: string; pos: Pos }[];
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
  const tokens = lex(text, path);
  const state = { i: 0 };
  const stmts = parseBlock(tokens, state, false);
  return expandIncludes(stmts, src, depth);
}

function parseBlock(t: Token[], s: { i: number }, nested: boolean): Statement[] {
  const out: Statement[] = [];
  for (;;) {
    const tok = t[s.i];
    if (!tok) {
      if (nested) throw new ConfigError(t[t.length - 1]!.pos, "missing '}' at end of file");
      return out;
    }
    if (tok.kind === 'eol') {
      s.i++;
      continue;
    }
    if (tok.kind === '}') {
      if (!nested) throw new ConfigError(tok.pos, "unexpected '}'");
      s.i++;
      return out;
    }
    if (tok.kind === '{') {
      // keepalived accepts a bare block after a keyword on the previous line: attach it
      const last = out[out.length - 1];
      if (!last || last.block) throw new ConfigError(tok.pos, "unexpected '{'");
      s.i++;
      last.block = parseBlock(t, s, true);
      continue;
    }
    const stmt: Statement = { keyword: tok.text, args: [], block: null, pos: tok.pos };
    s.i++;
    for (;;) {
      const a = t[s.i];
      if (!a || a.kind === 'eol' || a.kind === '}') break;
      if (a.kind === '{') {
        s.i++;
        stmt.block = parseBlock(t, s, true);
        break;
      }
      stmt.args.push({ text: a.text, pos: a.pos });
      s.i++;
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
