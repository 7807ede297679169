/**
 * `reload_time_file PATH` and `reload_repeat` (global_defs), as keepalived 2.2.7 runs them
 * (core/reload_monitor.c): a reload at the time written on the file's first line.
 *
 * The time (parseReloadTime, pure) is exactly one of `HH:MM:SS`, `YY-MM-DD HH:MM:SS`,
 * `YYYY-MM-DD HH:MM:SS`, each with an optional trailing `Z` (UTC; otherwise local time), read
 * as keepalived reads it: glibc's strptime on a line of at most 20 characters, then mktime's
 * round trip (a date or time that does not exist, such as 02-30 or a local time skipped by
 * daylight saving, is invalid). A date in the past is ignored; a time without a date is its
 * next occurrence (today, else tomorrow). Invalid lines are logged with keepalived's words
 * and ignored: the reload scheduled before, if any, is cancelled.
 *
 * ReloadTimer watches the file as keepalived does, through its directory (fs.watch: inotify),
 * with asynchronous reads: written or created, the file is read again and the reload
 * (re)scheduled; deleted or moved away, the reload is cancelled; the directory removed, the
 * monitoring stops until the next reload. At the time, the file is deleted (kept only with
 * `reload_repeat` and a time without date, which then repeats daily) and `reload()` runs.
 * The owner calls `configure()` after every reload, as keepalived restarts its monitor on each
 * reload: a changed or removed reload_time_file is followed, and the file is read again.
 *
 * Compared with keepalived's own parse_datetime under glibc (4058 lines, in UTC, Europe/Paris
 * and America/New_York) the answers are the same, except around daylight saving changes,
 * where vipd differs on purpose: a `Z` time is checked as a UTC time (keepalived checks its
 * fields with mktime as a local time, so 02:30Z is refused on the night local 02:30 is
 * skipped); "tomorrow" is the same wall-clock time the next day (keepalived reuses today's
 * DST flag: an hour off on the day of a change); a local time that occurs twice is its first
 * occurrence (keepalived: whichever glibc's mktime picks).
 */
import { watch as fsWatch, constants, type FSWatcher } from 'node:fs';
import { open, stat, unlink } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import type { Logger } from 'pino';
import type { GlobalModel } from '../config/model.js';

/** keepalived reads the first line with fgets into char[21]: at most 20 characters. */
const LINE_MAX = 20;
/** setTimeout's longest delay; a later reload is reached in steps. */
const MAX_DELAY_MS = 2 ** 31 - 1;
/** A burst of file events ends after QUIET_MS without one, or MAX_WAIT_MS after its first: then one read. */
const QUIET_MS = 20;
const MAX_WAIT_MS = 200;

/** A time read from the file: when (ms since the epoch, a whole second), and whether the line had a date. */
export interface ReloadTime {
  at: number;
  dateSpecified: boolean;
}

/** parseReloadTime's answer: the time, or why it is ignored with keepalived's log lines. */
export type ReloadTimeResult = ({ ok: true } & ReloadTime) | { ok: false; past: boolean; messages: string[] };

/**
 * The first line of the file's first bytes as keepalived's read_file takes it: fgets into a
 * 21-byte buffer (at most 20 characters, up to and with the newline), the newline removed,
 * cut at a NUL byte (strlen). null: nothing to read (an empty file: fgets returns NULL).
 */
export function reloadTimeLine(bytes: Uint8Array): string | null {
  if (bytes.length === 0) return null;
  let end = Math.min(bytes.length, LINE_MAX);
  const nl = bytes.subarray(0, end).indexOf(0x0a);
  if (nl >= 0) end = nl; // the newline itself is removed
  let line = Buffer.from(bytes.subarray(0, end)).toString('latin1');
  const nul = line.indexOf('\0');
  if (nul >= 0) line = line.slice(0, nul);
  return line;
}

const isSpace = (c: string | undefined): boolean => c === ' ' || (c !== undefined && c >= '\t' && c <= '\r');
const isDigit = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '9';

interface Tm {
  year: number;
  mon: number; // 1..12
  mday: number;
  hour: number;
  min: number;
  sec: number;
}

/** glibc's strptime conversions used here: [lowest, highest, most digits, field]. */
const CONV: Record<string, [number, number, number, keyof Tm]> = {
  H: [0, 23, 2, 'hour'], M: [0, 59, 2, 'min'], S: [0, 61, 2, 'sec'], y: [0, 99, 2, 'year'], Y: [0, 9999, 4, 'year'], m: [1, 12, 2, 'mon'], d: [1, 31, 2, 'mday'],
};

