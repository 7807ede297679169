/**
 * `keepalived -t` (keepalived 2.2.7's configuration check) on a configuration text, for tests
 * that take keepalived's verdict from keepalived itself.
 *
 * What -t does (read in keepalived's main.c/parser.c, checked with strace): it parses the
 * whole file, runs the instance checks, prints every report_config_error as one line on
 * stderr — `(FILE: Line N) message` while reading the file, bare `message` in the later
 * checks — and exits with 0 when nothing was reported, 4 on a fatal error, 5 when anything
 * was reported (warnings and deprecations included: `"gw" … deprecated` alone gives 5),
 * 6 for script security, and 2 at once when a line ends where a value was needed (the rest
 * of the file is then not read). It opens no VRRP socket and writes no file; its only network
 * traffic is rtnetlink dumps of links and addresses (to resolve `interface`/`dev` names).
 *
 * It still runs under `unshare -n`, in a fresh network namespace holding two veth pairs,
 * eth0-eth1 and eth2-eth3: the interface names then exist wherever the test runs (needs
 * root, as the other namespace tests), and the machine's own interfaces never matter.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireTool } from './tools.js';

export interface KeepalivedCheck {
  /** keepalived's exit status (see above); -1 when killed by the timeout. */
  exitCode: number;
  /** keepalived's report lines (stderr), the temporary file's path shown as `keepalived.conf`. */
  errors: string[];
  /** stdout and stderr together. */
  output: string;
}

export interface KeepalivedCheckOptions {
  /** veth pairs to create first (default eth0-eth1, eth2-eth3). */
  vethPairs?: [string, string][];
  timeoutMs?: number;
}

let checked = false;

/** Runs `keepalived -t -f FILE -l -n` on `configText` in a throw-away network namespace. */
export async function keepalivedCheck(configText: string, opts: KeepalivedCheckOptions = {}): Promise<KeepalivedCheck> {
  if (!checked) {
    for (const t of ['keepalived', 'unshare', 'ip']) requireTool(t);
    checked = true;
  }
  const dir = mkdtempSync(join(tmpdir(), 'vipd-kacheck-'));
  const file = join(dir, 'keepalived.conf');
  try {
    writeFileSync(file, configText);
    const pairs = opts.vethPairs ?? [['eth0', 'eth1'], ['eth2', 'eth3']];
    const links = pairs.map(([a, b]) => `ip link add ${a} type veth peer name ${b} || exit 97`).join('\n');
    // unshare and sh exec: the pid we hold is keepalived's own, for the timeout
    const script = `${links}\nexec keepalived -t -f "$1" -l -n`;
    const p = spawn('unshare', ['-n', 'sh', '-c', script, 'sh', file], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => p.kill('SIGKILL'), opts.timeoutMs ?? 10_000);
    const code = await new Promise<number>((resolve, reject) => {
      p.on('error', reject);
      p.on('close', (c) => resolve(c ?? -1));
    });
    clearTimeout(timer);
    if (code === 97 || /unshare failed|Operation not permitted/.test(stderr)) {
      throw new Error(`keepalivedCheck: could not set up the namespace (root needed): ${stderr.trim()}`);
    }
    const clean = (s: string): string => s.replaceAll(file, 'keepalived.conf');
    return {
      exitCode: code,
      errors: clean(stderr).split('\n').map((l) => l.trimEnd()).filter((l) => l !== ''),
      output: clean(stdout + stderr),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The report lines of `line` of the file (`(keepalived.conf: Line N) …`), without the prefix. */
export function errorsAt(r: KeepalivedCheck, line: number): string[] {
  const prefix = new RegExp(`^\\((?:[^:)]*: )?Line ${line}\\) `);
  return r.errors.filter((e) => prefix.test(e)).map((e) => e.replace(prefix, ''));
}
