/**
 * Reading one line of an address/route/rule block word by word, with each word's position,
 * for src/config/kw-net*.ts. Pure. Errors go to the Builder at once (the line is then given
 * up); warnings are held until the line is read and dropped with it if it had an error, so
 * a refused line says only why it is refused.
 */
import { formatIP, parseIPv4, parseIPv6, type Family } from '../protocol/addr.js';
import type { Pos } from './lexer.js';
import type { Builder } from './spec.js';
import { suggest } from './spec.js';
import type { Statement } from './tree.js';

export interface Word {
  text: string;
  pos: Pos;
  quoted: boolean;
}

/** Where character `offset` of word `w` stands (inside the quotes of a quoted word). */
export function posIn(w: Word, offset: number): Pos {
  return { ...w.pos, col: w.pos.col + offset + (w.quoted ? 1 : 0) };
}

/** Thrown to give up a line after its error was reported. */
class LineError extends Error {}

export class LineReader {
  readonly words: Word[];
  i = 0;
  private readonly held: { pos: Pos; message: string }[] = [];

  constructor(
    readonly b: Builder,
    st: Statement,
    /** The line's block for messages: "virtual_routes", "virtual_ipaddress of VI_1". */
    readonly where: string,
  ) {
    this.words = [{ text: st.keyword, pos: st.pos, quoted: false }, ...st.args];
    if (st.block) this.fail(st.pos, `${where}: a line of this block takes no { block }`);
  }

  /** Reports an error at `pos` and gives up the line. */
  fail(pos: Pos, message: string): never {
    this.b.err(pos, message);
    throw new LineError(message);
  }
  warn(pos: Pos, message: string): void {
    this.held.push({ pos, message });
  }

  /** Runs `read` and returns its result, or null when it gave the line up. Held warnings are emitted on success. */
  static run<T>(r: () => LineReader, read: (r: LineReader) => T): T | null {
    let reader: LineReader | null = null;
    try {
      reader = r();
      const v = read(reader);
      for (const w of reader.held) reader.b.warn(w.pos, w.message);
      return v;
    } catch (e) {
      if (e instanceof LineError) return null;
      throw e;
    }
  }

  done(): boolean {
    return this.i >= this.words.length;
  }
  peek(): Word | undefined {
    return this.words[this.i];
  }
  next(): Word {
    return this.words[this.i++]!;
  }
  /** The word after option `opt`; an error when the line ends there. */
  value(opt: Word, what = 'a value', consequence = 'keepalived 2.2.7 stops reading the configuration there'): Word {
    const w = this.words[this.i];
    if (!w) this.fail(opt.pos, `${this.where}: '${opt.text}' needs ${what} after it (${consequence})`);
    this.i++;
    return w;
  }
  /** An unknown word: an error with the closest known option. */
  unknown(w: Word, known: readonly string[], consequence: string): never {
    const s = suggest(w.text, known);
    this.fail(w.pos, `${this.where}: unknown option '${w.text}'${s ? ` (did you mean '${s}'?)` : ''}; ${consequence}`);
  }

  /** A decimal integer in [min, max] (keepalived's read_unsigned: base 10). */
  decimal(opt: Word, w: Word, min: number, max: number, consequence: string): number {
    const v = /^\d+$/.test(w.text) ? Number(w.text) : NaN;
    if (!(v >= min && v <= max)) this.fail(w.pos, `${this.where}: '${opt.text}' must be an integer from ${min} to ${max}, got '${w.text}' (${consequence})`);
    return v;
  }
}

/** An interface name the kernel could have: 1..15 bytes, not `.`/`..`, no `/`, `:` or space. */
export function ifName(r: LineReader, opt: Word, w: Word, consequence: string): string {
  const n = w.text;
  if (!n || Buffer.byteLength(n) > 15 || n === '.' || n === '..' || /[/:\s]/.test(n)) {
    r.fail(w.pos, `${r.where}: '${n}' after '${opt.text}' cannot be an interface name (1 to 15 bytes, no '/', ':' or space; ${consequence})`);
  }
  return n;
}

