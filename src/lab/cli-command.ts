/**
 * argv that runs one of our CLIs: the built JavaScript when running from dist/, the
 * TypeScript sources through tsx when running from src/ (tests, development).
 */
import { closeSync, openSync, readSync } from 'node:fs';
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
