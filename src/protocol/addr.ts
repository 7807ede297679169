/**
 * Address text <-> bytes for IPv4, IPv6 and MAC. Pure, no I/O.
 * IPv6 text output follows RFC 5952 (lower case, longest zero run compressed).
 */

export type Family = 4 | 6;

const IPV4_RE = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** Parse dotted-quad IPv4; returns null when the text is not a valid address. */
export function parseIPv4(text: string): Uint8Array | null {
  const m = IPV4_RE.exec(text);
  if (!m) return null;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const part = m[i + 1] as string;
    if (part.length > 1 && part.startsWith('0')) return null; // no octal-looking parts
    const n = Number(part);
    if (n > 255) return null;
    out[i] = n;
  }
  return out;
}

/** Parse IPv6 text (with optional embedded IPv4 tail); null when invalid. */
export function parseIPv6(text: string): Uint8Array | null {
  if (text.length < 2 || text.length > 45) return null;
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const parseGroups = (s: string): number[] | null => {
    if (s === '') return [];
    const parts = s.split(':');
    const words: number[] = [];
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i] as string;
      if (i === parts.length - 1 && p.includes('.')) {
        const v4 = parseIPv4(p);
        if (!v4) return null;
        words.push(((v4[0] as number) << 8) | (v4[1] as number), ((v4[2] as number) << 8) | (v4[3] as number));
        continue;
      }
      if (!/^[0-9a-fA-F]{1,4}$/.test(p)) return null;
      words.push(parseInt(p, 16));
    }
    return words;
  };
  const head = parseGroups(halves[0] as string);
  const tail = halves.length === 2 ? parseGroups(halves[1] as string) : [];
  if (!head || !tail) return null;
  const total = head.length + tail.length;
  if (halves.length === 2 ? total > 7 : total !== 8) return null;
  const words = [...head, ...new Array<number>(8 - total).fill(0), ...tail];
  const out = new Uint8Array(16);
  words.forEach((w, i) => {
    out[2 * i] = w >> 8;
    out[2 * i + 1] = w & 0xff;
  });
  return out;
}

export function parseIP(text: string): { family: Family; bytes: Uint8Array } | null {
  const v4 = parseIPv4(text);
  if (v4) return { family: 4, bytes: v4 };
  const v6 = parseIPv6(text);
  if (v6) return { family: 6, bytes: v6 };
  return null;
}

export function formatIPv4(b: Uint8Array, off = 0): string {
  return `${b[off]}.${b[off + 1]}.${b[off + 2]}.${b[off + 3]}`;
}

/** RFC 5952 canonical text. */
export function formatIPv6(b: Uint8Array, off = 0): string {
  const w: number[] = [];
  for (let i = 0; i < 8; i++) w.push(((b[off + 2 * i] as number) << 8) | (b[off + 2 * i + 1] as number));
  let bestStart = -1;
  let bestLen = 1; // only runs of 2+ zero words are compressed (RFC 5952 4.2.2)
  for (let i = 0; i < 8; ) {
    if (w[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && w[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (x: number): string => x.toString(16);
  if (bestStart < 0) return w.map(hex).join(':');
  const left = w.slice(0, bestStart).map(hex).join(':');
  const right = w.slice(bestStart + bestLen).map(hex).join(':');
  return `${left}::${right}`;
}

export function formatIP(family: Family, b: Uint8Array, off = 0): string {
  return family === 4 ? formatIPv4(b, off) : formatIPv6(b, off);
}

/** Canonical text of an address (or null when invalid), e.g. "2001:DB8:0::1" -> "2001:db8::1". */
export function canonicalIP(text: string): string | null {
  const p = parseIP(text);
  return p ? formatIP(p.family, p.bytes) : null;
}

export function formatMac(b: Uint8Array, off = 0): string {
  const parts: string[] = [];
  for (let i = 0; i < 6; i++) parts.push((b[off + i] as number).toString(16).padStart(2, '0'));
  return parts.join(':');
}

export function parseMac(text: string): Uint8Array | null {
  const m = /^([0-9a-fA-F]{2})(?::([0-9a-fA-F]{2})){5}$/.test(text);
  if (!m) return null;
  return Uint8Array.from(text.split(':').map((h) => parseInt(h, 16)));
}

export function addrLen(family: Family): number {
  return family === 4 ? 4 : 16;
}

/** Compare two addresses of one family as unsigned big-endian numbers (RFC 9568 6.4.3 tie-break). */
export function compareAddr(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = (a[i] as number) - (b[i] as number);
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

/** True when the address lies in a documentation range (RFC 5737, RFC 3849). */
export function isDocumentationAddress(text: string): boolean {
  const p = parseIP(text);
  if (!p) return false;
  const b = p.bytes;
  if (p.family === 4) {
    return (
      (b[0] === 192 && b[1] === 0 && b[2] === 2) ||
      (b[0] === 198 && b[1] === 51 && b[2] === 100) ||
      (b[0] === 203 && b[1] === 0 && b[2] === 113)
    );
  }
  return b[0] === 0x20 && b[1] === 0x01 && b[2] === 0x0d && b[3] === 0xb8;
}
