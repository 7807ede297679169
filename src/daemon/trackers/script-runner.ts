/**
 * Runs one script (a vrrp_script check now, notify scripts later) as a child process, the way
 * keepalived 2.2.7 does (lib/notify.c system_call_script, vrrp_scheduler.c
 * vrrp_script_child_thread), without ever blocking the event loop or waiting for pipes.
 *
 * - Own process group: spawned `detached` (setsid(2), so the group id is the child's pid), as
 *   keepalived's setpgid(0, 0): a timeout or a cancel signals the whole group.
 * - Identity: setgid, setuid and an emptied supplementary group list (libuv does setgroups(0)
 *   when ids are given; keepalived sets the list to the one gid: same access). Passed whenever
 *   vipd runs as root (so root's extra groups go too) or the ids differ from vipd's own.
 * - stdin /dev/null; stdout and stderr are pipes read into one buffer of at most
 *   `maxOutputBytes` (keepalived sends them to /dev/null; vipd keeps the start for its debug log).
 * - Environment: keepalived passes its own environment (execve(…, environ)), under systemd
 *   the unit's PATH and little else. vipd passes a clean one instead, so nothing of its own
 *   environment (NODE_OPTIONS, credentials of the shell that started it) leaks into scripts:
 *   PATH = systemd's default PATH for services ({@link SCRIPT_PATH}: what keepalived's scripts
 *   see under systemd), LANG, LC_ALL and TZ copied from vipd's environment when set (system
 *   settings that change a script's output), then `spec.env`. The working directory is `/`,
 *   keepalived's after it daemonizes (core/daemon.c xdaemon).
 * - keepalived's file-open form (argv[0] `<` then `/`, `</dev/tcp/127.0.0.1/80`) runs through
 *   `/bin/sh -c` (keepalived's system()), see keepalivedShellForm. A file without a `#!`
 *   line is run by /bin/sh too: libuv's execvp retries ENOEXEC with the shell, as keepalived
 *   does after libmagic finds no interpreter (notify.c check_script_secure).
 * - Timeout (vrrp_script_child_thread): SIGTERM to the group, `killGraceMs` (keepalived: 2 s)
 *   later SIGKILL to the group if the leader still runs; once a timed-out or cancelled leader
 *   has exited, SIGKILL to the group, so nothing it started is left (keepalived does this when
 *   the leader died of its SIGTERM). A run whose timeout expired is `timedOut`, however it then
 *   ended (keepalived counts a leader that catches SIGTERM and exits 0 as a success: vipd
 *   counts a run past its timeout as timed out).
 * - Finished = the leader exited: the outcome is given one event-loop turn later (so output
 *   already in the pipes is read), then our pipe ends are closed. A background process that
 *   keeps stdout open neither delays the outcome nor keeps anything of vipd's open.
 * - keepalived's scripts get SIGTERM when keepalived dies (PR_SET_PDEATHSIG); Node cannot ask
 *   for that, so the groups still running when vipd exits (also on an uncaught exception) get
 *   SIGKILL from a process 'exit' handler. After a SIGKILL of vipd they run to their end;
 *   under systemd (KillMode=mixed) the unit's stop kills them.
 *
 * Never throws, never rejects: a spawn failure (ENOENT, EACCES, a bad uid) is an outcome.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { keepalivedShellForm } from '../../config/kw-notify.js';

/** systemd's default PATH for services (what keepalived and its scripts get under systemd). */
export const SCRIPT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Variables copied from vipd's environment into every script's, when set. */
const PASSED = ['LANG', 'LC_ALL', 'TZ'] as const;

export interface ScriptSpec {
  /** The command, argv[0] a path (the security check resolves bare names), never through a shell but for the `<…` form. */
  argv: readonly string[];
  uid: number;
  gid: number;
  /** Milliseconds before SIGTERM to the group; 0 or Infinity: no timeout. */
  timeoutMs: number;
  /** Bound on the captured stdout+stderr, bytes; default 4096. */
  maxOutputBytes?: number;
  /** Added to (and overriding) the clean environment. */
  env?: Record<string, string>;
  /** Milliseconds from SIGTERM to SIGKILL of the group after a timeout; default 2000 (keepalived's 2 s). */
  killGraceMs?: number;
}

export interface ScriptOutcome {
  /** The leader's exit status, null when a signal ended it or it never started. */
  exitCode: number | null;
  /** The signal that ended the leader (ours or another's), or null. */
  signal: NodeJS.Signals | null;
  /** The timeout expired before the leader exited (the group was signalled). */
  timedOut: boolean;
  /** cancel() was called before the leader exited. */
  cancelled: boolean;
  /** Spawn to exit (or to the spawn failure), milliseconds. */
  durationMs: number;
  /** The first maxOutputBytes bytes of stdout and stderr, in arrival order, as UTF-8. */
  output: string;
  /** Output bytes dropped beyond the bound. */
  droppedBytes: number;
  /** Why the process could not be started: `ENOENT: spawn /x ENOENT`; then exitCode and signal are null. */
  spawnError?: string;
}

