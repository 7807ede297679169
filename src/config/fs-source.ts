/** The real file system behind the config loader (async; a tiny glob for `include`). */
import { readdir, readFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import type { FileSource } from './tree.js';

function globToRegExp(seg: string): RegExp {
  let re = '';
  for (const c of seg) re += c === '*' ? '[^/]*' : c === '?' ? '[^/]' : c.replace(/[.+^${}()|\\]/g, '\\$&');
  return new RegExp(`^${re}$`);
}

async function expand(dir: string, segs: string[]): Promise<string[]> {
  if (segs.length === 0) return [dir];
  const [seg, ...rest] = segs as [string, ...string[]];
  if (!/[*?[]/.test(seg)) return expand(join(dir, seg), rest);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const re = globToRegExp(seg);
  const out: string[] = [];
  for (const n of names.filter((x) => re.test(x) && !x.startsWith('.')).sort()) out.push(...(await expand(join(dir, n), rest)));
  return out;
}

export const fsSource: FileSource = {
  read: (p) => readFile(p, 'utf8'),
  async glob(pattern) {
    const segs = pattern.split('/').filter(Boolean);
    return expand('/', segs);
  },
  resolve: (from, p) => (isAbsolute(p) ? p : resolve(dirname(from), p)),
};

