/**
 * `vrrp_script NAME { … }` as a tracker: the script runs every `interval` seconds, and its
 * exits move keepalived 2.2.7's `result` counter (vrrp_scheduler.c vrrp_script_thread,
 * vrrp_script_child_thread, vrrp_init_script; vrrp_track.c update_script_priorities):
 *
 * - `result` is 0..rise+fall-1 and the script is OK while result >= rise.
 * - Start: without `init_fail` result = rise-1 ("one success is enough") and the level is
 *   unknown ({bool, up: null}) until the first outcome, which decides at once either way;
 *   with `init_fail` result = 0 and the level is down from the start.
 * - A success below rise-1 counts up; at rise-1 (or more) it jumps to rise+fall-1, turning
 *   OK if it was not. A failure above rise counts down; at rise or below it drops to 0,
 *   turning KO if it was OK (result = rise) or still unknown. So `rise` successes in a row turn
 *   it OK and `fall` failures in a row turn it KO, and a single opposite outcome in between
 *   restarts the count.
 * - A timeout, a death by signal and (vipd) a failure to start are failures. keepalived's
 *   child exits 0 when execve fails (notify.c system_call_script): a success; vipd counts
 *   it as a failure (the start-up check makes it rare either way).
 *
 * Runs come from absolute deadlines on the daemon's Scheduler, start + k × interval (keepalived
 * re-arms from the wake-up time and drifts); when the loop was late past a deadline, the next
 * one on the grid is used (no burst). At most one run is in flight: a run due while the last
 * one still goes (or is being killed) is skipped, counted and logged, at most once a minute.
 * keepalived logs "skipping run" there, yet starts the run anyway, so a hung script piles up
 * one process per interval; vipd skips it as the message says.
 *
 * Log lines as keepalived's: `VRRP_Script(NAME) succeeded`, `VRRP_Script(NAME) failed
 * (exited with status N)` / `(due to signal N)`, `VRRP_Script(NAME) timed_out` on level changes;
 * ``Script `NAME` now returning N`` when the exit status changes (keepalived starts from 0).
 * Output at debug.
 *
 * A script the start-up check refused is built with `disabled`: it never runs, its level
 * stays the initial one and status() says why. keepalived removes such a script from every
 * instance and sync group (vrrp.c check_vrrp_script_security): the daemon must drop the
 * tracking references to a disabled tracker, not act on its level.
 */
import { constants } from 'node:os';
import type { Logger } from 'pino';
import type { VrrpScriptModel } from '../../config/model-track.js';
import { nowUs } from '../clock.js';
import { Throttle } from '../throttle.js';
import type { Scheduler, TimerOwner } from '../scheduler.js';
import { runScript, type ScriptOutcome, type ScriptRun } from './script-runner.js';
import type { Tracker, TrackerLevel, TrackerStatus } from './types.js';

/** Skipped runs are logged at most this often (µs). */
const SKIP_LOG_EVERY_US = 60_000_000;

export interface VrrpScriptDeps {
  scheduler: Pick<Scheduler, 'set' | 'clear' | 'release'>;
  log: Logger;
  /** The runner (tests inject a fake). */
  run?: typeof runScript;
  /** Who the script runs as (script-security.ts resolveScriptUser). */
  uid: number;
  gid: number;
  /** The command as the start-up check resolved it (checkScriptSecure's argv); default the model's. */
  argv?: readonly string[];
  /** Interval override, microseconds (tests); default the model's interval. */
  intervalUs?: number;
  /** Monotonic clock, microseconds; default nowUs (the Scheduler's). */
  clock?: () => number;
  /**
   * Delay of the first run, microseconds (at most the interval; default 0: at once). The
   * daemon spreads its scripts' first runs over a second so that they do not all start on the
   * same tick, and stay spread (the grid follows the first run).
   */
  firstRunDelayUs?: number;
  /** Why the script must not run (start-up check); it then never runs. */
  disabled?: string;
  /** Bound on the output kept for the debug log, bytes; default 4096. */
  maxOutputBytes?: number;
}

type InitState = 'init' | 'failed' | 'done';

