/**
 * vrrp_track_process without I/O: which process a tracker counts (keepalived 2.2.7
 * core/track_process.c check_params, read_procs, check_process), the table of counted pids and
 * what each process event does to it (`ProcessTable`), and how a count becomes "quorum" with
 * the fork_delay / terminate_delay timers (`Quorum`: check_process_fork,
 * check_process_termination, remove_process_from_track, the two *_quorum_timer_thread).
 *
 * Names are compared byte for byte, as keepalived's strcmp does: the configured name as its
 * UTF-8 bytes, the process's name and command line as read (both held as latin1 strings, one
 * char per byte).
 */
import type { TrackProcessModel } from '../../config/model-track.js';

/** The kernel keeps a process name (comm) to 15 bytes (TASK_COMM_LEN 16 with its NUL). */
export const COMM_MAX = 15;

export interface ProcMatcher {
  /** `process`: the name (comm) or, with fullCommand, argv[0]; latin1 string of its UTF-8 bytes. */
  process: string;
  fullCommand: boolean;
  paramMatch: 'exact' | 'initial' | 'partial' | null;
  /** The parameters as keepalived keeps them: each followed by a NUL; null when there are none. */
  params: Buffer | null;
}

export function compileMatcher(m: Pick<TrackProcessModel, 'process' | 'params' | 'paramMatch' | 'fullCommand'>): ProcMatcher {
  return {
    process: Buffer.from(m.process, 'utf8').toString('latin1'),
    fullCommand: m.fullCommand,
    paramMatch: m.paramMatch,
    params: m.params.length ? Buffer.concat(m.params.map((p) => Buffer.from(`${p}\0`, 'utf8'))) : null,
  };
}

/**
 * How many bytes of /proc/PID/cmdline to read for these matchers: the longest name and
 * parameters with their NULs, plus 2, so that a longer command line is seen to be longer
 * (keepalived: vrrp_max_process_name_len + 2). 0 when no matcher uses the command line.
 */
export function cmdlineReadLength(ms: Iterable<ProcMatcher>): number {
  let max = 0;
  for (const m of ms) if (m.fullCommand) max = Math.max(max, m.process.length + 1 + (m.params?.length ?? 0) + 2);
  return max;
}

/**
 * keepalived's check_params: `have` is what follows argv[0] and its NUL in the command line read.
 * - exact: the same parameters, no more (no parameters configured: the process has none);
 * - partial: the configured parameters are the first ones;
 * - initial: as partial, but the last configured one may be a prefix of the process's.
 */
export function checkParams(mode: 'exact' | 'initial' | 'partial', want: Buffer | null, have: Buffer): boolean {
  const wantLen = want?.length ?? 0;
  if (mode === 'exact' && !want && have.length === 0) return true;
  if (have.length < wantLen) return false;
  if (mode === 'exact') return have.length === wantLen && (!want || have.equals(want));
  if (!want) return true;
  if (mode === 'partial') return have.subarray(0, wantLen).equals(want);
  return wantLen === 1 || have.subarray(0, wantLen - 1).equals(want.subarray(0, wantLen - 1));
}

/** Does the command line read (possibly cut to cmdlineReadLength) match a fullCommand matcher? */
export function matchCmdline(m: ProcMatcher, cmdline: Buffer): boolean {
  const nul = cmdline.indexOf(0);
  const argv0 = cmdline.toString('latin1', 0, nul < 0 ? cmdline.length : nul);
  if (argv0 !== m.process) return false;
  if (m.paramMatch === null) return true;
  return checkParams(m.paramMatch, m.params, nul < 0 ? Buffer.alloc(0) : cmdline.subarray(nul + 1));
}

/** Does a process name (comm, latin1) match a name matcher? keepalived: strcmp, no truncation. */
export function matchComm(m: ProcMatcher, comm: string): boolean {
  return comm === m.process;
}

/**
 * Why a tracker can never count anything, for a start-up warning, or null. keepalived 2.2.7
 * compares the whole configured name with the kernel's process name, which is at most 15
 * bytes and never holds a '/', and says nothing: such a tracker stays at 0 processes.
 */
export function nameProblem(name: string, m: ProcMatcher): string | null {
  if (m.fullCommand) return null;
  const fix = `use the first ${COMM_MAX} bytes of the name, or full_command to match the command line`;
  if (m.process.includes('/')) return `vrrp_track_process ${name}: process '${m.process}' holds a '/' but is compared with the process name, which never does (as keepalived 2.2.7 compares it): it counts nothing; give the bare name, or add full_command to match the command line's first word`;
  if (m.process.length > COMM_MAX) return `vrrp_track_process ${name}: process '${m.process}' is longer than the kernel's ${COMM_MAX}-byte process name, so (as in keepalived 2.2.7) it never matches: ${fix}`;
  return null;
}

/** How the count changed: keepalived treats each way differently. */
export type AddVia = 'fork' | 'match';
export type RemoveVia = 'exit' | 'unmatch';

/**
 * The count of one tracker and its quorum, keepalived's rules to the letter:
 * - the level is evaluated only when the count crosses a boundary (reaches `quorum`, goes
 *   past `quorumMax`, or back);
 * - a process counted through a fork waits `forkDelayS` before "gained" (a fork while
 *   a terminate timer runs cancels it instead); one counted after an exec or a name change
 *   counts at once;
 * - an exit waits `terminateDelayS` before "lost" (an exit while a fork timer runs cancels it
 *   instead); a process that stops matching (exec of something else, name change) counts at once;
 * - when a timer fires the level is count in [quorum, quorumMax].
 * At most one timer runs at a time: `arm(kind, seconds)` starts it, `arm(null, 0)` stops it.
 */
