/**
 * `track_file NAME { file PATH; weight N [reverse]; init_file [VALUE] [overwrite] }`: the
 * integer in a file, re-read when the file changes, as keepalived 2.2.7 does it
 * (trackers/track_file.c: track_file_end_handler, init_track_files, process_inotify,
 * process_track_file). The tracker only reports the number (`{kind:'value', value}`); the
 * weight, `reverse` and the FAULT rules are the core's (src/core/priority.ts trackerEffect).
 *
 * Watching: keepalived puts an inotify watch on the file's *directory* and reads the file on
 * IN_CLOSE_WRITE / IN_MOVED_TO, or takes 0 on IN_DELETE / IN_MOVED_FROM. vipd does the same
 * with fs.watch on the directory (libuv inotify: IN_MODIFY, IN_CREATE, IN_MOVED_*, IN_DELETE,
 * IN_ATTRIB), keeps the events for the file's name, and reads the file once per burst of
 * events (a quiet period of `quietMs`, at most `maxWaitMs` after the first event), with an
 * async read. A deleted or moved-away file reads as missing, which is keepalived's 0. Where
 * vipd differs, on purpose: `rm f; echo 5 > f` in one burst gives 5 directly (keepalived
 * applies 0 then 5); a watch that dies (its directory removed, moved or replaced, or a
 * watcher error) is logged and set up again, with a back-off while the directory is missing
 * (keepalived logs "Unknown inotify event" and stops watching). No timer runs while idle.
 */