/**
 * glibc's strptime for `fmt` over `s` into `tm`: white space in the format matches any run
 * of white space (also none), other characters match themselves, and each number skips
 * leading white space and reads at most its digits, stopping early when one more digit would
 * exceed its highest value (get_number). Returns the index after the match, or -1.
 */
function strptime(s: string, fmt: string, tm: Tm): number {
  let i = 0;
  for (let f = 0; f < fmt.length; f++) {
    const fc = fmt[f]!;
    if (isSpace(fc)) {
      while (isSpace(s[i])) i++;
      continue;
    }
    if (fc !== '%') {
      if (s[i] !== fc) return -1;
      i++;
      continue;
    }
    const conv = fmt[++f]!;
    const [from, to, digits, field] = CONV[conv]!;
    while (isSpace(s[i])) i++;
    if (!isDigit(s[i])) return -1;
    let val = 0;
    let n = digits;
    do val = val * 10 + (s.charCodeAt(i++) - 48);
    while (--n > 0 && val * 10 <= to && isDigit(s[i]));
    if (val < from || val > to) return -1;
    tm[field] = conv === 'y' ? (val >= 69 ? 1900 + val : 2000 + val) : val; // %y: 69-99 are the 1900s (glibc)
  }
  return i;
}

/** The broken-down time of `d` in UTC or local time (gmtime_r / localtime_r). */
function fields(d: Date, utc: boolean): Tm {
  return utc
    ? { year: d.getUTCFullYear(), mon: d.getUTCMonth() + 1, mday: d.getUTCDate(), hour: d.getUTCHours(), min: d.getUTCMinutes(), sec: d.getUTCSeconds() }
    : { year: d.getFullYear(), mon: d.getMonth() + 1, mday: d.getDate(), hour: d.getHours(), min: d.getMinutes(), sec: d.getSeconds() };
}

/** The instant of `tm` in UTC or local time (timegm / mktime, normalising out-of-range fields), with the fields it normalises to. */
function makeTime(tm: Tm, utc: boolean): { t: number; tm: Tm } {
  const d = new Date(0); // set*FullYear: years 0..99 are not the 1900s
  if (utc) {
    d.setUTCFullYear(tm.year, tm.mon - 1, tm.mday);
    d.setUTCHours(tm.hour, tm.min, tm.sec, 0);
  } else {
    d.setFullYear(tm.year, tm.mon - 1, tm.mday);
    d.setHours(tm.hour, tm.min, tm.sec, 0);
  }
  return { t: d.getTime(), tm: fields(d, utc) };
}

/**
 * The reload time on `line` (reloadTimeLine's), at `now` (ms since the epoch), as keepalived
 * 2.2.7's parse_datetime and read_file take it. `messages` are keepalived's log lines for an
 * ignored line: its parse_datetime reason, then read_file's summary.
 */
export function parseReloadTime(line: string, now: number): ReloadTimeResult {
  const invalid = (why: string): ReloadTimeResult => ({ ok: false, past: false, messages: [why, `Invalid reload time '${line}' specified - ignoring`] });
  let len = line.length;
  const utc = len > 0 && line[len - 1] === 'Z';
  if (utc) len--;
  if (len !== 8 && len !== 17 && len !== 19) return invalid(`Reload time ${line} format is incorrect - ignoring`);
  const tm = fields(new Date(now), utc);
  const end = strptime(line, len === 8 ? '%H:%M:%S' : len === 17 ? '%y-%m-%d %H:%M:%S' : '%Y-%m-%d %H:%M:%S', tm);
  if (end < 0 || end + (utc ? 1 : 0) !== line.length) return invalid(`Reload date/time ${line} invalid - ignoring`);
  const made = makeTime(tm, utc);
  const k = made.tm;
  if (k.year !== tm.year || k.mon !== tm.mon || k.mday !== tm.mday || k.hour !== tm.hour || k.min !== tm.min || k.sec !== tm.sec) return invalid(`Reload time ${line} is not valid - ignoring`);
  let t = made.t;
  if (t <= now) {
    if (len !== 8) return { ok: false, past: true, messages: [`Reload time ${line} is in the past - ignoring`, 'Reload date/time is in the past - ignoring'] };
    t = makeTime({ ...tm, mday: tm.mday + 1 }, utc).t; // the same time tomorrow
  }
  return { ok: true, at: t, dateSpecified: len >= 17 };
}

const two = (n: number): string => String(n).padStart(2, '0');

