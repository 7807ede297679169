/**
 * argv that runs one of our CLIs: the built JavaScript when running from dist/, the
 * TypeScript sources through tsx when running from src/ (tests, development).
 */
import { fileURLToPath } from 'node:url';

const fromSource = import.meta.url.endsWith('.ts');

export function cliCommand(cli: 'vipd' | 'vipctl'): string[] {
  const file = fileURLToPath(new URL(`../cli/${cli}.${fromSource ? 'ts' : 'js'}`, import.meta.url));
  return fromSource ? [process.execPath, '--import', 'tsx', file] : [process.execPath, file];
}
