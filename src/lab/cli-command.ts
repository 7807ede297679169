/**
 * argv that runs one of our CLIs: the built JavaScript when running from dist/, the
 * TypeScript sources through tsx when running from src/ (tests, development).
 */
import { closeSync, openSync, readSync, realpathSync } from 'node:fs';
import { isAbsolute, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The Node options in a bundle's `#!/usr/bin/env -S node ...` line (set by scripts/bundle.mjs). */
function shebangFlags(file: string): string[] {
  const head = Buffer.alloc(256);
  const fd = openSync(file, 'r');
  try {
    readSync(fd, head, 0, head.length, 0);
  } finally {
    closeSync(fd);
  }
  const m = /^#!\/usr\/bin\/env -S node (.*)\n/.exec(head.toString('latin1'));
  return m ? m[1]!.split(' ').filter(Boolean) : [];
}

export function cliCommand(cli: 'vipd' | 'vipctl'): string[] {
  // VIPD_CLI=dist forces the built CLIs (benchmarks measure what operators run).
  const fromSource = import.meta.url.endsWith('.ts') && process.env.VIPD_CLI !== 'dist';
  // Built: the bundled CommonJS file the package's bin points at (scripts/bundle.mjs).
  const rel = fromSource ? `../cli/${cli}.ts` : import.meta.url.endsWith('.ts') ? `../../dist/bin/${cli}.cjs` : `../bin/${cli}.cjs`;
  const file = fileURLToPath(new URL(rel, import.meta.url));
  // The built CLI runs with the options its #! line gives it when run as a program.
  return fromSource ? [process.execPath, '--import', 'tsx', file] : [process.execPath, ...shebangFlags(file), file];
}

/** A word as the shell reads it: single-quoted unless it is plain. */
export function shellWord(w: string): string {
  return /^[\w@%+=:,./-]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`;
}

/**
 * cliCommand() as a line a person can paste from `cwd` (the clone): `node` when the first
 * node on PATH is this one, the CLI's path relative to `cwd` when it is inside it, e.g.
 * `node dist/bin/vipctl.cjs` or `node --import tsx src/cli/vipctl.ts` (no `npx vipctl`: the
 * package's bin is not linked in a clone).
 */
export function cliCommandLine(cli: 'vipd' | 'vipctl', cwd = process.cwd()): string {
  const argv = cliCommand(cli);
  const file = argv.at(-1)!;
  const rel = relative(cwd, file);
  const words = [sameNode(argv[0]!) ? 'node' : argv[0]!, ...argv.slice(1, -1), rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : file];
  return words.map(shellWord).join(' ');
}

/** Is `execPath` the `node` the shell finds first on PATH? */
function sameNode(execPath: string): boolean {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (!dir) continue;
    try {
      return realpathSync(join(dir, 'node')) === realpathSync(execPath);
    } catch {
      // no node here: the next directory
    }
  }
  return false;
}
