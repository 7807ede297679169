/**
 * The notify FIFOs (`notify_fifo`, `vrrp_notify_fifo`, their `_script`s), as keepalived 2.2.7
 * runs them (lib/notify.c fifo_open / fifo_close, vrrp/vrrp_notify.c notify_fifo,
 * core/global_parser.c notify_fifo, core/global_data.c, vrrp/vrrp.c vrrp_complete_init):
 *
 * - One line per event: `INSTANCE "VI_1" MASTER 100\n`, `GROUP "G1" BACKUP 0\n` ({@link fifoLine}),
 *   written to every open FIFO.
 * - Same path for both: the vrrp one is ignored with its script (each line would come twice).
 * - Start: the FIFO is created when missing (mkfifo mode 0644 less the umask; keepalived's
 *   default umask 0177 makes its FIFO 0600, vipd's comes from the unit's UMask=, 0022 by
 *   default: 0644) and, when vipd created it, chowned to the FIFO's `USER [GROUP]`, else to the
 *   default script user (global script_user, else keepalived_script if it exists), as
 *   keepalived does. Then the fifo script starts (argv + the FIFO's path, its own user, its own
 *   process group, no timeout), then vipd opens the FIFO O_RDWR|O_NONBLOCK|O_NOFOLLOW|O_CLOEXEC:
 *   being a reader itself, vipd never blocks in open or write, and never gets EPIPE/SIGPIPE
 *   when the reader goes away; lines written meanwhile wait in the pipe (64 KiB) for the next.
 * - Never blocking: a write that finds the pipe full (EAGAIN: nobody reads) is dropped and
 *   counted; at most one warning per 10 s per FIFO, with the count. keepalived drops them
 *   silently. A partial write counts as dropped: writes up to PIPE_BUF (4096 bytes) are atomic
 *   on a pipe, so only a line longer than that can be cut; its start stays in the pipe.
 * - The script's exit is logged (`vrrp notify fifo script terminated`, keepalived's words,
 *   with the exit code); like keepalived, vipd does not restart it.
 * - Stop ({@link NotifyFifos.close}): unlink the FIFO if vipd created it (first, so a reader
 *   looping on open cannot reopen it), close it, SIGTERM the scripts' groups (SIGKILL 1 s
 *   later, keepalived's script_killall) and wait for them.
 *
 * Stricter than keepalived, which logs and runs on without the FIFO or its script: an unknown
 * user, a fifo script that would not run (not found, not executable, insecure under
 * enable_script_security, the `<…` form keepalived never runs as a notify script), a path that
 * is not a FIFO, a failed mkfifo/chown/open all reject {@link NotifyFifos.open}, and the checks
 * run before anything is created.
 */
import { close as closeFd, constants as C, fstat, open as openFd, writeSync, type Stats } from 'node:fs';
import { chown, lstat, stat, unlink } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { promisify } from 'node:util';
import type { Logger } from 'pino';
import type { GlobalModel } from '../../config/model.js';
import { native } from '../../os/native.js';
import { runScript, type ScriptRun } from '../trackers/script-runner.js';
import { checkScriptSecure, resolveScriptUser, systemUserDb, type UserDb } from '../trackers/script-security.js';

/** The states keepalived 2.2.7 writes (vrrp_notify.c notify_fifo); groups write priority 0. */
export const FIFO_STATES = ['MASTER', 'BACKUP', 'FAULT', 'STOP', 'DELETED', 'MASTER_RX_LOWER_PRI', 'MASTER_PRIORITY', 'BACKUP_PRIORITY'] as const;
export type FifoState = (typeof FIFO_STATES)[number];

/** Mode given to mkfifo (keepalived's S_IRUSR|S_IWUSR|S_IRGRP|S_IROTH), less the umask. */
export const FIFO_MODE = 0o644;
/** At most one drop warning per FIFO in this many milliseconds. */
export const DROP_WARN_MS = 10_000;
/** How long close() leaves a FIFO script to read the last lines before stopping it, ms. */
export const READER_GRACE_MS = 500;

/**
 * keepalived's line: `TYPE "NAME" STATE PRIORITY\n`, e.g. `INSTANCE "VI_1" MASTER 100\n`;
 * the name is written as it is (no escaping), a group's priority is 0.
 */
export function fifoLine(kind: 'INSTANCE' | 'GROUP', name: string, state: string, priority: number): string {
  return `${kind} "${name}" ${state} ${priority}\n`;
}

type Key = 'notify_fifo' | 'vrrp_notify_fifo';

interface Plan {
  key: Key;
  path: string;
  /** chown after mkfifo, -1 = leave; null: nothing to change. */
  owner: { uid: number; gid: number } | null;
  script: { argv: string[]; uid: number; gid: number; label: string } | null;
}

