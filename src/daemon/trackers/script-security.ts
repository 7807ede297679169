/**
 * Start-up checks of scripts, keepalived 2.2.7's (lib/notify.c): who a script runs as
 * (set_uid_gid, get_default_script_user) and whether it may run (check_script_secure,
 * find_path, check_security; vrrp.c check_track_script_secure). All asynchronous; the user
 * database is read once per {@link UserDb}.
 *
 * Every refusal or warning is one line naming the path, the reason and what to do.
 */
import { execFile } from 'node:child_process';
import { constants as C, type Stats } from 'node:fs';
import { lstat, open, readFile, realpath, stat } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import type { ScriptUser } from '../../config/model-track.js';
import { keepalivedShellForm } from '../../config/kw-notify.js';
import { SCRIPT_PATH } from './script-runner.js';

// ---------------------------------------------------------------- users and groups

/** getpwnam / getgrnam, asynchronous. */
export interface UserDb {
  /** The user's uid and primary gid, or null when no such user. */
  user(name: string): Promise<{ uid: number; gid: number } | null>;
  /** The group's gid, or null when no such group. */
  group(name: string): Promise<number | null>;
}

export interface UserDbFiles {
  passwd?: string;
  group?: string;
  /** `getent` to ask NSS (LDAP, sssd, …) for names not in the files; null: files only. Default /usr/bin/getent. */
  getent?: string | null;
}

/** `name:x:uid:gid:…` lines (passwd: uid and gid; group: gid twice) by name; malformed lines are skipped. */
function parseDb(text: string, passwd: boolean): Map<string, { uid: number; gid: number }> {
  const m = new Map<string, { uid: number; gid: number }>();
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f.length < (passwd ? 4 : 3) || !f[0] || f[0].startsWith('#') || f[0].startsWith('+') || f[0].startsWith('-')) continue;
    const a = Number(f[2]);
    const b = passwd ? Number(f[3]) : a;
    if (!/^\d+$/.test(f[2]!) || (passwd && !/^\d+$/.test(f[3]!))) continue;
    if (!m.has(f[0])) m.set(f[0], { uid: a, gid: b });
  }
  return m;
}

function getent(bin: string, db: 'passwd' | 'group', name: string): Promise<string | null> {
  return new Promise((res) => {
    execFile(bin, [db, name], { timeout: 5000, env: { PATH: SCRIPT_PATH } }, (err, out) => res(err ? null : String(out)));
  });
}

/**
 * The system's users and groups: /etc/passwd and /etc/group (read once, asynchronously),
 * then `getent` for a name the files lack, so users from NSS resolve as getpwnam finds them.
 */
export function systemUserDb(files: UserDbFiles = {}): UserDb {
  const bin = files.getent === undefined ? '/usr/bin/getent' : files.getent;
  const load = (p: string, pw: boolean) => readFile(p, 'utf8').then((t) => parseDb(t, pw), () => new Map<string, { uid: number; gid: number }>());
  let pw: Promise<Map<string, { uid: number; gid: number }>> | null = null;
  let gr: Promise<Map<string, { uid: number; gid: number }>> | null = null;
  const ask = async (kind: 'passwd' | 'group', name: string): Promise<{ uid: number; gid: number } | null> => {
    const m = await (kind === 'passwd' ? (pw ??= load(files.passwd ?? '/etc/passwd', true)) : (gr ??= load(files.group ?? '/etc/group', false)));
    const hit = m.get(name);
    if (hit || !bin || name.includes(':') || name.includes('\n')) return hit ?? null;
    const line = await getent(bin, kind, name);
    const got = line ? parseDb(line, kind === 'passwd').get(name) ?? null : null;
    if (got) m.set(name, got);
    return got;
  };
  return {
    user: (name) => ask('passwd', name),
    group: async (name) => (await ask('group', name))?.gid ?? null,
  };
}