import { watch as fsWatch, constants, type FSWatcher } from 'node:fs';
import { open, realpath, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import type { Logger } from 'pino';
import type { TrackFileModel } from '../../config/model-track.js';
import type { Tracker, TrackerLevel, TrackerStatus } from './types.js';

/** keepalived reads at most 127 bytes (track_file.c process_track_file: char buf[128]). */
const READ_MAX = 127;
const LONG_MAX = (1n << 63n) - 1n;
const LONG_MIN = -(1n << 63n);
/** keepalived accepts INT32_MIN .. INT32_MAX + 1 (sic: its check is `> INT32_MAX + 1`). */
const VALUE_MIN = -2147483648n;
const VALUE_MAX = 2147483648n;
const TELL_EVERY_MS = 60_000;
const RETRY_FIRST_MS = 1000;
const RETRY_MAX_MS = 30_000;

/**
 * The number in the first 127 bytes of a track file, as keepalived 2.2.7 takes it:
 * `strtol(buf, NULL, 0)` in the C locale. Leading white space (space, \t \n \v \f \r) is
 * skipped, then an optional sign, then `0x`/`0X` hexadecimal, a leading `0` octal, else
 * decimal; anything after the digits is ignored; no digits at all (empty, junk) is 0.
 * Returns `{ value }`, or `{ invalid }` (the number keepalived logs, LONG_MAX / LONG_MIN on
 * overflow) for a number outside -2147483648..2147483648: keepalived then logs
 * "Invalid number … - ignoring" and keeps the previous value.
 */
export function parseTrackFileValue(bytes: Uint8Array): { value: number } | { invalid: bigint } {
  const b = bytes.subarray(0, READ_MAX);
  let i = 0;
  while (i < b.length && (b[i] === 0x20 || (b[i]! >= 0x09 && b[i]! <= 0x0d))) i++;
  let neg = false;
  if (b[i] === 0x2b || b[i] === 0x2d) neg = b[i++] === 0x2d;
  let base = 10n;
  if (b[i] === 0x30) {
    if ((b[i + 1] === 0x78 || b[i + 1] === 0x58) && digit(b[i + 2], 16) >= 0) {
      base = 16n;
      i += 2;
    } else base = 8n;
  }
  let n = 0n;
  for (let d = digit(b[i], Number(base)); d >= 0; d = digit(b[++i], Number(base))) n = n * base + BigInt(d);
  if (neg) n = -n;
  if (n > LONG_MAX) return { invalid: LONG_MAX }; // strtol: ERANGE
  if (n < LONG_MIN) return { invalid: LONG_MIN };
  if (n < VALUE_MIN || n > VALUE_MAX) return { invalid: n };
  return { value: Number(n) };
}

function digit(c: number | undefined, base: number): number {
  if (c === undefined) return -1;
  const d = c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x61 && c <= 0x66 ? c - 0x57 : c >= 0x41 && c <= 0x46 ? c - 0x37 : -1;
  return d < base ? d : -1;
}

const errCode = (e: unknown): string => (e as NodeJS.ErrnoException)?.code ?? String(e);

/**
 * `init_file [VALUE] [overwrite]` at start, keepalived 2.2.7's track_file_end_handler: with
 * no `overwrite`, write `VALUE\n` only when stat(PATH) fails (missing); with `overwrite`,
 * also over an existing regular file, except on a reload (`reload`: an existing file is kept)
 * — an existing file that is not regular (a directory, a FIFO) is refused with an error.
 * Written as keepalived's fopen_safe does: a new file `PATH` + 6 random characters (mode
 * 0666 less the umask) renamed over PATH, so that a reader never sees a half-written file
 * and a symlink at PATH is replaced, not followed. Missing directories are not created
 * (keepalived does not either: it reports the failure and later drops the track_file, see
 * TrackFileTracker.start). keepalived does this for every track_file block, tracked or not.
 * Never throws: returns whether the file was written; failures are logged at error.
 */
export async function initTrackFile(model: TrackFileModel, log: Logger, reload = false): Promise<boolean> {
  const init = model.initFile;
  if (!init) return false;
  const st = await stat(model.file).catch(() => null);
  if (st) {
    if (!init.overwrite || reload) return false;
    if (!st.isFile()) {
      log.error({ tracker: model.name, file: model.file }, `cannot initialise track file ${model.name}: ${model.file} is not a regular file (init_file overwrite); remove it or point 'file' elsewhere`);
      return false;
    }
  }
  const tmp = `${model.file}${randomBytes(6).toString('base64url').slice(0, 6)}`;
  try {
    await writeFile(tmp, `${init.value}\n`, { flag: 'wx', mode: 0o666 });
    await rename(tmp, model.file);
    log.info({ tracker: model.name, file: model.file, value: init.value }, `track_file ${model.name}: wrote ${init.value} to ${model.file} (init_file)`);
    return true;
  } catch (e) {
    await unlink(tmp).catch(() => undefined); // keepalived leaves it behind when the rename fails
    const hint = errCode(e) === 'ENOENT' ? `: the directory ${dirname(model.file)} does not exist, create it` : '';
    log.error({ tracker: model.name, file: model.file, err: errCode(e) }, `unable to initialise track file ${model.name} (${model.file}: ${errCode(e)})${hint}`);
    return false;
  }
}

export interface TrackFileDeps {
  log: Logger;
  /** A reload of the daemon: `init_file … overwrite` keeps an existing file (keepalived's `reload`). */
  reload?: boolean;
  /** Quiet period that ends a burst of events, ms (default 20). */
  quietMs?: number;
  /** Longest wait after the first event of a burst, ms (default 200). */
  maxWaitMs?: number;
  /** fs.watch, replaceable by the tests. */
  watch?: (dir: string, opts: { persistent: boolean; encoding: 'buffer' }) => FSWatcher;
}

/**
 * One `track_file`. `start()` (async) applies `init_file`, resolves the path as keepalived's
 * init_track_files does (realpath of the file, or of its directory when the file is missing;
 * the resolved path is then used for good, so a symlink is followed once at start), watches
 * the directory and reads the file; the first value is the level from the start (no
 * onChange). Without the directory, the tracker is disabled with the reason in status(), as
 * keepalived drops the track_file ("Track file directory for NAME does not exist - removing"):
 * the daemon must then drop it from the instances rather than apply its value 0 (with
 * `weight 0 reverse`, 0 would mean FAULT).
 *
 * Reads (keepalived's process_track_file): open O_RDONLY|O_NONBLOCK, read 127 bytes; a file
 * that is missing, cannot be opened or read (a directory, EACCES), or is empty gives 0
 * (keepalived says nothing; vipd logs the unreadable cases, once a minute each); an invalid
 * number keeps the previous value (logged once a minute with how many since).
 */
export class TrackFileTracker implements Tracker {
  readonly kind = 'file' as const;
  readonly name: string;
  onChange: ((level: TrackerLevel) => void) | null = null;
  /** Reads of the file, invalid numbers ignored, unreadable files, watches (re-)established. */
  readonly counters = { reads: 0, invalid: 0, unreadable: 0, watches: 0, watchErrors: 0 };
  private value = 0;
  private path: string;
  private base = Buffer.alloc(0);
  private dirBase = Buffer.alloc(0);
  private dirId = '';
  private disabled: string | null = null;
  private watcher: FSWatcher | null = null;
  private timer: NodeJS.Timeout | null = null;
  private retry: NodeJS.Timeout | null = null;
  private retryMs = RETRY_FIRST_MS;
  private burstStart = 0;
  private reading = false;
  private dirty = false;
  private dirSuspect = false;
  private stopped = false;
  private readonly buf = Buffer.alloc(READ_MAX);
  private readonly told = new Map<string, { at: number; since: number }>();
  private readonly quietMs: number;
  private readonly maxWaitMs: number;
  private readonly watchFn: NonNullable<TrackFileDeps['watch']>;

  constructor(
    readonly model: TrackFileModel,
    private readonly deps: TrackFileDeps,
  ) {
    this.name = model.name;
    this.path = model.file;
    this.quietMs = deps.quietMs ?? 20;
    this.maxWaitMs = deps.maxWaitMs ?? 200;
    this.watchFn = deps.watch ?? ((d, o) => fsWatch(d, o));
  }

  level(): TrackerLevel {
    return { kind: 'value', value: this.value };
  }

  status(): TrackerStatus {
    return {
      kind: 'file', name: this.name, level: this.level(), file: this.path,
      state: this.disabled ? 'disabled' : String(this.value), ...(this.disabled ? { disabled: this.disabled } : {}),
    };
  }

  async start(): Promise<void> {
    const log = this.deps.log;
    await initTrackFile(this.model, log, this.deps.reload ?? false);
    let exists = false;
    try {
      this.path = await realpath(this.model.file);
      exists = true;
    } catch (e) {
      if (errCode(e) !== 'ENOENT') return this.disable(`${this.model.file} is not accessible (${errCode(e)}): keepalived 2.2.7 ignores this track_file; fix the path or its permissions`);
      const dir = this.model.file.includes('/') ? dirname(this.model.file) : '.';
      const real = await realpath(dir).catch(() => null);
      if (!real || !(await stat(real).then((s) => s.isDirectory(), () => false)))
        return this.disable(`the directory ${dir} of ${this.model.file} does not exist: keepalived 2.2.7 drops this track_file; create the directory and restart vipd`);
      this.path = join(real, basename(this.model.file));
    }
    this.base = Buffer.from(basename(this.path));
    this.dirBase = Buffer.from(basename(dirname(this.path)));
    if (this.stopped) return;
    await this.rewatch(false);
    if (exists && !this.stopped) {
      const r = await this.read();
      if (r !== null) this.value = r;
    }
    log.info({ tracker: this.name, file: this.path, value: this.value }, `track_file ${this.name}: watching ${this.path}, value ${this.value}`);
  }

  stop(): void {
    this.stopped = true;
    this.watcher?.close();
    this.watcher = null;
    for (const t of [this.timer, this.retry]) if (t) clearTimeout(t);
    this.timer = this.retry = null;
  }

  private disable(reason: string): void {
    this.disabled = reason;
    this.deps.log.error({ tracker: this.name, file: this.model.file }, `${this.model.pos.file}:${this.model.pos.line}: track_file ${this.name}: ${reason}`);
  }

  /** Log at most once a minute per key, with how many were kept quiet meanwhile. */
  private tell(key: string, level: 'warn' | 'error', fields: Record<string, unknown>, msg: string): void {
    const now = Date.now();
    const t = this.told.get(key);
    if (t && now - t.at < TELL_EVERY_MS) {
      t.since++;
      return;
    }
    this.told.set(key, { at: now, since: 0 });
    this.deps.log[level]({ tracker: this.name, file: this.path, ...fields, ...(t?.since ? { suppressed: t.since } : {}) }, `track_file ${this.name}: ${msg}`);
  }

  /** (Re)establish the directory watch; when it cannot be had, try again later with a back-off. */
  private async rewatch(readAfter: boolean): Promise<void> {
    this.watcher?.close();
    this.watcher = null;
    const dir = dirname(this.path);
    let w: FSWatcher | null = null;
    try {
      w = this.watchFn(dir, { persistent: false, encoding: 'buffer' });
      const s = await stat(dir);
      if (!s.isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
      if (this.stopped) return void w.close();
      this.dirId = `${s.dev}:${s.ino}`;
    } catch (e) {
      w?.close();
      if (this.stopped) return;
      const hint = errCode(e) === 'ENOSPC' ? ' (raise fs.inotify.max_user_watches)' : errCode(e) === 'ENOENT' ? ' (the directory is gone; the value is 0 until it is back)' : '';
      this.tell('watch', 'error', { err: errCode(e) }, `cannot watch ${dir}: ${errCode(e)}${hint}; changes to the file are not seen, trying again in ${this.retryMs / 1000} s`);
      if (errCode(e) === 'ENOENT') this.apply(0, true);
      this.retry = setTimeout(() => {
        this.retry = null;
        void this.rewatch(true);
      }, this.retryMs).unref();
      this.retryMs = Math.min(RETRY_MAX_MS, this.retryMs * 2);
      return;
    }
    this.watcher = w;
    this.counters.watches++;
    if (readAfter) {
      this.deps.log.info({ tracker: this.name, file: this.path }, `track_file ${this.name}: watching ${dir} again`);
      this.schedule();
    }
    w.on('change', (_type, filename) => this.onEvent(filename as Buffer | null));
    w.on('error', (e) => {
      if (this.watcher !== w) return;
      this.counters.watchErrors++;
      this.tell('watch-error', 'error', { err: errCode(e) }, `watch of ${dir} failed (${errCode(e)}): watching it again in ${this.retryMs / 1000} s`);
      w.close();
      this.watcher = null;
      this.retry ??= setTimeout(() => {
        this.retry = null;
        void this.rewatch(true);
      }, this.retryMs).unref();
      this.retryMs = Math.min(RETRY_MAX_MS, this.retryMs * 2);
    });
  }

  private onEvent(filename: Buffer | null): void {
    if (filename === null || filename.equals(this.base)) this.schedule();
    else if (filename.equals(this.dirBase)) {
      // libuv names the watched directory itself on IN_DELETE_SELF / IN_MOVE_SELF / IN_IGNORED
      this.dirSuspect = true;
      this.schedule();
    }
  }

  /** One read per burst: after `quietMs` without events, at most `maxWaitMs` after the first. */
  private schedule(): void {
    if (this.stopped) return;
    if (this.reading) {
      this.dirty = true;
      return;
    }
    const now = Date.now();
    if (!this.timer) this.burstStart = now;
    else clearTimeout(this.timer);
    const due = Math.min(now + this.quietMs, this.burstStart + this.maxWaitMs);
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.refresh();
    }, Math.max(0, due - now)).unref();
  }

  private async refresh(): Promise<void> {
    this.reading = true;
    this.dirty = false;
    try {
      if (this.dirSuspect) {
        this.dirSuspect = false;
        const s = await stat(dirname(this.path)).catch(() => null);
        if (!s || `${s.dev}:${s.ino}` !== this.dirId) {
          this.deps.log.warn({ tracker: this.name, file: this.path }, `track_file ${this.name}: the directory ${dirname(this.path)} was removed or replaced; watching it again`);
          this.retryMs = RETRY_FIRST_MS;
          await this.rewatch(false);
        }
      }
      const r = await this.read();
      if (r !== null && !this.stopped) this.apply(r, false);
    } finally {
      this.reading = false;
      if (this.dirty && !this.stopped) this.schedule();
    }
  }

  private apply(value: number, gone: boolean): void {
    if (value === this.value || this.stopped) return;
    const was = this.value;
    this.value = value;
    this.deps.log.info({ tracker: this.name, file: this.path, value, was }, `track_file ${this.name}: value ${value} (was ${was})${gone ? ', the file is gone' : ''}`);
    this.onChange?.(this.level());
  }

  /** The file's value now (keepalived's process_track_file), or null: an invalid number, ignored. */
  private async read(): Promise<number | null> {
    this.counters.reads++;
    let len = 0;
    try {
      const fh = await open(this.path, constants.O_RDONLY | constants.O_NONBLOCK);
      try {
        len = (await fh.read(this.buf, 0, READ_MAX, 0)).bytesRead;
      } finally {
        await fh.close();
      }
    } catch (e) {
      if (errCode(e) !== 'ENOENT') {
        this.counters.unreadable++;
        this.tell(`unreadable:${errCode(e)}`, 'warn', { err: errCode(e) }, `cannot read ${this.path} (${errCode(e)}): value 0, as keepalived 2.2.7; make it a readable regular file`);
      }
      return 0;
    }
    const r = parseTrackFileValue(this.buf.subarray(0, len));
    if ('value' in r) return r.value;
    this.counters.invalid++;
    this.tell('invalid', 'warn', { read: r.invalid.toString() }, `invalid number ${r.invalid} read from ${this.path} - ignoring (keeping ${this.value}); write an integer from -2147483648 to 2147483648`);
    return null;
  }
}