interface Fifo {
  plan: Plan;
  fd: number;
  created: boolean;
  written: number;
  dropped: number;
  /** Drops not yet in a warning, the last reason, when the last warning was. */
  pending: number;
  reason: string;
  warnedAt: number;
  timer: NodeJS.Timeout | null;
  run: ScriptRun | null;
  exited: Promise<void> | null;
}

export interface NotifyFifoOptions {
  /** Users and groups; default {@link systemUserDb}. */
  userDb?: UserDb;
  /** Milliseconds clock for the drop warnings; default Date.now. */
  now?: () => number;
}

const pOpen = promisify(openFd);
const pFstat = promisify(fstat);
const pClose = promisify(closeFd);
const errCode = (e: unknown): string => (e as NodeJS.ErrnoException)?.code ?? 'ERROR';
const me = (): { uid: number; gid: number } => ({ uid: process.geteuid?.() ?? 0, gid: process.getegid?.() ?? 0 });

function what(s: Stats): string {
  return s.isFile() ? 'regular file' : s.isDirectory() ? 'directory' : s.isSymbolicLink() ? 'symbolic link' : s.isSocket() ? 'socket' : s.isCharacterDevice() || s.isBlockDevice() ? 'device' : 'file';
}

/** What keepalived 2.2.7 does with a path that exists and is not a FIFO (mkfifo EEXIST, then open). */
function keepalivedDoes(s: Stats): string {
  if (s.isSymbolicLink()) return 'keepalived 2.2.7 fails to open it (O_NOFOLLOW: ELOOP), logs it and runs without the FIFO';
  if (s.isDirectory()) return 'keepalived 2.2.7 fails to open it (EISDIR), logs it and runs without the FIFO';
  if (s.isFile()) return 'keepalived 2.2.7 opens it and overwrites its start with the lines';
  return 'keepalived 2.2.7 opens it and writes the lines into it';
}

/** Both notify FIFOs of a configuration: see the module comment. */
export class NotifyFifos {
  private closing: Promise<void> | null = null;

  private constructor(
    private readonly fifos: Fifo[],
    private readonly log: Logger,
    private readonly now: () => number,
  ) {}

  /**
   * Check, create, start and open the FIFOs of `global` (none configured: an instance that
   * writes nowhere). Rejects with an Error naming the keyword and path on any failure (see
   * the module comment), after undoing what it had done (FIFOs it created unlinked, scripts
   * stopped).
   */
  /**
   * The problems open() would refuse with, found without creating or starting anything
   * (`vipd check-config`, `-t`): one message per FIFO, as open() words it.
   */
  static async problems(global: GlobalModel, opts: NotifyFifoOptions = {}): Promise<string[]> {
    const db = opts.userDb ?? systemUserDb();
    const quiet = { warn: () => undefined } as unknown as Logger;
    const out: string[] = [];
    for (const [key, f] of [['notify_fifo', global.notifyFifo], ['vrrp_notify_fifo', global.vrrpNotifyFifo]] as const) {
      if (!f?.path) continue;
      await plan(key, f, global, db, quiet).catch((e: Error) => out.push(e.message));
    }
    return out;
  }

  static async open(global: GlobalModel, log: Logger, opts: NotifyFifoOptions = {}): Promise<NotifyFifos> {
    const db = opts.userDb ?? systemUserDb();
    const want: { key: Key; f: { path: string; script: string[] | null } }[] = [];
    if (global.notifyFifo?.path) want.push({ key: 'notify_fifo', f: global.notifyFifo });
    if (global.vrrpNotifyFifo?.path) {
      if (global.notifyFifo?.path && resolve('/', global.notifyFifo.path) === resolve('/', global.vrrpNotifyFifo.path)) {
        log.warn({ fifo: global.vrrpNotifyFifo.path }, `vrrp_notify_fifo ${global.vrrpNotifyFifo.path} is notify_fifo's path too: vrrp_notify_fifo and its script are ignored, as keepalived 2.2.7 does (each line would be written twice)`);
      } else want.push({ key: 'vrrp_notify_fifo', f: global.vrrpNotifyFifo });
    }
    const plans: Plan[] = [];
    for (const { key, f } of want) plans.push(await plan(key, f, global, db, log));
    const fifos: Fifo[] = [];
    const self = new NotifyFifos(fifos, log, opts.now ?? Date.now);
    try {
      for (const p of plans) fifos.push(await self.start(p));
    } catch (e) {
      await self.close();
      throw e;
    }
    return self;
  }