/** Who a script runs as. `notes`: warnings to log once at start. */
export type ScriptIdentity =
  | { ok: true; uid: number; gid: number; /** `user nobody (uid 65534, gid 65534)` */ label: string; from: 'script' | 'script_user' | 'keepalived_script' | 'daemon'; notes: string[] }
  | { ok: false; error: string };

export interface ScriptUserGlobals {
  scriptUser: ScriptUser | null;
  enableScriptSecurity: boolean;
}

async function ids(db: UserDb, u: ScriptUser): Promise<{ uid: number; gid: number } | string> {
  const pw = await db.user(u.user);
  if (!pw) return `user '${u.user}' does not exist`;
  if (u.group === null) return pw;
  const gid = await db.group(u.group);
  return gid === null ? `group '${u.group}' does not exist` : { uid: pw.uid, gid };
}

/**
 * The uid and gid a script runs as, keepalived's order: the script's own `USER [GROUP]`; else
 * global `script_user USER [GROUP]`; else the user `keepalived_script` if it exists; else the
 * daemon's own ids (root), with a warning, or an error with `enable_script_security`
 * (get_default_script_user). A group omitted is the user's primary group (getpwnam). An
 * unknown user or group is an error: keepalived removes the script (vrrp_parser.c
 * vrrp_vscript_user_handler / vrrp_vscript_end_handler) and so does the caller.
 */
export async function resolveScriptUser(own: ScriptUser | null, g: ScriptUserGlobals, db: UserDb, daemon: { uid: number; gid: number } = { uid: process.geteuid?.() ?? 0, gid: process.getegid?.() ?? 0 }): Promise<ScriptIdentity> {
  const label = (name: string, r: { uid: number; gid: number }): string => `user ${name} (uid ${r.uid}, gid ${r.gid})`;
  if (own) {
    const r = await ids(db, own);
    if (typeof r === 'string') return { ok: false, error: `${r}: create it or fix the script's USER [GROUP]` };
    return { ok: true, ...r, label: label(own.user, r), from: 'script', notes: [] };
  }
  if (g.scriptUser) {
    const r = await ids(db, g.scriptUser);
    if (typeof r === 'string') return { ok: false, error: `global_defs script_user: ${r}: create it or fix script_user (keepalived 2.2.7 drops every script without its own user then)` };
    return { ok: true, ...r, label: label(g.scriptUser.user, r), from: 'script_user', notes: [] };
  }
  const ks = await db.user('keepalived_script');
  if (ks) return { ok: true, ...ks, label: label('keepalived_script', ks), from: 'keepalived_script', notes: [] };
  if (g.enableScriptSecurity) {
    return { ok: false, error: `no script_user in global_defs and no user keepalived_script: with enable_script_security scripts do not run as root by default; add 'script_user USER' to global_defs or create the user keepalived_script` };
  }
  return {
    ok: true, ...daemon, label: `vipd's own user (uid ${daemon.uid}, gid ${daemon.gid})`, from: 'daemon',
    notes: [`scripts without their own user run as uid ${daemon.uid} (vipd's): no script_user in global_defs and no user keepalived_script; add 'script_user USER' or create keepalived_script to run them unprivileged`],
  };
}

// ---------------------------------------------------------------- check_script_secure

export type ScriptStatus = 'ok' | 'not-found' | 'not-executable' | 'insecure';

/** What the start-up check says about one script. */
export interface ScriptCheck {
  /**
   * `ok`; `not-found` (no such file, not in PATH, a directory on the way not searchable by
   * the script's user); `not-executable` (for the script's uid and gid); `insecure` (a path
   * a non-root user could change, for a script run as root: refused with
   * enable_script_security, else it runs with a warning).
   */
  status: ScriptStatus;
  /** The command to run: argv[0] as keepalived resolves it (PATH search, symlinks resolved). */
  argv: string[];
  /** keepalived's SC_* flags, for callers whose rules differ (notify scripts drop SC_SYSTEM ones). */
  flags: { system: boolean; isScript: boolean; executable: boolean; insecure: boolean; inhibit: boolean; notFound: boolean };
  /** For a vrrp_script: why it must not run (check_track_script_secure), null when it runs. */
  disabled: string | null;
  /** One-line warnings to log at start (path search, insecure but allowed, no #! line). */
  warnings: string[];
}

