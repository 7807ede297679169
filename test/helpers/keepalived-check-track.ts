/**
 * keepalived 2.2.7's own verdict on a configuration, for the tracker / notify / sync-group
 * tests: `keepalived -t` (config test: nothing is started, no socket opened) on a temporary
 * file, and the argv keepalived builds for a script line.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface KeepalivedVerdict {
  /** 0 clean; 4 cannot run; 5 configuration errors (keepalived runs anyway); 6 script security only. */
  exitCode: number;
  /** keepalived's messages, one per line ("(file: Line N) …" for those with a position). */
  errors: string[];
  output: string;
}

/** A non-loopback Ethernet interface of this host, as keepalived -t insists instances name an existing one. */
export function hostInterface(): string {
  for (const n of readdirSync('/sys/class/net').sort()) {
    if (n === 'lo') continue;
    try {
      if (readFileSync(`/sys/class/net/${n}/type`, 'utf8').trim() === '1') return n;
    } catch {
      // vanished meanwhile
    }
  }
  throw new Error('no Ethernet interface on this host for keepalived -t');
}

/** Runs `keepalived -t -l -D -n -f FILE` on `configText` (IFACE replaced by hostInterface()). */
export function keepalivedCheck(configText: string): KeepalivedVerdict {
  const dir = mkdtempSync(join(tmpdir(), 'vipd-kat-'));
  try {
    const file = join(dir, 'keepalived.conf');
    writeFileSync(file, configText.replace(/\bIFACE\b/g, hostInterface()));
    const r = spawnSync('keepalived', ['-t', '-l', '-D', '-n', '-f', file], { encoding: 'utf8', timeout: 30_000 });
    if (r.error) throw r.error;
    const output = `${r.stdout}${r.stderr}`;
    const errors = output.split('\n').filter((l) => l.trim() && !/^Keepalived v|^Copyright|^Built with|^Running on|^Distro|^configure options|^Config options|^System options|^Opening file|^Starting|^Stopping|^$/.test(l));
    return { exitCode: r.status ?? -1, errors, output };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The argv keepalived 2.2.7 builds for `script LINE` of a vrrp_script: it prints it (cmd_str:
 * each word in single quotes, an initial `<…` bare) when the script's user does not exist.
 * null if keepalived dropped the script. Words containing a single quote cannot be read back.
 */
export function keepalivedArgv(line: string): string[] | null {
  const v = keepalivedCheck(`vrrp_script probe {\n  script ${line}\n  user vipd_no_such_user_zz\n}\n`);
  const m = /Unable to set uid\/gid for script (.*)$/m.exec(v.output);
  if (!m || /No script set/.test(v.output)) return null;
  return [...m[1]!.matchAll(/'([^']*)'|(\S+)/g)].map((x) => x[1] ?? x[2]!);
}
