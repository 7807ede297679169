/**
 * `vipd check-config` and vipd's `keepalived -t` report, with file:line, the vrrp_scripts
 * that cannot run on this host (not found, not executable, unknown user) — as keepalived
 * 2.2.7's config test does (check_vrrp_script_security): both exit non-zero on the same file.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliCommand } from '../../src/lab/cli-command.js';
import { labConfig } from '../../src/lab/conf.js';
import { keepalivedCheck } from '../helpers/keepalived-check.js';

let dir = '';
function run(cli: string[], args: string[]): { code: number | null; stdout: string; stderr: string } {
  const [cmd, ...pre] = cli;
  const r = spawnSync(cmd!, [...pre, ...args], { encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
// keepalived -t fails (exit 6) on any script run without enable_script_security: set it, so that
// only the script itself can fail the check
function conf(script: string, user = ''): string {
  return labConfig('r1', [{ vrid: 1, priority: 100, advertInt: 1, version: 3, vips: ['192.0.2.10/24'], extra: ['track_script {', '    chk', '}'] }], ['script_user root', 'enable_script_security'],
    ['vrrp_script chk {', `    script "${script}"`, ...(user ? [`    user ${user}`] : []), '}', '']);
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'vipd-checkscripts-'));
  writeFileSync(join(dir, 'ok.sh'), '#!/bin/sh\nexit 0\n');
  chmodSync(join(dir, 'ok.sh'), 0o755);
  writeFileSync(join(dir, 'noexec.sh'), '#!/bin/sh\nexit 0\n');
  chmodSync(join(dir, 'noexec.sh'), 0o644);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('check-config and -t on scripts that cannot run here', () => {
  // keepalived 2.2.7 disables a non-executable script without a config error (vrrp.c
  // check_track_script_secure): its -t passes, and the check silently never runs; vipd fails it
  const cases: [string, () => string, RegExp, boolean][] = [
    ['missing', () => conf(join(dir, 'missing.sh')), /missing\.sh/, true],
    ['not executable', () => conf(join(dir, 'noexec.sh')), /noexec\.sh/, false],
    ['unknown user', () => conf(join(dir, 'ok.sh'), 'no_such_user_vipd'), /no_such_user_vipd/, true],
  ];
  for (const [what, text, names, kaFails] of cases) {
    it(`${what}: vipd check-config warns naming file:line (exit 0; --strict 2), vipd -t fails; keepalived -t ${kaFails ? 'fails too' : 'passes (silently disables it)'}`, async () => {
      const f = join(dir, `${what.replaceAll(' ', '-')}.conf`);
      writeFileSync(f, text());
      const line = text().split('\n').findIndex((l) => l.startsWith('vrrp_script chk')) + 1;
      // a file is often checked on another host than its own: a warning, an error with --strict
      const c = run(cliCommand('vipd'), ['check-config', f]);
      expect(c.code).toBe(0);
      expect(c.stderr).toContain(`${f}:${line}: warning: vrrp_script chk disabled`);
      expect(c.stderr).toMatch(names);
      expect(run(cliCommand('vipd'), ['check-config', '--strict', f]).code).toBe(2);
      const t = run(cliCommand('vipd'), ['-t', '-f', f]);
      expect(t.code).not.toBe(0);
      const k = await keepalivedCheck(text());
      expect(k.exitCode !== 0).toBe(kaFails); // keepalived 2.2.7's own verdict on the same file
    });
  }
  it('a script that can run: OK, for keepalived -t too (so the failures above are the scripts\')', async () => {
    const f = join(dir, 'ok.conf');
    writeFileSync(f, conf(join(dir, 'ok.sh')));
    expect(run(cliCommand('vipd'), ['check-config', '--strict', f])).toMatchObject({ code: 0 });
    expect((await keepalivedCheck(conf(join(dir, 'ok.sh')))).exitCode).toBe(0);
  });

  it('a notify FIFO in a directory that does not exist: check-config warns with its file:line (--strict 2); the daemon runs without it, as keepalived', async () => {
    const text = labConfig('r1', [{ vrid: 1, priority: 100, advertInt: 1, version: 3, vips: ['192.0.2.10/24'] }], [`notify_fifo ${join(dir, 'nodir', 'fifo')}`]);
    const f = join(dir, 'fifo-nodir.conf');
    writeFileSync(f, text);
    const line = text.split('\n').findIndex((l) => l.includes('notify_fifo')) + 1;
    const c = run(cliCommand('vipd'), ['check-config', f]);
    expect(c.code).toBe(0);
    expect(c.stderr).toContain(`${f}:${line}: warning: notify_fifo ${join(dir, 'nodir', 'fifo')}: cannot be created`);
    expect(run(cliCommand('vipd'), ['check-config', '--strict', f]).code).toBe(2);
  });

  it('a notify script that is missing: vipd check-config warns with its file:line (--strict 2) and names the keyword, vipd -t fails; keepalived -t passes (it drops the script at start, quietly)', async () => {
    const text = labConfig('r1', [{ vrid: 1, priority: 100, advertInt: 1, version: 3, vips: ['192.0.2.10/24'], extra: [`notify_master "${join(dir, 'gone.sh')} arg"`] }], ['script_user root', 'enable_script_security']);
    const f = join(dir, 'notify-missing.conf');
    writeFileSync(f, text);
    const line = text.split('\n').findIndex((l) => l.includes('notify_master')) + 1;
    const c = run(cliCommand('vipd'), ['check-config', f]);
    expect(c.code).toBe(0);
    expect(c.stderr).toContain(`${f}:${line}: warning: vrrp_instance VI_1: notify_master not run: ${join(dir, 'gone.sh')} not found`);
    expect(run(cliCommand('vipd'), ['check-config', '--strict', f]).code).toBe(2);
    expect(run(cliCommand('vipd'), ['-t', '-f', f]).code).not.toBe(0);
    expect((await keepalivedCheck(text)).exitCode).toBe(0);
  });
});