export interface CheckOptions {
  uid: number;
  gid: number;
  enableScriptSecurity: boolean;
  /** PATH for bare names; default {@link SCRIPT_PATH} (keepalived uses its own, systemd's under systemd). */
  path?: string;
  /** Directory of relative names; default `/` (keepalived's after it daemonizes). */
  cwd?: string;
}

/** Set-uid, set-gid and sticky bits (node's fs.constants lacks them). */
const S_ISUID = 0o4000;
const S_ISGID = 0o2000;
const S_ISVTX = 0o1000;

const oct = (m: number): string => (m & 0o7777).toString(8).padStart(4, '0');

/** keepalived's is_executable: root needs any x bit; the owner u+x; the file's group g+x; others o+x. */
export function isExecutableBy(s: Pick<Stats, 'mode' | 'uid' | 'gid'>, uid: number, gid: number): boolean {
  if (uid === 0) return (s.mode & 0o111) !== 0;
  if (uid === s.uid) return (s.mode & C.S_IXUSR) !== 0;
  if (gid === s.gid) return (s.mode & C.S_IXGRP) !== 0;
  return (s.mode & C.S_IXOTH) !== 0;
}

/**
 * The first directory of the absolute `p`'s ancestors the user cannot search (no x for it), or
 * null. keepalived resolves paths with the script's effective ids (seteuid around realpath
 * and the PATH search); vipd cannot change its ids in one thread, so it checks the modes.
 */
async function unsearchable(p: string, uid: number, gid: number): Promise<string | null> {
  if (uid === 0) return null;
  const dirs: string[] = [];
  for (let d = dirname(p); ; d = dirname(d)) {
    dirs.unshift(d);
    if (d === '/' || d === '.') break;
  }
  for (const d of dirs) {
    const s = await stat(d).catch(() => null);
    if (s && !isExecutableBy(s, uid, gid)) return d;
  }
  return null;
}

/** glibc's execvp search (keepalived find_path): the first regular file in PATH executable by uid/gid. */
async function searchPath(file: string, o: Required<CheckOptions>): Promise<{ found: string } | { denied: string | null }> {
  let denied: string | null = null;
  if (!file) return { denied };
  for (const dir of o.path.split(':')) {
    const cand = resolve(o.cwd, dir, file); // an empty entry is the current directory, as in glibc
    const s = await stat(cand).catch(() => null);
    if (!s) continue;
    if (s.isFile() && isExecutableBy(s, o.uid, o.gid) && !(await unsearchable(cand, o.uid, o.gid))) return { found: cand };
    denied ??= cand;
  }
  return { denied };
}

/** Why `s` (at `p`) lets a non-root user change what runs, or null (check_security's test). */
function unsafe(p: string, s: Stats): string | null {
  const what = s.isDirectory() ? 'directory' : s.isSymbolicLink() ? 'symbolic link' : 'file';
  const at = `${p} (${what}, owner ${s.uid}:${s.gid}, mode ${oct(s.mode)})`;
  if (s.uid !== 0) return `${at} is owned by uid ${s.uid}, not root`;
  const modesCount = (s.isDirectory() && !(s.mode & S_ISVTX)) || s.isFile();
  if (!modesCount) return null;
  const sticky = s.isDirectory() ? ' and has no sticky bit' : '';
  if (s.mode & C.S_IWOTH) return `${at} is writable by everyone${sticky}`;
  if (s.gid !== 0 && s.mode & C.S_IWGRP) return `${at} is writable by group ${s.gid}${sticky}`;
  return null;
}

