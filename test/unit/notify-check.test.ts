/**
 * The start-up check of notify scripts (src/daemon/notify/check.ts), on real files: keepalived
 * 2.2.7's check_notify_script_secure drops a script that is missing, not executable, insecure
 * under enable_script_security, or in the `<…` file-open form; vipd drops it too and says so
 * with the keyword's file:line. The user is the script's own, else script_user.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fsSource } from '../../src/config/fs-source.js';
import { loadKeepalivedConfig } from '../../src/config/keepalived.js';
import { checkNotify, notifyScripts, startStopScripts } from '../../src/daemon/notify/check.js';

let dir = '';
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'vipd-ncheck-'));
  chmodSync(dir, 0o755);
  writeFileSync(join(dir, 'ok.sh'), '#!/bin/sh\nexit 0\n', { mode: 0o755 });
  writeFileSync(join(dir, 'noexec.sh'), '#!/bin/sh\nexit 0\n', { mode: 0o644 });
  writeFileSync(join(dir, 'open.sh'), '#!/bin/sh\nexit 0\n', { mode: 0o777 });
  chmodSync(join(dir, 'open.sh'), 0o777); // writable by anyone: insecure when run as root
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function check(lines: string[], global: string[] = []) {
  const f = join(dir, `k${Math.random().toString(36).slice(2)}.conf`);
  writeFileSync(f, ['global_defs {', ...global, '}', 'vrrp_instance V {', ' interface eth0', ' virtual_router_id 1', ...lines, ' virtual_ipaddress {', '  192.0.2.1', ' }', '}', ''].join('\n'));
  const c = await loadKeepalivedConfig(f, fsSource);
  const errors: string[] = [];
  const plan = await checkNotify(c, { error: (_o: unknown, m: string) => errors.push(m), warn: () => undefined } as never);
  const byKw = new Map([...notifyScripts(c), ...startStopScripts(c)].map((x) => [x.keyword, plan.get(x.script)]));
  return { byKw, errors, f };
}

describe('notify script check (keepalived check_notify_script_secure)', () => {
  it('a runnable script is kept with its argv; the USER word gives its uid', async () => {
    const { byKw, errors } = await check([` notify_master "${join(dir, 'ok.sh')} a 'b c'" nobody`, ` notify_backup ${join(dir, 'ok.sh')}`], [' script_user root']);
    expect(errors).toEqual([]);
    expect(byKw.get('notify_master')).toMatchObject({ argv: [join(dir, 'ok.sh'), 'a', 'b c'], uid: 65534 });
    expect(byKw.get('notify_backup')).toMatchObject({ uid: 0 });
  });

  it('missing, not executable, the <… form and (with enable_script_security) a world-writable script run as root are dropped, each with file:line', async () => {
    const { byKw, errors, f } = await check([
      ` notify_master ${join(dir, 'gone.sh')}`,
      ` notify_backup ${join(dir, 'noexec.sh')}`,
      ' notify_fault "</dev/tcp/127.0.0.1/80"',
      ` notify ${join(dir, 'open.sh')}`,
    ], [' script_user root', ' enable_script_security']);
    for (const kw of ['notify_master', 'notify_backup', 'notify_fault', 'notify']) expect(byKw.get(kw), kw).toBeNull();
    expect(errors).toHaveLength(4);
    expect(errors[0]).toMatch(new RegExp(`^${f}:8: vrrp_instance V: notify_master not run: .*gone\\.sh not found`));
    expect(errors[1]).toMatch(/:9: .*notify_backup not run: .*noexec\.sh is not executable/);
    expect(errors[2]).toMatch(/:10: .*notify_fault not run: the '<…' file-open form/);
    expect(errors[3]).toMatch(/:11: .*notify not run: /);
  });

  it('an unknown user drops the script; startup_script is checked too', async () => {
    const { byKw, errors } = await check([` notify_master ${join(dir, 'ok.sh')} no_such_user_vipd`], [` startup_script ${join(dir, 'gone-start.sh')}`]);
    expect(byKw.get('notify_master')).toBeNull();
    expect(byKw.get('startup_script')).toBeNull();
    expect(errors.join('\n')).toMatch(/no_such_user_vipd/);
    expect(errors.join('\n')).toMatch(/global_defs startup_script/);
  });
});