function signalNumber(sig: NodeJS.Signals): number {
  return (constants.signals as Record<string, number>)[sig] ?? 0;
}

export class VrrpScriptTracker implements Tracker, TimerOwner {
  readonly kind = 'script' as const;
  readonly name: string;
  onChange: ((level: TrackerLevel) => void) | null = null;

  private readonly rise: number;
  private readonly fall: number;
  private readonly intervalUs: number;
  private readonly argv: readonly string[];
  private readonly run: typeof runScript;
  private readonly clock: () => number;
  private result: number;
  private init: InitState;
  /** keepalived's last_status: the last exit status, 0 before any. */
  private lastStatus = 0;
  private inFlight: ScriptRun | null = null;
  private nextAt = Number.NaN;
  private running = false;
  private lastExit: number | null = null;
  private lastResult: string | undefined;
  private lastDurationMs: number | undefined;
  private runs = 0;
  private skipped = 0;
  private timeouts = 0;
  /** Skipped runs are warned at most once a minute (times from the scheduler, microseconds). */
  private readonly skipLog = new Throttle(SKIP_LOG_EVERY_US);
  /** The last failure to start or timeout that was logged (logged again only when it changes). */
  private lastProblem: string | null = null;

  constructor(
    private readonly model: VrrpScriptModel,
    private readonly deps: VrrpScriptDeps,
  ) {
    this.name = model.name;
    this.rise = model.rise;
    this.fall = model.fall;
    this.intervalUs = deps.intervalUs ?? model.intervalS * 1e6;
    this.argv = deps.argv ?? model.script;
    this.run = deps.run ?? runScript;
    this.clock = deps.clock ?? nowUs;
    this.init = model.initFail ? 'failed' : 'init';
    this.result = model.initFail ? 0 : model.rise - 1;
  }

  level(): TrackerLevel {
    return { kind: 'bool', up: this.init === 'init' ? null : this.result >= this.rise };
  }

  status(): TrackerStatus {
    const up = this.init === 'init' ? null : this.result >= this.rise;
    return {
      kind: 'script',
      name: this.name,
      level: this.level(),
      state: this.deps.disabled !== undefined ? 'disabled' : up === null ? 'init' : up ? 'ok' : 'failed',
      ...(this.deps.disabled !== undefined ? { disabled: this.deps.disabled } : {}),
      lastExit: this.lastExit,
      ...(this.lastResult !== undefined ? { lastResult: this.lastResult } : {}),
      ...(this.lastDurationMs !== undefined ? { lastDurationMs: this.lastDurationMs } : {}),
      result: this.result,
      rise: this.rise,
      fall: this.fall,
      runs: this.runs,
      skipped: this.skipped,
      timeouts: this.timeouts,
    };
  }

  /** First run now (or after `firstRunDelayUs`), then every interval. A disabled script does nothing. */
  start(): void {
    if (this.running || this.deps.disabled !== undefined) return;
    this.running = true;
    const now = this.clock();
    const delay = Math.min(this.deps.firstRunDelayUs ?? 0, this.intervalUs);
    if (delay > 0) {
      this.nextAt = now + delay;
      this.deps.scheduler.set(this, this.nextAt);
      return;
    }
    this.nextAt = now + this.intervalUs;
    this.deps.scheduler.set(this, this.nextAt);
    this.launch();
  }

  onTimer(now: number): void {
    if (!this.running) return;
    // The next deadline on the grid start + k × interval, after now.
    const late = now - this.nextAt;
    this.nextAt += (Math.floor(Math.max(0, late) / this.intervalUs) + 1) * this.intervalUs;
    this.deps.scheduler.set(this, this.nextAt);
    if (this.inFlight) {
      this.skipped++;
      const held = this.skipLog.pass(now);
      if (held !== null) {
        const n = held + 1;
        this.deps.log.warn({ script: this.name, skipped: n, total: this.skipped },
          `VRRP_Script(${this.name}) is still running from the last interval: skipping this run (${n} skipped since the last report; a script should finish well within its interval, ${this.intervalUs / 1e6} s)`);
      }
      return;
    }
    this.launch();
  }