export interface ScriptRun {
  /** The leader's pid (= its process group id), null when it could not be spawned. */
  pid: number | null;
  /** Resolves once, when the leader has exited (or could not start); never rejects. */
  done: Promise<ScriptOutcome>;
  /** Stop the run: SIGTERM to the group, SIGKILL 1 s later if the leader still runs (keepalived's script_killall at shutdown). */
  cancel(): void;
}

/** Process groups of running scripts, killed if vipd exits while they run. */
const live = new Set<number>();
let exitHook = false;

function killGroup(pgid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pgid, sig);
  } catch {
    // ESRCH: the group is gone already; EPERM cannot happen for a group we started as root.
  }
}

/** The clean environment of a script (see the module comment). */
export function scriptEnv(extra?: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = { PATH: SCRIPT_PATH };
  for (const k of PASSED) {
    const v = process.env[k];
    if (v !== undefined && v !== '') env[k] = v;
  }
  return extra ? { ...env, ...extra } : env;
}

function errText(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  return `${err?.code ?? 'ERROR'}: ${err?.message ?? String(e)}`;
}

/** Start `spec` now (see the module comment). */
export function runScript(spec: ScriptSpec): ScriptRun {
  const t0 = performance.now();
  const max = spec.maxOutputBytes ?? 4096;
  const grace = spec.killGraceMs ?? 2000;
  const shell = keepalivedShellForm([...spec.argv]);
  const file = shell !== null ? '/bin/sh' : spec.argv[0] ?? '';
  const args = shell !== null ? ['-c', shell] : spec.argv.slice(1);
  const root = process.geteuid?.() === 0;
  const ids = root || spec.uid !== process.geteuid?.() || spec.gid !== process.getegid?.() ? { uid: spec.uid, gid: spec.gid } : {};

  const chunks: Buffer[] = [];
  let kept = 0;
  let dropped = 0;
  let timedOut = false;
  let cancelled = false;
  let exited = false;
  let settled = false;
  let timer: NodeJS.Timeout | null = null;
  let resolve!: (o: ScriptOutcome) => void;
  const done = new Promise<ScriptOutcome>((r) => (resolve = r));
  let child: ChildProcess | null = null;

  const clearTimer = (): void => {
    if (timer) clearTimeout(timer);
    timer = null;
  };
  const finish = (o: Omit<ScriptOutcome, 'durationMs' | 'output' | 'droppedBytes' | 'timedOut' | 'cancelled'>, durationMs: number): void => {
    if (settled) return;
    settled = true;
    clearTimer();
    if (child?.pid !== undefined) live.delete(child.pid);
    child?.stdout?.destroy();
    child?.stderr?.destroy();
    resolve({ ...o, timedOut, cancelled, durationMs, output: Buffer.concat(chunks).toString('utf8'), droppedBytes: dropped });
  };
  const onData = (b: Buffer): void => {
    if (settled) return;
    const room = max - kept;
    if (room >= b.length) {
      chunks.push(b);
      kept += b.length;
    } else {
      if (room > 0) chunks.push(b.subarray(0, room));
      kept += Math.max(0, room);
      dropped += b.length - Math.max(0, room);
    }
  };

  try {
    child = spawn(file, args, { ...ids, detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: scriptEnv(spec.env), cwd: '/', windowsHide: true });
  } catch (e) {
    // libuv errors other than ENOENT/EACCES/EAGAIN/EMFILE/ENFILE are thrown by spawn (e.g. EPERM from setuid).
    finish({ exitCode: null, signal: null, spawnError: errText(e) }, performance.now() - t0);
    return { pid: null, done, cancel: () => undefined };
  }
  const c = child;
  const pid = c.pid ?? null;
  c.stdout?.on('data', onData);
  c.stderr?.on('data', onData);
  // A pipe error (EPIPE, a destroyed stream) must not become an uncaught exception.
  c.stdout?.on('error', () => undefined);
  c.stderr?.on('error', () => undefined);
  c.on('error', (e) => {
    // Spawn failures come here, without a pid and without 'exit'. A started child always ends with 'exit'.
    if (pid === null) finish({ exitCode: null, signal: null, spawnError: errText(e) }, performance.now() - t0);
  });
  c.on('exit', (code, signal) => {
    exited = true;
    const durationMs = performance.now() - t0;
    clearTimer();
    if (pid !== null && (timedOut || cancelled)) killGroup(pid, 'SIGKILL');
    // One turn for output already in the pipes (its read events may come after the exit's).
    setImmediate(() => finish({ exitCode: code, signal }, durationMs));
  });

  if (pid !== null) {
    live.add(pid);
    if (!exitHook) {
      exitHook = true;
      process.on('exit', () => {
        for (const g of live) killGroup(g, 'SIGKILL');
      });
    }
    if (spec.timeoutMs > 0 && Number.isFinite(spec.timeoutMs)) {
      timer = setTimeout(() => {
        timedOut = true;
        killGroup(pid, 'SIGTERM');
        timer = setTimeout(() => killGroup(pid, 'SIGKILL'), grace);
      }, spec.timeoutMs);
    }
  }

  const cancel = (): void => {
    if (exited || settled || pid === null) return;
    cancelled = true;
    clearTimer();
    killGroup(pid, 'SIGTERM');
    timer = setTimeout(() => killGroup(pid, 'SIGKILL'), 1000);
  };
  return { pid, done, cancel };
}