  /** Create (if missing), start the script, open: one FIFO. On failure it is added to this.fifos first, for close() to undo. */
  private async start(p: Plan): Promise<Fifo> {
    const f: Fifo = { plan: p, fd: -1, created: false, written: 0, dropped: 0, pending: 0, reason: '', warnedAt: -Infinity, timer: null, run: null, exited: null };
    const fail = async (msg: string): Promise<never> => {
      this.fifos.push(f); // so that close() undoes it
      throw new Error(`${p.key} ${p.path}: ${msg}`);
    };
    try {
      native().mkfifo(p.path, FIFO_MODE);
      f.created = true;
    } catch (e) {
      if (errCode(e) !== 'EEXIST') return fail(`cannot create the FIFO (${(e as Error).message}): create its directory or fix the path (keepalived 2.2.7 logs it and runs without the FIFO)`);
    }
    if (f.created) {
      this.log.info({ fifo: p.path }, `${p.key} ${p.path} created`);
      if (p.owner) {
        try {
          await chown(p.path, p.owner.uid, p.owner.gid);
        } catch (e) {
          return fail(`cannot set its owner to ${p.owner.uid}:${p.owner.gid} (${errCode(e)}) (keepalived 2.2.7 logs it and goes on)`);
        }
      }
    }
    if (p.script) this.startScript(f, p.script);
    try {
      f.fd = await pOpen(p.path, C.O_RDWR | C.O_NONBLOCK | C.O_NOFOLLOW); // libuv adds O_CLOEXEC
    } catch (e) {
      return fail(`cannot open it (${errCode(e)}): ${errCode(e) === 'ELOOP' ? 'a symbolic link is not followed; give the FIFO\'s own path' : 'fix the path'} (keepalived 2.2.7 logs it and runs without the FIFO)`);
    }
    const s = await pFstat(f.fd).catch((e: unknown) => fail(`fstat failed (${errCode(e)})`));
    if (!s.isFIFO()) return fail(`exists and is a ${what(s)}, not a FIFO: remove it or choose another path (${keepalivedDoes(s)})`);
    return f;
  }

  private startScript(f: Fifo, s: NonNullable<Plan['script']>): void {
    const run = runScript({ argv: s.argv, uid: s.uid, gid: s.gid, timeoutMs: 0 });
    f.run = run;
    const at = { fifo: f.plan.path, script: s.argv.join(' ') };
    f.exited = run.done.then((o) => {
      const code = o.spawnError ? `could not start: ${o.spawnError}` : o.signal ? `killed by ${o.signal}` : `exit code ${o.exitCode}`;
      const fields = { ...at, exitCode: o.exitCode, signal: o.signal, durationMs: Math.round(o.durationMs), ...(o.output ? { output: o.output.slice(0, 512) } : {}) };
      const msg = `vrrp notify fifo script terminated (${f.plan.key}_script for ${f.plan.path}, ${code})`;
      if (this.closing) this.log.info(fields, msg);
      else this.log.warn(fields, `${msg}: it is not restarted (keepalived 2.2.7 does not either); unless something else reads ${f.plan.path}, lines are dropped once its pipe is full`);
    });
    this.log.info({ ...at, user: s.label }, `${f.plan.key}_script started for ${f.plan.path} as ${s.label}`);
  }

  /**
   * Write `line` (one {@link fifoLine}) to every open FIFO now, synchronously and never
   * blocking (a few µs; see the module comment for drops). Never throws; ignored after close().
   */
  write(line: string): void {
    if (this.fifos.length === 0 || this.closing) return;
    const buf = Buffer.from(line);
    for (const f of this.fifos) {
      if (f.fd < 0) continue;
      let n = -1;
      let code = '';
      try {
        n = writeSync(f.fd, buf, 0, buf.length, null);
      } catch (e) {
        code = errCode(e);
      }
      if (n === buf.length) {
        f.written++;
        continue;
      }
      f.dropped++;
      this.dropped(f, n >= 0 ? `partial write (${n} of ${buf.length} bytes)` : code === 'EAGAIN' ? 'the pipe is full: nobody reads it' : `write failed: ${code}`);
    }
  }

  /** Lines written and dropped per open FIFO (metrics). */
  stats(): { path: string; written: number; dropped: number }[] {
    return this.fifos.filter((f) => f.fd >= 0).map((f) => ({ path: f.plan.path, written: f.written, dropped: f.dropped }));
  }

  /** The fifo scripts' pids (null while starting or when none), per FIFO path. */
  scripts(): { path: string; pid: number | null }[] {
    return this.fifos.filter((f) => f.run).map((f) => ({ path: f.plan.path, pid: f.run!.pid }));
  }