export class Quorum {
  count = 0;
  haveQuorum = false;
  pending: 'fork' | 'terminate' | null = null;
  private readonly max: number;

  constructor(
    readonly quorum: number,
    quorumMax: number | null,
    readonly forkDelayS: number,
    readonly terminateDelayS: number,
    private readonly arm: (kind: 'fork' | 'terminate' | null, delayS: number) => void,
    private readonly changed: (up: boolean) => void,
  ) {
    this.max = quorumMax ?? Infinity;
  }

  get inRange(): boolean {
    return this.count >= this.quorum && this.count <= this.max;
  }

  private set(up: boolean): void {
    if (up === this.haveQuorum) return;
    this.haveQuorum = up;
    this.changed(up);
  }

  private timer(kind: 'fork' | 'terminate' | null, delayS = 0): void {
    this.pending = kind;
    this.arm(kind, delayS);
  }

  /** The first count (start-up scan): the level follows at once, without a change reported. */
  init(count: number): void {
    this.count = count;
    this.haveQuorum = this.inRange;
  }

  added(via: AddVia): void {
    this.count++;
    if (this.count !== this.quorum && this.count !== this.max + 1) return;
    if (this.pending === 'terminate') this.timer(null);
    else if (via === 'fork' && this.forkDelayS > 0) return this.timer('fork', this.forkDelayS);
    this.set(this.count === this.quorum);
  }

  removed(via: RemoveVia): void {
    const old = this.count--;
    if (old !== this.quorum && this.count !== this.max) return;
    if (this.pending === 'fork') this.timer(null);
    else if (via === 'exit' && this.terminateDelayS > 0) return this.timer('terminate', this.terminateDelayS);
    this.set(this.count === this.max);
  }

  fired(): void {
    this.pending = null;
    this.set(this.inRange);
  }

  /**
   * A new count after a rescan (events were lost): timers stop, and a level that no longer
   * fits the count changes after the delay of its direction, or at once without one.
   * (keepalived's reinitialise_track_processes means this but reports "up" at once and arms
   * the fork timer with terminate_delay.)
   */
  rescanned(count: number): void {
    if (this.pending) this.timer(null);
    this.count = count;
    const want = this.inRange;
    if (want === this.haveQuorum) return;
    if (want && this.forkDelayS > 0) this.timer('fork', this.forkDelayS);
    else if (!want && this.terminateDelayS > 0) this.timer('terminate', this.terminateDelayS);
    else this.set(want);
  }
}

/** What the table counts for: a tracker's matcher, and its count to move. */
export interface Counting {
  readonly matcher: ProcMatcher;
  counted(delta: 1 | -1, via: AddVia | RemoveVia): void;
}

/** What was read of a process after an exec (null fields: not needed by any tracker). */
export interface ProcInfo {
  comm: string | null;
  cmdline: Buffer | null;
}

/**
 * keepalived's process_tree: pid → the trackers counting it, and what each process event
 * does to it (check_process_fork, check_process, check_process_comm_change,
 * check_process_termination). A pid counts at most once per tracker (keepalived 2.2.7 counts
 * a counted process that execs into the same name once more, until it exits).
 */
export class ProcessTable<T extends Counting> {
  private readonly pids = new Map<number, Set<T>>();

  has(pid: number): boolean {
    return this.pids.has(pid);
  }

  /** A scan found `pid` matching `t`: counted without a transition. False if it already was. */
  seed(pid: number, t: T): boolean {
    let set = this.pids.get(pid);
    if (!set) this.pids.set(pid, (set = new Set()));
    if (set.has(t)) return false;
    set.add(t);
    return true;
  }

  /** `t` counts nothing any more (stopped, or about to be scanned again). */
  forget(t: T): void {
    for (const [pid, set] of this.pids) if (set.delete(t) && set.size === 0) this.pids.delete(pid);
  }

  clear(): void {
    this.pids.clear();
  }

  /** A new process (not a thread): counted by every tracker counting its parent. */
  fork(parent: number, child: number): void {
    const set = this.pids.get(parent);
    if (set) for (const t of set) this.add(child, t, 'fork');
  }

  exit(pid: number): void {
    const set = this.pids.get(pid);
    if (!set) return;
    this.pids.delete(pid);
    for (const t of set) t.counted(-1, 'exit');
  }

  /** The process set its name: no longer counted under the old name, checked under the new one. */
  comm(pid: number, comm: string, trackers: Iterable<T>): void {
    const set = this.pids.get(pid);
    if (set) {
      for (const t of [...set]) {
        if (t.matcher.fullCommand) continue;
        if (matchComm(t.matcher, comm)) return; // the name did not change
        this.remove(pid, t, 'unmatch');
      }
    }
    this.check(pid, { comm, cmdline: null }, true, trackers);
  }

  /** keepalived's check_process: counted by every tracker it matches now; after an exec, no longer by the others. */
  check(pid: number, info: ProcInfo, commEvent: boolean, trackers: Iterable<T>): void {
    const had = this.pids.has(pid);
    for (const t of trackers) {
      let ok: boolean;
      if (t.matcher.fullCommand) {
        if (commEvent || !info.cmdline) continue;
        ok = matchCmdline(t.matcher, info.cmdline);
      } else {
        if (info.comm === null) continue;
        ok = matchComm(t.matcher, info.comm);
      }
      if (ok) this.add(pid, t, 'match');
      else if (had && !commEvent) this.remove(pid, t, 'unmatch');
    }
  }

  private add(pid: number, t: T, via: AddVia): void {
    if (this.seed(pid, t)) t.counted(1, via);
  }

  private remove(pid: number, t: T, via: RemoveVia): void {
    const set = this.pids.get(pid);
    if (!set?.delete(t)) return;
    if (set.size === 0) this.pids.delete(pid);
    t.counted(-1, via);
  }
}