/** An address of keepalived's parse_ipaddress: IPv6 when the text has a ':', else dotted IPv4. */
export function parseAddr(text: string): { family: Family; bytes: Uint8Array } | null {
  const family: Family = text.includes(':') ? 6 : 4;
  const bytes = family === 4 ? parseIPv4(text) : parseIPv6(text);
  return bytes ? { family, bytes } : null;
}

/** One address without prefix (`src`, `via`, `peer`, …): canonical text and family. */
export function plainAddr(r: LineReader, opt: Word, w: Word, consequence: string): { family: Family; text: string } {
  const p = parseAddr(w.text);
  if (!p) {
    const hint = w.text.includes('/') ? ' (no /LEN here)' : '';
    r.fail(w.pos, `${r.where}: '${opt.text}' needs an IP address, got '${w.text}'${hint} (${consequence})`);
  }
  return { family: p.family, text: formatIP(p.family, p.bytes) };
}

export interface Prefix {
  /** null: `default`/`any`/`all` before the family is known. */
  family: Family | null;
  bytes: Uint8Array | null;
  len: number;
  /** The prefix length was written. */
  explicit: boolean;
}

/**
 * `ADDR[/LEN]` as keepalived's parse_ipaddress/parse_route read it; `special` also takes
 * `default`, `any`, `all` (family from the rest of the line) and the deprecated `default6`.
 * The length must be written in decimal from 0 to 32/128 (keepalived also takes an empty or
 * signed one, and replaces an out-of-range one by the maximum: vipd refuses those).
 */
export function parsePrefix(r: LineReader, w: Word, what: string, special: boolean, consequence: string): Prefix {
  if (special && ['default', 'any', 'all'].includes(w.text)) return { family: null, bytes: null, len: 0, explicit: true };
  if (special && w.text === 'default6') {
    r.warn(w.pos, `${r.where}: 'default6' is deprecated in keepalived 2.2.7; write '::/0'`);
    return { family: 6, bytes: new Uint8Array(16), len: 0, explicit: true };
  }
  const slash = w.text.indexOf('/');
  const addrText = slash < 0 ? w.text : w.text.slice(0, slash);
  const p = parseAddr(addrText);
  if (!p) r.fail(w.pos, `${r.where}: invalid ${what} '${w.text}' (${consequence})`);
  const max = p.family === 4 ? 32 : 128;
  if (slash < 0) return { family: p.family, bytes: p.bytes, len: max, explicit: false };
  const lenText = w.text.slice(slash + 1);
  if (!/^\d+$/.test(lenText) || Number(lenText) > max) {
    const ka = lenText === '' ? 'keepalived 2.2.7 would read it as /0' : /^\+?\d+$/.test(lenText) && Number(lenText) <= max ? `keepalived 2.2.7 would read /${Number(lenText)}` : `keepalived 2.2.7 would use /${max}`;
    r.fail(posIn(w, slash + 1), `${r.where}: invalid prefix length '/${lenText}' in '${w.text}' (0 to ${max}; ${ka})`);
  }
  return { family: p.family, bytes: p.bytes, len: Number(lenText), explicit: true };
}

/** `ADDR/LEN` text of a prefix whose family is now known. */
export function prefixText(p: Prefix, family: Family): string {
  const bytes = p.bytes ?? new Uint8Array(family === 4 ? 4 : 16);
  return `${formatIP(family, bytes)}/${p.len}`;
}

/** True when bits past `len` are set. */
export function hostBits(bytes: Uint8Array, len: number): boolean {
  for (let bit = len; bit < bytes.length * 8; bit++) if ((bytes[bit >> 3]! >> (7 - (bit & 7))) & 1) return true;
  return false;
}

/** The prefix with its host bits cleared. */
export function network(bytes: Uint8Array, len: number): Uint8Array {
  const out = Uint8Array.from(bytes);
  for (let bit = len; bit < out.length * 8; bit++) out[bit >> 3] = out[bit >> 3]! & ~(1 << (7 - (bit & 7)));
  return out;
}