/** keepalived's check_security: every prefix of `file`, "/" first, without following links. */
async function walk(file: string): Promise<{ bad: string; kind: 'gone' | 'type' | 'unsafe' } | null> {
  let cur = '';
  const prefixes = ['/', ...file.split('/').filter((x) => x !== '').map((x) => (cur += `/${x}`))];
  for (let i = 0; i < prefixes.length; i++) {
    const p = prefixes[i]!;
    const last = i === prefixes.length - 1;
    let s: Stats;
    try {
      s = await lstat(p);
    } catch (e) {
      return { bad: `${p} cannot be examined (${(e as NodeJS.ErrnoException).code})`, kind: 'gone' };
    }
    if ((!last && !s.isDirectory()) || (last && !s.isFile() && !s.isSymbolicLink())) return { bad: `${p} is not a ${last ? 'regular file' : 'directory'}`, kind: 'type' };
    const why = unsafe(p, s);
    if (why) return { bad: why, kind: 'unsafe' };
  }
  return null;
}

async function firstBytes(p: string): Promise<Buffer | null> {
  const fh = await open(p, 'r').catch(() => null);
  if (!fh) return null;
  try {
    const b = Buffer.alloc(4);
    const { bytesRead } = await fh.read(b, 0, 4, 0);
    return b.subarray(0, bytesRead);
  } catch {
    return null;
  } finally {
    await fh.close().catch(() => undefined);
  }
}

/**
 * keepalived 2.2.7's check_script_secure for a script run as `o.uid`/`o.gid`:
 * 1. the `<…` file-open form is run by /bin/sh and not checked (SC_SYSTEM);
 * 2. a bare name is searched in PATH (warning: give the full path), not found → not-found;
 * 3. the path is resolved (realpath; a symlink whose name differs from its target's keeps its
 *    own name when the target's directory holds that name for the same file);
 * 4. not executable for the uid/gid → not-executable (keepalived disables it);
 * 5. when it runs as uid 0 or gid 0, or is set-uid/set-gid root: every directory of its path
 *    and the file itself (and of the real path when the name was kept) must be owned by root
 *    and not writable by a non-root group nor by others (directories with the sticky bit may
 *    be); otherwise insecure: disabled with enable_script_security, a warning without.
 * Never throws.
 */