  /** No more runs; a run in flight is cancelled (its group killed). Resolves when it has ended, or after 3 s. */
  stop(): Promise<void> {
    this.running = false;
    this.deps.scheduler.clear(this);
    this.deps.scheduler.release(this);
    const r = this.inFlight;
    if (!r) return Promise.resolve();
    r.cancel();
    return new Promise((res) => {
      const t = setTimeout(res, 3000);
      void r.done.then(() => {
        clearTimeout(t);
        res();
      });
    });
  }

  private launch(): void {
    this.runs++;
    const r = this.run({
      argv: this.argv,
      uid: this.deps.uid,
      gid: this.deps.gid,
      timeoutMs: this.model.timeoutS * 1000,
      maxOutputBytes: this.deps.maxOutputBytes ?? 4096,
    });
    this.inFlight = r;
    r.done.then(
      (o) => this.outcome(r, o),
      (e: unknown) => this.deps.log.error({ script: this.name, err: String(e) }, `VRRP_Script(${this.name}): the script runner failed (a vipd bug)`),
    );
  }

  private outcome(r: ScriptRun, o: ScriptOutcome): void {
    if (this.inFlight === r) this.inFlight = null;
    if (!this.running) return; // stopped: a cancelled run says nothing about the service
    const n = this.name;
    this.lastExit = o.exitCode;
    this.lastDurationMs = Math.round(o.durationMs * 1000) / 1000;
    if (o.output || o.droppedBytes) {
      this.deps.log.debug({ script: n, scriptPid: r.pid, exit: o.exitCode, signal: o.signal, droppedBytes: o.droppedBytes, output: o.output }, `VRRP_Script(${n}) output`);
    }
    let ok: boolean;
    let how: string; // keepalived's script_exit_type and reason
    let problem: string | null = null;
    if (o.spawnError !== undefined) {
      ok = false;
      this.lastResult = `spawn error: ${o.spawnError}`;
      how = `failed (could not start: ${o.spawnError})`;
      problem = `VRRP_Script(${n}) could not start ${this.argv[0]}: ${o.spawnError}; check that it exists and is executable by uid ${this.deps.uid} gid ${this.deps.gid}`;
    } else if (o.timedOut) {
      ok = false;
      this.timeouts++;
      this.lastResult = 'timeout';
      how = 'timed_out';
      problem = `VRRP_Script(${n}) ran past its timeout (${this.model.timeoutS} s): its process group was killed and the run counts as a failure; raise 'timeout' or make the script finish sooner`;
    } else if (o.exitCode !== null) {
      if (o.exitCode !== this.lastStatus) this.deps.log.info({ script: n, exit: o.exitCode }, `Script \`${n}\` now returning ${o.exitCode}`);
      this.lastStatus = o.exitCode;
      ok = o.exitCode === 0;
      this.lastResult = 'exit';
      how = ok ? 'succeeded' : `failed (exited with status ${o.exitCode})`;
    } else {
      ok = false;
      const sig = o.signal ?? 'SIGKILL';
      this.lastResult = `signal ${sig}`;
      how = `failed (due to signal ${signalNumber(sig)})`;
    }
    if (problem === null) this.lastProblem = null;
    else if (problem !== this.lastProblem) {
      this.lastProblem = problem;
      this.deps.log.warn({ script: n }, problem);
    }
    this.count(ok, how);
  }

  /** keepalived's counter (vrrp_script_child_thread), logging and notifying level changes. */
  private count(ok: boolean, how: string): void {
    const before = this.level();
    const top = this.rise + this.fall - 1;
    let turned = false;
    if (ok) {
      if (this.result < this.rise - 1) this.result++;
      else {
        turned = this.result < this.rise && this.result !== top;
        this.result = top;
      }
    } else if (this.result > this.rise) this.result--;
    else {
      turned = this.result === this.rise || this.init === 'init';
      this.result = 0;
    }
    this.init = 'done';
    if (turned) this.deps.log.info({ script: this.name, ok }, `VRRP_Script(${this.name}) ${how}`);
    const after = this.level();
    if (after.kind === 'bool' && before.kind === 'bool' && after.up !== before.up) this.onChange?.(after);
  }
}