/** A time as keepalived logs it: local `%Y-%m-%d %H:%M:%S`. */
export function formatReloadTime(ms: number): string {
  const d = new Date(ms);
  return `${String(d.getFullYear()).padStart(4, '0')}-${two(d.getMonth() + 1)}-${two(d.getDate())} ${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
}

const errCode = (e: unknown): string => (e as NodeJS.ErrnoException)?.code ?? String(e);

export interface ReloadTimerDeps {
  log: Logger;
  /** The daemon's reload, through its one-at-a-time queue (it logs its own outcome). */
  reload: () => Promise<unknown>;
  /** The wall clock, ms (tests). */
  now?: () => number;
}

/**
 * The timed reload of one reload_time_file. `configure(file, repeat)` (or `follow(global)`)
 * starts, restarts or stops it; `stop()` at shutdown. Never blocks the event loop: the file is
 * read asynchronously, once per burst of events; no timer runs while nothing is scheduled.
 */
export class ReloadTimer {
  private file: string | null = null;
  private repeat = false;
  private watcher: FSWatcher | null = null;
  private dirId = '';
  private base = Buffer.alloc(0);
  private dirBase = Buffer.alloc(0);
  /** The scheduled reload (ms), or null. */
  private at: number | null = null;
  private dateSpecified = false;
  private timer: NodeJS.Timeout | null = null;
  private burst: NodeJS.Timeout | null = null;
  private burstStart = 0;
  private reading = false;
  private dirty = false;
  private dirSuspect = false;
  /** The time of the last timed reload: a re-read just after it never schedules it again. */
  private firedAt = 0;
  /** Bumped whenever what is watched changes: a read or watch begun before is dropped. */
  private gen = 0;
  private stopped = false;
  private chain: Promise<void> = Promise.resolve();
  private readonly now: () => number;

  constructor(private readonly deps: ReloadTimerDeps) {
    this.now = deps.now ?? Date.now;
  }

  /** The scheduled reload time (ms since the epoch), or null. */
  get scheduledAt(): number | null {
    return this.at;
  }

  /** configure() with the configuration's reload_time_file and reload_repeat. */
  follow(g: GlobalModel): Promise<void> {
    return this.configure(g.reloadTimeFile, g.reloadRepeat);
  }

  /**
   * Watch `file` (null: nothing) with `repeat`; the same file and setting again: read it
   * again (as keepalived's monitor, restarted at each reload). Calls run one after another.
   */
  configure(file: string | null, repeat: boolean): Promise<void> {
    const run = async (): Promise<void> => {
      if (this.stopped) return;
      if (file !== null && file === this.file && repeat === this.repeat && this.watcher) return this.refresh();
      this.unwatch();
      this.cancel(false);
      this.file = file;
      this.repeat = repeat;
      if (file !== null) await this.watchDir();
    };
    const p = this.chain.then(run, run);
    this.chain = p.catch(() => undefined);
    return p;
  }

  /** At shutdown: nothing scheduled, nothing watched. */
  stop(): void {
    this.stopped = true;
    this.unwatch();
    this.cancel(false);
  }

  private unwatch(): void {
    this.gen++;
    this.watcher?.close();
    this.watcher = null;
    if (this.burst) clearTimeout(this.burst);
    this.burst = null;
    this.dirSuspect = false;
  }

  /** keepalived's cancel_reload. */
  private cancel(log: boolean): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (log && this.at !== null) this.deps.log.info({ file: this.file }, `Cancelling reload scheduled for ${formatReloadTime(this.at)}`);
    this.at = null;
  }

  /** keepalived's start_reload_monitor: watch the directory, then read the file. */
  private async watchDir(): Promise<void> {
    const file = this.file!;
    const dir = dirname(file);
    const gen = this.gen;
    let w: FSWatcher | null = null;
    try {
      w = fsWatch(dir, { persistent: false, encoding: 'buffer' });
      const s = await stat(dir);
      if (!s.isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
      if (gen !== this.gen || this.stopped) return void w.close();
      this.dirId = `${s.dev}:${s.ino}`;
    } catch (e) {
      w?.close();
      if (gen === this.gen && !this.stopped)
        this.deps.log.warn({ file, err: errCode(e) }, `Unable to monitor reload timer file directory ${dir} - ignoring (${errCode(e)}): no timed reload until the next reload or restart`);
      return;
    }
    this.watcher = w;
    this.base = Buffer.from(basename(file));
    this.dirBase = Buffer.from(basename(dir));
    w.on('change', (_type, name) => {
      if (this.watcher === w) this.onEvent(name as Buffer | null);
    });
    w.on('error', (e) => {
      if (this.watcher === w) this.dirGone(errCode(e));
    });
    await this.refresh();
  }

  /** The directory went away (or its watch failed): as keepalived, no more monitoring until the next reload. */
  private dirGone(why: string | null): void {
    this.cancel(true);
    this.unwatch();
    this.deps.log.warn({ file: this.file, ...(why ? { err: why } : {}) }, 'Directory of reload timer file has disappeared. Monitoring stopped.');
  }

  private onEvent(name: Buffer | null): void {
    if (name !== null && name.equals(this.dirBase)) this.dirSuspect = true; // libuv names the directory itself on IN_DELETE_SELF / IN_MOVE_SELF
    else if (name !== null && !name.equals(this.base)) return;
    const now = Date.now();
    if (!this.burst) this.burstStart = now;
    else clearTimeout(this.burst);
    const due = Math.min(now + QUIET_MS, this.burstStart + MAX_WAIT_MS);
    this.burst = setTimeout(() => {
      this.burst = null;
      void this.refresh();
    }, Math.max(0, due - now)).unref();
  }

  /** Read the file and apply it; one read at a time, again when something changed meanwhile. */
  private async refresh(): Promise<void> {
    if (this.reading) {
      this.dirty = true;
      return;
    }
    this.reading = true;
    try {
      do {
        this.dirty = false;
        const gen = this.gen;
        if (this.dirSuspect) {
          this.dirSuspect = false;
          const s = await stat(dirname(this.file!)).catch(() => null);
          if (gen !== this.gen) continue;
          if (!s || `${s.dev}:${s.ino}` !== this.dirId) return this.dirGone(null);
        }
        const line = await this.readLine(this.file!);
        if (gen === this.gen && !this.stopped) this.apply(line);
      } while (this.dirty && !this.stopped && this.watcher);
    } finally {
      this.reading = false;
    }
  }

  /** The file's first line (reloadTimeLine), or null when it is missing, empty or unreadable. */
  private async readLine(file: string): Promise<string | null> {
    try {
      const fh = await open(file, constants.O_RDONLY | constants.O_NONBLOCK);
      try {
        const buf = Buffer.alloc(LINE_MAX);
        const { bytesRead } = await fh.read(buf, 0, LINE_MAX, 0);
        return reloadTimeLine(buf.subarray(0, bytesRead));
      } finally {
        await fh.close();
      }
    } catch (e) {
      if (errCode(e) !== 'ENOENT') this.deps.log.warn({ file, err: errCode(e) }, `cannot read reload_time_file ${file} (${errCode(e)}): no reload scheduled`);
      return null;
    }
  }

  /** keepalived's read_file after the line was read: schedule, reschedule, or cancel. */
  private apply(line: string | null): void {
    if (line === null) return this.cancel(true);
    let now = this.now();
    if (now < this.firedAt && this.firedAt - now < 2000) now = this.firedAt; // a timer a little early on the wall clock
    const r = parseReloadTime(line, now);
    if (!r.ok) {
      for (const m of r.messages) this.deps.log.warn({ file: this.file }, m);
      return this.cancel(true);
    }
    this.dateSpecified = r.dateSpecified;
    if (r.at === this.at) return;
    const was = this.at;
    this.at = r.at;
    this.deps.log.info({ file: this.file, at: new Date(r.at).toISOString() }, was === null ? `Scheduling reload for ${formatReloadTime(r.at)}` : `Reload time updated from ${formatReloadTime(was)} to ${formatReloadTime(r.at)}`);
    this.arm();
  }

  private arm(): void {
    if (this.timer) clearTimeout(this.timer);
    const delay = Math.min(MAX_DELAY_MS, Math.max(0, this.at! - this.now()));
    this.timer = setTimeout(() => {
      this.timer = null;
      if (this.at === null) return;
      if (this.now() < this.at) return this.arm(); // a step of a long wait, or early on the wall clock
      void this.fire(this.at);
    }, delay).unref();
  }

  /**
   * keepalived's reload_timer_thread: stop watching (our own deletion is no news), delete the
   * file unless reload_repeat keeps a time-only entry, reload; then watch again (unless the
   * owner's configure() after the reload already did).
   */
  private async fire(at: number): Promise<void> {
    const file = this.file!;
    const keep = this.repeat && !this.dateSpecified;
    this.at = null;
    this.firedAt = at;
    this.unwatch();
    const gen = this.gen;
    if (!keep) await unlink(file).catch((e: unknown) => errCode(e) === 'ENOENT' || this.deps.log.warn({ file, err: errCode(e) }, `cannot delete reload_time_file ${file} (${errCode(e)}): it schedules the next reload`));
    this.deps.log.info({ file }, `reload_time_file ${file}: reloading as scheduled for ${formatReloadTime(at)} (${keep ? 'reload_repeat: the file is kept, the same time tomorrow' : 'the file is deleted'})`);
    await this.deps.reload().catch(() => undefined);
    if (gen === this.gen && !this.stopped && this.file === file) await this.configure(file, this.repeat);
  }
}