export async function checkScriptSecure(argv: readonly string[], opts: CheckOptions): Promise<ScriptCheck> {
  const o: Required<CheckOptions> = { path: SCRIPT_PATH, cwd: '/', ...opts };
  const flags = { system: false, isScript: false, executable: false, insecure: false, inhibit: false, notFound: false };
  const warnings: string[] = [];
  const who = `uid ${o.uid} gid ${o.gid}`;
  const out = (status: ScriptStatus, a: readonly string[], disabled: string | null): ScriptCheck => ({ status, argv: [...a], flags, disabled, warnings });
  const a0 = argv[0] ?? '';
  if (keepalivedShellForm([...argv]) !== null) {
    flags.system = true;
    return out('ok', argv, null);
  }
  let file = a0;
  if (!a0.includes('/')) {
    const r = await searchPath(a0, o);
    if ('denied' in r) {
      flags.notFound = true;
      const why = r.denied ? `${r.denied} is in PATH but not an executable file for ${who}` : `'${a0}' is not in PATH (${o.path})`;
      return out('not-found', argv, `${why}: give the script's full path`);
    }
    file = r.found;
    warnings.push(`'${a0}' found by PATH search at ${file}: give the full path in the configuration`);
  }
  const abs = resolve(o.cwd, file);
  let real: string;
  try {
    real = await realpath(abs);
  } catch (e) {
    flags.notFound = true;
    const code = (e as NodeJS.ErrnoException).code;
    return out('not-found', argv, `${abs} cannot be accessed (${code === 'ENOENT' ? 'no such file' : code}): fix the path`);
  }
  const blocked = await unsearchable(real, o.uid, o.gid);
  if (blocked) {
    flags.notFound = true;
    return out('not-found', argv, `${real}: directory ${blocked} is not searchable by ${who}: give it o+x (or g+x) or run the script as another user`);
  }
  let runPath = real;
  let realFile: string | null = null;
  if (abs !== real && basename(abs) !== basename(real)) {
    const named = resolve(dirname(real), basename(abs));
    const [sr, sn] = await Promise.all([stat(real).catch(() => null), stat(named).catch(() => null)]);
    if (!sr || (sn && sn.dev === sr.dev && sn.ino === sr.ino)) {
      runPath = named;
      realFile = real;
    }
  }
  const s = await stat(realFile ?? runPath).catch(() => null);
  const runArgv = [runPath, ...argv.slice(1)];
  if (!s) {
    flags.notFound = true;
    return out('not-found', runArgv, `${runPath} cannot be accessed: fix the path`);
  }
  flags.isScript = true;
  if (!isExecutableBy(s, o.uid, o.gid)) {
    return out('not-executable', runArgv, `${runPath} (owner ${s.uid}:${s.gid}, mode ${oct(s.mode)}) is not executable by ${who}: chmod +x it, or run it as a user who may execute it`);
  }
  flags.executable = true;
  const head = await firstBytes(realFile ?? runPath);
  if (head && !(head[0] === 0x23 && head[1] === 0x21) && !head.equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]))) {
    warnings.push(`${runPath} has no #! line: it is run by /bin/sh; add a #! line naming its interpreter`);
  }
  const asRoot = o.uid === 0 ? 'runs as root' : o.gid === 0 ? 'runs with group root' : null;
  const suid = s.uid === 0 && s.mode & C.S_IXUSR && s.mode & S_ISUID ? 'is set-uid root' : s.gid === 0 && s.mode & C.S_IXGRP && s.mode & S_ISGID ? 'is set-gid root' : null;
  const need = asRoot ?? suid;
  if (!need) return out('ok', runArgv, null);
  for (const p of realFile ? [runPath, realFile] : [runPath]) {
    const bad = await walk(p);
    if (!bad) continue;
    if (bad.kind === 'gone') {
      flags.notFound = true;
      return out('not-found', runArgv, `${bad.bad}: fix the path`);
    }
    if (bad.kind === 'type') {
      flags.inhibit = true;
      return out('insecure', runArgv, `${bad.bad}: a script that ${need} needs a plain path of root-owned directories`);
    }
    flags.insecure = true;
    const fix = `make it root-owned and writable by root only (chmod go-w${bad.bad.includes('sticky') ? ', or +t for a shared directory' : ''}), or run the script as a non-root user (script_user / user)`;
    const line = `${runPath} ${need}, but ${bad.bad}: another user could change what runs; ${fix}`;
    if (o.enableScriptSecurity) {
      flags.inhibit = true;
      return out('insecure', runArgv, `${line} (refused: enable_script_security)`);
    }
    warnings.push(`${line} (runs anyway: enable_script_security is off)`);
    return out('insecure', runArgv, null);
  }
  return out('ok', runArgv, null);
}

/**
 * The line keepalived 2.2.7 reports after checking every script when `enable_script_security`
 * is off and some script runs (vrrp.c check_vrrp_script_security), in vipd's words; null when
 * security is on or no script is a file.
 */
export function securitySummary(checks: readonly ScriptCheck[], enableScriptSecurity: boolean): string | null {
  if (enableScriptSecurity || !checks.some((c) => c.flags.isScript)) return null;
  const insecure = checks.some((c) => c.flags.insecure);
  return `scripts are run without enable_script_security${insecure ? ', and some of them could be changed by a non-root user (see the warnings above)' : ''}: add enable_script_security to global_defs to refuse scripts such users could change`;
}
