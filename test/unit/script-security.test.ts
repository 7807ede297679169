/**
 * keepalived 2.2.7's script checks (lib/notify.c check_script_secure, find_path,
 * check_security; get_default_script_user) on temp files and directories with real modes
 * and owners, and the script user's resolution on a fake passwd/group.
 */
import { chmod, chown, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkScriptSecure, resolveScriptUser, securitySummary, systemUserDb, type CheckOptions } from '../../src/daemon/trackers/script-security.js';

const root = process.getuid?.() === 0;
let dir = '';

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vipd-security-'));
  await chmod(dir, 0o755); // searchable by nobody; /tmp above is root's with the sticky bit
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function file(rel: string, mode: number, body = '#!/bin/sh\nexit 0\n'): Promise<string> {
  const p = join(dir, rel);
  await writeFile(p, body);
  await chmod(p, mode);
  return p;
}
async function sub(rel: string, mode: number): Promise<string> {
  const p = join(dir, rel);
  await mkdir(p);
  await chmod(p, mode); // chmod: mkdir's mode goes through the umask
  return p;
}

const asRoot: CheckOptions = { uid: 0, gid: 0, enableScriptSecurity: true };
const asNobody: CheckOptions = { uid: 65534, gid: 65534, enableScriptSecurity: true };

