/**
 * argv that runs one of our CLIs: the built JavaScript when running from dist/, the
 * TypeScript sources through tsx when running from src/ (tests, development).
 */
import { fileURLToPath } from 'node:url';

export function cliCommand(cli: 'vipd' | 'vipctl'): string[] {
  // VIPD_CLI=dist forces the built CLIs (benchmarks measure what operators run).
  const fromSource = import.meta.url.endsWith('.ts') && process.env.VIPD_CLI !== 'dist';
  // Built: the bundled CommonJS file the package's bin points at (scripts/bundle.mjs).
  const rel = fromSource ? `../cli/${cli}.ts` : import.meta.url.endsWith('.ts') ? `../../dist/bin/${cli}.cjs` : `../bin/${cli}.cjs`;
  const file = fileURLToPath(new URL(rel, import.meta.url));
  return fromSource ? [process.execPath, '--import', 'tsx', file] : [process.execPath, file];
}
