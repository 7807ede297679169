/**
 * Runs one script (a vrrp_script check now, notify scripts later) as a child process, the way
 * keepalived 2.2.7 does (lib/notify.c system_call_script, vrrp_scheduler.c
 * vrrp_script_child_thread), without ever blocking the event loop or waiting for pipes.
 *
 * - Started with posix_spawn through the native addon (src/os/native.ts spawn), never with
 *   child_process: libuv forks the whole daemon and waits for the child's exec, which holds
 *   the event loop for milliseconds per run (6.7 ms for a 50 MB daemon, measured; 50 scripts
 *   a second let a 10 ms backup take over). posix_spawn shares the address space until the
 *   exec. The exit is seen on a pidfd; no SIGCHLD handler is involved.
 * - Own process group: its own session (setsid(2), so the group id is the child's pid), as
 *   keepalived's setpgid(0, 0): a timeout or a cancel signals the whole group.
 * - Identity: another user's scripts are exec'd through util-linux `setpriv --reuid --regid
 *   --clear-groups` (setgid, an emptied supplementary group list, setuid: keepalived sets the
 *   list to the one gid, same access); a failure to exec the script is then setpriv's exit
 *   status and message, a failed run.
 * - stdin /dev/null; stdout and stderr are one pipe read into one buffer of at most
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
 *   line is run by /bin/sh too (on ENOEXEC, as execvp does), as keepalived does after
 *   libmagic finds no interpreter (notify.c check_script_secure).
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
import { Socket } from 'node:net';
import { constants } from 'node:os';
import { keepalivedShellForm } from '../../config/kw-notify.js';
import { native } from '../../os/native.js';

/** util-linux setpriv (Debian's util-linux, essential): runs a script as another user. */
export const SETPRIV = '/usr/bin/setpriv';
const SIGNAL_NAMES = new Map(Object.entries(constants.signals).map(([k, v]) => [v, k as NodeJS.Signals]));

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
  /** The leader's pid (= its process group id): null until the spawn completes (a pool thread), and when it could not be spawned. */
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
  // Another identity: through util-linux setpriv (posix_spawn cannot change ids; setpriv
  // sets gid, an emptied group list and uid, then execs the script in the same process).
  const ids = spec.uid !== process.geteuid?.() || spec.gid !== process.getegid?.();
  const pre = ids ? [SETPRIV, `--reuid=${spec.uid}`, `--regid=${spec.gid}`, '--clear-groups', '--'] : [];
  const env = Object.entries(scriptEnv(spec.env)).map(([k, v]) => `${k}=${v}`);

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
  let out: Socket | null = null;

  const clearTimer = (): void => {
    if (timer) clearTimeout(timer);
    timer = null;
  };
  const finish = (o: Omit<ScriptOutcome, 'durationMs' | 'output' | 'droppedBytes' | 'timedOut' | 'cancelled'>, durationMs: number): void => {
    if (settled) return;
    settled = true;
    clearTimer();
    if (pid !== null) live.delete(pid);
    out?.destroy();
    out = null;
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

  let pid: number | null = null;
  let pidfd = -1;
  /** Signal the group, or remember it for when the spawn completes. */
  const signalGroup = (sig: NodeJS.Signals): void => {
    if (pid !== null) killGroup(pid, sig);
  };
  const onExit = (code: number | null, signal: NodeJS.Signals | null): void => {
    exited = true;
    const durationMs = performance.now() - t0;
    clearTimer();
    if (timedOut || cancelled) signalGroup('SIGKILL');
    // One turn for output already in the pipe (its read events may come after the exit's).
    setImmediate(() => finish({ exitCode: code, signal }, durationMs));
  };
  // The pidfd turns readable when the leader exits; reaping it gives the status.
  const watchExit = (): void => {
    new (native().ReadyWatcher)(pidfd, () => {
      const st = native().reap(pidfd);
      if (!st) return watchExit();
      native().close(pidfd);
      onExit(st[1] ? null : st[0], st[1] ? (SIGNAL_NAMES.get(st[1]) ?? null) : null);
    }, () => undefined);
  };
  const started = (r: [number, number, number]): void => {
    [pid, pidfd] = r;
    out = new Socket({ fd: r[2], readable: true, writable: false });
    out.on('data', onData);
    out.on('error', () => undefined); // the read end only: nothing to report
    live.add(pid);
    if (!exitHook) {
      exitHook = true;
      process.on('exit', () => {
        for (const g of live) killGroup(g, 'SIGKILL');
      });
    }
    watchExit();
    if (timedOut || cancelled) signalGroup(timedOut ? 'SIGTERM' : 'SIGKILL'); // asked before the spawn completed
  };
  // posix_spawn on a pool thread (src/os/native.ts): the event loop goes on meanwhile.
  const spawnArgv = (argv: string[], retry: boolean): void => {
    native().spawn(argv[0]!, argv, env, '/', (err, r) => {
      if (err) {
        // a file without #!: run by /bin/sh, as execvp (and keepalived through system()) does
        if (retry && err.code === 'ENOEXEC') return spawnArgv(['/bin/sh', file, ...args], false);
        return finish({ exitCode: null, signal: null, spawnError: errText(err) }, performance.now() - t0);
      }
      started(r!);
    });
  };
  spawnArgv([...pre, file, ...args], pre.length === 0);
  if (spec.timeoutMs > 0 && Number.isFinite(spec.timeoutMs)) {
    timer = setTimeout(() => {
      timedOut = true;
      signalGroup('SIGTERM');
      timer = setTimeout(() => signalGroup('SIGKILL'), grace);
    }, spec.timeoutMs);
  }

  const cancel = (): void => {
    if (exited || settled) return;
    cancelled = true;
    clearTimer();
    signalGroup('SIGTERM');
    timer = setTimeout(() => signalGroup('SIGKILL'), 1000);
  };
  return {
    get pid(): number | null {
      return pid;
    },
    done,
    cancel,
  };
}