describe.skipIf(!root)('checkScriptSecure: classification on real modes (as root)', () => {
  it('ok: a root-owned 0755 script in root-owned 0755 directories', async () => {
    const p = await file('ok.sh', 0o755);
    const c = await checkScriptSecure([p, 'arg'], asRoot);
    expect(c).toMatchObject({ status: 'ok', argv: [p, 'arg'], disabled: null, warnings: [] });
    expect(c.flags).toMatchObject({ isScript: true, executable: true, insecure: false });
  });

  it('missing: not-found, with the path', async () => {
    const p = join(dir, 'missing.sh');
    const c = await checkScriptSecure([p], asRoot);
    expect(c.status).toBe('not-found');
    expect(c.disabled).toContain(p);
  });

  it('not executable (0644): not-executable, disabled, with mode and ids', async () => {
    const p = await file('plain.sh', 0o644);
    const c = await checkScriptSecure([p], asRoot);
    expect(c.status).toBe('not-executable');
    expect(c.disabled).toBe(`${p} (owner 0:0, mode 0644) is not executable by uid 0 gid 0: chmod +x it, or run it as a user who may execute it`);
  });

  it('a 0777 directory (no sticky bit) on the way: insecure, refused with enable_script_security', async () => {
    const d = await sub('open', 0o777);
    const p = await file('open/check.sh', 0o755);
    const c = await checkScriptSecure([p], asRoot);
    expect(c.status).toBe('insecure');
    expect(c.flags).toMatchObject({ insecure: true, inhibit: true });
    expect(c.disabled).toContain(`${d} (directory, owner 0:0, mode 0777) is writable by everyone and has no sticky bit`);
    expect(c.disabled).toContain('runs as root');
    expect(c.disabled).toContain('enable_script_security');
  });

  it('the same without enable_script_security: runs, with a warning; the summary says so', async () => {
    const p = join(dir, 'open/check.sh');
    const c = await checkScriptSecure([p], { ...asRoot, enableScriptSecurity: false });
    expect(c).toMatchObject({ status: 'insecure', disabled: null });
    expect(c.flags).toMatchObject({ insecure: true, inhibit: false });
    expect(c.warnings.join()).toMatch(/writable by everyone.*runs anyway/);
    expect(securitySummary([c], false)).toMatch(/without enable_script_security, and some of them could be changed/);
    expect(securitySummary([c], true)).toBeNull();
  });

  it('a sticky 1777 directory is allowed (as /tmp)', async () => {
    await sub('sticky', 0o1777);
    const p = await file('sticky/check.sh', 0o755);
    expect((await checkScriptSecure([p], asRoot)).status).toBe('ok');
  });

  it('a group-writable file: insecure when its group is not root, ok when it is', async () => {
    const p = await file('gw.sh', 0o775);
    await chown(p, 0, 65534);
    const c = await checkScriptSecure([p], asRoot);
    expect(c.status).toBe('insecure');
    expect(c.disabled).toContain(`${p} (file, owner 0:65534, mode 0775) is writable by group 65534`);
    await chown(p, 0, 0);
    expect((await checkScriptSecure([p], asRoot)).status).toBe('ok');
  });

  it('a script owned by another user, run as root: insecure', async () => {
    const p = await file('theirs.sh', 0o755);
    await chown(p, 65534, 65534);
    const c = await checkScriptSecure([p], asRoot);
    expect(c.status).toBe('insecure');
    expect(c.disabled).toContain('is owned by uid 65534, not root');
  });

  it('run as nobody, the writable directory does not matter (keepalived protects root runs only)', async () => {
    const p = join(dir, 'open/check.sh');
    expect((await checkScriptSecure([p], asNobody)).status).toBe('ok');
  });

  it('run as nobody: executable for root only (0744) is not-executable for uid 65534', async () => {
    const p = await file('rootonly.sh', 0o744);
    expect((await checkScriptSecure([p], asRoot)).status).toBe('ok');
    const c = await checkScriptSecure([p], asNobody);
    expect(c.status).toBe('not-executable');
    expect(c.disabled).toContain('uid 65534 gid 65534');
  });

  it('run as nobody: a directory it cannot search makes the script not-found', async () => {
    const d = await sub('closed', 0o700);
    const p = await file('closed/check.sh', 0o755);
    const c = await checkScriptSecure([p], asNobody);
    expect(c.status).toBe('not-found');
    expect(c.disabled).toContain(`directory ${d} is not searchable by uid 65534 gid 65534`);
  });

  it('a set-uid root script run as nobody is checked as a root run', async () => {
    const p = await file('open/suid.sh', 0o4755);
    const c = await checkScriptSecure([p], asNobody);
    expect(c.status).toBe('insecure');
    expect(c.disabled).toContain('is set-uid root');
  });

  it('a bare name is searched in PATH (warning: give the full path); not in PATH: not-found', async () => {
    const d = await sub('bin', 0o755);
    const p = await file('bin/chk', 0o755);
    const c = await checkScriptSecure(['chk', 'x'], { ...asRoot, path: `/nonexistent:${d}` });
    expect(c).toMatchObject({ status: 'ok', argv: [p, 'x'] });
    expect(c.warnings[0]).toBe(`'chk' found by PATH search at ${p}: give the full path in the configuration`);
    const m = await checkScriptSecure(['nochk'], { ...asRoot, path: d });
    expect(m.status).toBe('not-found');
    expect(m.disabled).toContain(`'nochk' is not in PATH (${d})`);
  });

  it('a symlink is resolved; its own name is kept when the target directory has it for the same file', async () => {
    const real = await file('target.sh', 0o755);
    const d = await sub('links', 0o755);
    await symlink(real, join(d, 'chk'));
    expect((await checkScriptSecure([join(d, 'chk')], asRoot)).argv).toEqual([real]);
    await symlink(real, join(dir, 'named'));
    await symlink(join(dir, 'named'), join(d, 'named'));
    // links/named -> named -> target.sh; target's directory has `named`, the same file: kept
    expect((await checkScriptSecure([join(d, 'named')], asRoot)).argv).toEqual([join(dir, 'named')]);
  });

  it('keepalived\'s `<…` form is not a file: not checked (SC_SYSTEM)', async () => {
    const c = await checkScriptSecure(['</dev/tcp/192.0.2.1/80'], asRoot);
    expect(c).toMatchObject({ status: 'ok', disabled: null });
    expect(c.flags).toMatchObject({ system: true, isScript: false });
    expect(securitySummary([c], false)).toBeNull();
  });

  it('a script without #! is run by /bin/sh: a warning says to add one', async () => {
    const p = await file('noshebang.sh', 0o755, 'exit 0\n');
    const c = await checkScriptSecure([p], asRoot);
    expect(c.status).toBe('ok');
    expect(c.warnings.join()).toContain('has no #! line');
  });
});

