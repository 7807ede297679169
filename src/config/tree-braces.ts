/**
 * The block structure of keepalived.conf: a `{` opens a block for the statement before it (on
 * its line or the next), a `}` closes the innermost open block. keepalived 2.2.7 only counts
 * braces: an extra `}` is "Extra '}' found" at its line, missing ones are "There are N missing
 * '}'s or extra '{'s" with no line at all, and it runs what it made of the file either way.
 * vipd refuses both, naming the block and the line where it opened. Indentation, which
 * keepalived ignores, serves as a hint to find the block a brace was really meant for: a `}`
 * alone on its line, closing a block but indented as an enclosing block's keyword, was
 * probably that enclosing block's (so the inner one is the one never closed); a `}` indented
 * deeper than the keyword of the block it closes may have closed it too early.
 */
import type { Pos, Reporter } from './lexer.js';
import type { Statement } from './tree.js';

/** How a block is named in messages: its keyword and first words (`vrrp_instance VI_1`, `virtual_ipaddress`). */
export function blockName(st: Statement): string {
  const words = st.args.slice(0, 2).map((a) => (a.quoted ? `"${a.text}"` : a.text));
  return [st.keyword, ...words].join(' ') + (st.args.length > 2 ? ' …' : '');
}

/** `line N`, with the file when it is not `from`'s. */
function lineRef(p: Pos, from: Pos): string {
  return p.file === from.file ? `line ${p.line}` : `${p.file}:${p.line}`;
}

interface Open {
  list: Statement[];
  owner: Statement;
}
interface Closed {
  owner: Statement;
  at: Pos;
}

/** Blocks never closed told one by one; the rest in one error. */
const MAX_UNCLOSED = 8;
/** Deep-closed blocks kept for the hint of an extra '}' (the most recent ones). */
const MAX_DEEP = 64;

/** Builds the statement tree from statements and braces, in file order; reports brace errors to `r`. */
export class Blocks {
  /** The statement list being filled: the top level, or the innermost open block's. */
  list: Statement[];
  private readonly open: Open[] = [];
  /** Blocks closed by a `}` indented as an enclosing open block's keyword: `outer` is probably the one whose `}` it was. */
  private readonly shallow: (Closed & { outer: Statement })[] = [];
  /** Blocks closed by a `}` (alone on its line) indented deeper than their keyword. */
  private readonly deep: Closed[] = [];
  private last: Closed | null = null;
  /** `file:line` of the last statement or brace, to tell a `}` that starts its line. */
  private lastLine = '';

  constructor(
    top: Statement[],
    private readonly r: Reporter,
  ) {
    this.list = top;
  }

  /** A statement read at the current level. */
  add(st: Statement): void {
    this.lastLine = `${st.pos.file}:${st.pos.line}`;
    this.list.push(st);
  }

  /** A `{` at `at`: the block of the statement before it. */
  openBrace(at: Pos): void {
    this.lastLine = `${at.file}:${at.line}`;
    const last = this.list[this.list.length - 1];
    if (!last) this.r.error(at, "unexpected '{': a block follows the keyword it belongs to, and there is none before it");
    else if (last.block) this.r.error(at, `unexpected '{': ${blockName(last)} (${lineRef(last.pos, at)}) already has its block`);
    else {
      this.open.push({ list: this.list, owner: last });
      this.list = last.block = [];
    }
  }

  /** A `}` at `at`: closes the innermost open block. */
  closeBrace(at: Pos): void {
    const alone = this.lastLine !== `${at.file}:${at.line}`;
    this.lastLine = `${at.file}:${at.line}`;
    const o = this.open.pop();
    if (!o) {
      this.r.error(at, this.extra(at));
      return;
    }
    o.owner.block = this.list.slice();
    this.list = o.list;
    const kw = o.owner.pos;
    if (alone && at.file === kw.file && at.col < kw.col) {
      const outer = [...this.open].reverse().find((x) => x.owner.pos.file === at.file && x.owner.pos.col === at.col);
      if (outer) this.shallow.push({ owner: o.owner, at, outer: outer.owner });
    } else if (alone && at.file === kw.file && at.col > kw.col) {
      this.deep.push({ owner: o.owner, at });
      if (this.deep.length > MAX_DEEP) this.deep.shift();
    }
    this.last = { owner: o.owner, at };
  }

  /** The message of a `}` with no open block. */
  private extra(at: Pos): string {
    // the block this '}' is indented for, if an earlier, deeper '}' closed it
    let i = this.deep.length - 1;
    while (i >= 0 && !(this.deep[i]!.owner.pos.file === at.file && this.deep[i]!.owner.pos.col === at.col)) i--;
    if (i >= 0) {
      const d = this.deep.splice(i, 1)[0]!;
      return `unexpected '}': no block is open here. ${blockName(d.owner)} (${lineRef(d.owner.pos, at)}) was already closed by the '}' at ${lineRef(d.at, at)}, which is indented deeper than it: an extra '}' there, or a '{' missing before it?`;
    }
    const l = this.last;
    return `unexpected '}': no block is open here (an extra '}'?${l ? ` the last block, ${blockName(l.owner)} of ${lineRef(l.owner.pos, at)}, was closed at ${lineRef(l.at, at)}` : ''})`;
  }

  /** At the end of the input: each block still open is an error at the line where it opened (the outermost MAX_UNCLOSED told); all are closed. */
  end(): void {
    const n = this.open.length;
    for (const o of this.open.slice(0, n > MAX_UNCLOSED ? MAX_UNCLOSED - 1 : n)) {
      const s = this.shallow.find((x) => x.outer === o.owner);
      if (s) {
        this.r.error(s.owner.pos, `${blockName(s.owner)} opened here is never closed (missing '}'): the '}' at ${lineRef(s.at, s.owner.pos)} closed it but is indented as ${blockName(o.owner)} (${lineRef(o.owner.pos, s.owner.pos)}), which then runs to the end of the file`);
      } else this.r.error(o.owner.pos, `${blockName(o.owner)} opened here is never closed (missing '}')`);
    }
    if (n > MAX_UNCLOSED) {
      const o = this.open[MAX_UNCLOSED - 1]!.owner;
      this.r.error(o.pos, `${blockName(o)} opened here and ${n - MAX_UNCLOSED} blocks inside it are never closed (${n - MAX_UNCLOSED + 1} missing '}')`);
    }
    for (let o = this.open.pop(); o; o = this.open.pop()) {
      o.owner.block = this.list.slice();
      this.list = o.list;
    }
  }
}
