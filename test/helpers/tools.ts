import { execFileSync } from 'node:child_process';

/** Fail loudly (never skip) when a tool the tests need is missing: .ci/run installs them. */
export function requireTool(name: string): void {
  try {
    execFileSync('sh', ['-c', `command -v ${name}`], { stdio: 'pipe' });
  } catch {
    throw new Error(`${name} is not installed; run .ci/run (or apt-get install ${name}) first`);
  }
}