describe('resolveScriptUser (keepalived get_default_script_user / set_uid_gid)', () => {
  let files: { passwd: string; group: string; getent: null };
  let without: { passwd: string; group: string; getent: null };
  beforeAll(async () => {
    const passwd = await file('passwd', 0o644, 'root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534::/nonexistent:/usr/sbin/nologin\nkeepalived_script:x:998:997::/:/usr/sbin/nologin\nbroken:x:abc:1::/:/bin/sh\n');
    const group = await file('group', 0o644, 'root:x:0:\nnogroup:x:65534:\nchecks:x:4242:\n');
    files = { passwd, group, getent: null };
    without = { passwd: await file('passwd2', 0o644, 'root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534::/:/bin/false\n'), group, getent: null };
  });
  const globals = { scriptUser: null, enableScriptSecurity: false };
  const daemon = { uid: 0, gid: 0 };

  it('the script\'s own USER [GROUP] first; the group defaults to the user\'s primary group', async () => {
    const db = systemUserDb(files);
    expect(await resolveScriptUser({ user: 'nobody', group: null }, globals, db, daemon)).toMatchObject({ ok: true, uid: 65534, gid: 65534, from: 'script' });
    expect(await resolveScriptUser({ user: 'nobody', group: 'checks' }, globals, db, daemon)).toMatchObject({ ok: true, uid: 65534, gid: 4242 });
  });

  it('an unknown user or group is an error naming it (keepalived drops the script)', async () => {
    const db = systemUserDb(files);
    expect(await resolveScriptUser({ user: 'nosuch', group: null }, globals, db, daemon)).toMatchObject({ ok: false, error: expect.stringContaining("user 'nosuch' does not exist") });
    expect(await resolveScriptUser({ user: 'nobody', group: 'nosuch' }, globals, db, daemon)).toMatchObject({ ok: false, error: expect.stringContaining("group 'nosuch' does not exist") });
    expect(await resolveScriptUser({ user: 'broken', group: null }, globals, db, daemon)).toMatchObject({ ok: false });
  });

  it('then global script_user, then keepalived_script', async () => {
    const db = systemUserDb(files);
    expect(await resolveScriptUser(null, { scriptUser: { user: 'nobody', group: null }, enableScriptSecurity: true }, db, daemon)).toMatchObject({ ok: true, uid: 65534, from: 'script_user' });
    expect(await resolveScriptUser(null, { scriptUser: { user: 'ghost', group: null }, enableScriptSecurity: false }, db, daemon)).toMatchObject({ ok: false, error: expect.stringContaining('script_user') });
    expect(await resolveScriptUser(null, globals, db, daemon)).toMatchObject({ ok: true, uid: 998, gid: 997, from: 'keepalived_script', notes: [] });
  });

  it('no keepalived_script: vipd\'s own user with a warning, or an error with enable_script_security', async () => {
    const db = systemUserDb(without);
    const r = await resolveScriptUser(null, globals, db, daemon);
    expect(r).toMatchObject({ ok: true, uid: 0, gid: 0, from: 'daemon' });
    expect(r.ok && r.notes[0]).toContain("add 'script_user USER' or create keepalived_script");
    expect(await resolveScriptUser(null, { scriptUser: null, enableScriptSecurity: true }, db, daemon)).toMatchObject({ ok: false, error: expect.stringContaining('enable_script_security') });
  });

  it('the system database: root is uid 0 (files, or getent for NSS names)', async () => {
    const db = systemUserDb();
    expect(await db.user('root')).toEqual({ uid: 0, gid: 0 });
    expect(await db.user('no-such-user-vipd')).toBeNull();
  });
});