  private dropped(f: Fifo, reason: string): void {
    f.pending++;
    f.reason = reason;
    const wait = f.warnedAt + DROP_WARN_MS - this.now();
    if (wait <= 0) return this.tell(f);
    f.timer ??= setTimeout(() => this.tell(f), wait).unref();
  }

  private tell(f: Fifo): void {
    if (f.timer) clearTimeout(f.timer);
    f.timer = null;
    if (f.pending === 0) return;
    this.log.warn({ fifo: f.plan.path, dropped: f.pending, droppedTotal: f.dropped, written: f.written }, `${f.plan.key} ${f.plan.path}: ${f.pending} line(s) dropped (${f.reason}); ${f.dropped} in all`);
    f.pending = 0;
    f.warnedAt = this.now();
  }

  /** Unlink what vipd created, close, stop the scripts and wait for them. Idempotent; never rejects. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      // the reader gets a moment for the last lines (the STOP lines at shutdown) before its
      // script is stopped; keepalived stops it at once, and its reader rarely sees them
      if (this.fifos.some((f) => f.run && f.fd >= 0)) await new Promise((r) => setTimeout(r, READER_GRACE_MS));
      for (const f of this.fifos) {
        this.tell(f);
        if (f.created) {
          f.created = false;
          await unlink(f.plan.path).catch((e) => this.log.error({ fifo: f.plan.path }, `${f.plan.key} ${f.plan.path}: cannot remove it (${errCode(e)})`));
        }
        if (f.fd >= 0) {
          const fd = f.fd;
          f.fd = -1;
          await pClose(fd).catch((e) => this.log.error({ fifo: f.plan.path }, `${f.plan.key} ${f.plan.path}: close failed (${errCode(e)})`));
        }
      }
      for (const f of this.fifos) f.run?.cancel();
      await Promise.all(this.fifos.map((f) => f.exited));
    })();
    return this.closing;
  }
}

/** Every check of one FIFO that can fail, before anything is created. */
async function plan(key: Key, f: { path: string; script: string[] | null }, g: GlobalModel, db: UserDb, log: Logger): Promise<Plan> {
  const path = resolve('/', f.path); // keepalived runs in / (it daemonizes)
  const fail = (msg: string): Error => new Error(`${key} ${f.path}: ${msg}`);
  // the FIFO's own USER [GROUP] (global.other holds the words of the line, path first)
  const words = g.other[key] ?? [];
  const ug = words[0] === f.path ? words.slice(1) : words;
  const who = await resolveScriptUser(ug[0] ? { user: ug[0], group: ug[1] ?? null } : null, { scriptUser: g.scriptUser, enableScriptSecurity: false }, db);
  if (!who.ok) throw fail(`${who.error} (keepalived 2.2.7 ignores the FIFO)`);
  const self = me();
  const owner = who.uid !== self.uid || who.gid !== self.gid ? { uid: who.uid !== self.uid ? who.uid : -1, gid: who.gid !== self.gid ? who.gid : -1 } : null;
  const st = await lstat(path).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return null;
    throw fail(`cannot be examined (${e.code}): fix the path`);
  });
  if (st && !st.isFIFO()) throw fail(`exists and is a ${what(st)}, not a FIFO: remove it or choose another path (${keepalivedDoes(st)})`);
  if (!st) {
    const dir = await stat(dirname(path)).catch(() => null);
    if (!dir?.isDirectory()) throw fail(`cannot be created: ${dirname(path)} is not a directory (keepalived 2.2.7 logs "Unable to create notify fifo" and runs without it)`);
  }
  if (!f.script) return { key, path, owner, script: null };
  const su = g.other[`${key}_script_user`];
  const sw = await resolveScriptUser(su?.[0] ? { user: su[0], group: su[1] ?? null } : null, g, db);
  if (!sw.ok) throw fail(`${key}_script: ${sw.error} (keepalived 2.2.7 drops the script)`);
  for (const n of sw.notes) log.warn({ fifo: f.path }, `${key}_script: ${n}`);
  const chk = await checkScriptSecure(f.script, { uid: sw.uid, gid: sw.gid, enableScriptSecurity: g.enableScriptSecurity });
  for (const w of chk.warnings) log.warn({ fifo: f.path }, `${key}_script: ${w}`);
  if (chk.flags.system) throw fail(`${key}_script ${f.script.join(' ')}: keepalived 2.2.7 never runs the '<…' form as a notify script; give a command`);
  if (chk.disabled) throw fail(`${key}_script: ${chk.disabled} (keepalived 2.2.7 drops the script and keeps the FIFO)`);
  return { key, path, owner, script: { argv: [...chk.argv, path], uid: sw.uid, gid: sw.gid, label: sw.label } };
}
