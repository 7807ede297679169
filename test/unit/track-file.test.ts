/**
 * track_file (src/daemon/trackers/file.ts) against keepalived 2.2.7's track_file.c: the number
 * as strtol reads it, re-reads on write / truncate / mv-over / delete (0), init_file, and the
 * watch: event-driven, one read per burst, re-established when its directory goes.
 * Real files in a temp dir (vipd-track-file-*), removed afterwards.
 */
import { execFile } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { type FSWatcher, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, open, readFile, readdir, rename, rm, stat, symlink, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Logger } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { TrackFileModel } from '../../src/config/model-track.js';
import { initTrackFile, parseTrackFileValue, TrackFileTracker, type TrackFileDeps } from '../../src/daemon/trackers/file.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
let dir = '';
let n = 0;
let trackers: TrackFileTracker[] = [];

interface Line { level: string; o: Record<string, unknown>; msg: string }
function fakeLog(): { log: Logger; lines: Line[] } {
  const lines: Line[] = [];
  const at = (level: string) => (o: Record<string, unknown>, msg: string) => lines.push({ level, o, msg });
  return { log: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') } as unknown as Logger, lines };
}
function model(file: string, initFile: TrackFileModel['initFile'] = null): TrackFileModel {
  return { name: 'tf', file, weight: 1, weightReverse: false, initFile, pos: { file: 'k.conf', line: 1, col: 1 } };
}
/** A fresh sub-directory of the test's temp dir. */
async function sub(): Promise<string> {
  const d = join(dir, `d${++n}`);
  await mkdir(d);
  return d;
}
/** A started tracker on `file`, its log, and the values it reported through onChange. */
async function tracker(file: string, deps: Partial<TrackFileDeps> = {}, m = model(file)): Promise<{ t: TrackFileTracker; lines: Line[]; seen: number[] }> {
  const { log, lines } = fakeLog();
  const t = new TrackFileTracker(m, { log, ...deps });
  trackers.push(t);
  const seen: number[] = [];
  t.onChange = (l) => seen.push(l.kind === 'value' ? l.value : NaN);
  await t.start();
  return { t, lines, seen };
}
/** Wait until the tracker's value is `v` (seen through onChange); fails after `ms`. */
async function until(t: TrackFileTracker, seen: number[], v: number, ms = 1000): Promise<number> {
  const t0 = Date.now();
  while (seen.at(-1) !== v) {
    if (Date.now() - t0 > ms) throw new Error(`value ${v} not seen within ${ms} ms (seen ${JSON.stringify(seen)}, status ${JSON.stringify(t.status())})`);
    await sleep(5);
  }
  return Date.now() - t0;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vipd-track-file-'));
});
afterEach(() => {
  for (const t of trackers) t.stop();
  trackers = [];
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('parseTrackFileValue: strtol(buf, NULL, 0) on the first 127 bytes (track_file.c process_track_file)', () => {
  const v = (s: string | Buffer): unknown => {
    const r = parseTrackFileValue(typeof s === 'string' ? Buffer.from(s) : s);
    return 'value' in r ? r.value : `invalid ${r.invalid}`;
  };
  it.each([
    ['42\n', 42], ['  \t\n\v\f\r 7', 7], ['-5', -5], ['+5', 5], ['0x1f', 31], ['0X1F', 31], ['-0x10', -16],
    ['010', 8], ['09', 0], ['08', 0], ['0x', 0], ['0xg', 0], ['12abc', 12], ['3 4', 3], ['1.9', 1],
    ['', 0], ['abc', 0], ['- 5', 0], ['+-5', 0], ['--5', 0], ['\u00a05', 0], ['5\u00005', 5],
    ['2147483647', 2147483647], ['2147483648', 2147483648], ['-2147483648', -2147483648],
  ])('%j -> %j', (s, want) => expect(v(s)).toBe(want));
  it('out of range or overflowing: invalid, with the number keepalived logs', () => {
    expect(v('2147483649')).toBe('invalid 2147483649');
    expect(v('-2147483649')).toBe('invalid -2147483649');
    expect(v('99999999999999999999')).toBe('invalid 9223372036854775807');
    expect(v('-99999999999999999999')).toBe('invalid -9223372036854775808');
    expect(v('0x7fffffffffffffff')).toBe('invalid 9223372036854775807');
  });
  it('only the first 127 bytes count', () => {
    expect(v(`${' '.repeat(126)}5`)).toBe(5);
    expect(v(`${' '.repeat(127)}5`)).toBe(0);
    expect(v(`${' '.repeat(125)}123`)).toBe(12);
  });
});

describe('TrackFileTracker: the value follows the file', () => {
  it('reads the value at start (no onChange), then sees a write within 1 s', async () => {
    const f = join(await sub(), 'prio');
    await writeFile(f, '10\n');
    const { t, seen } = await tracker(f);
    expect(t.level()).toEqual({ kind: 'value', value: 10 });
    expect(seen).toEqual([]);
    await writeFile(f, '25\n');
    expect(await until(t, seen, 25)).toBeLessThan(1000);
    expect(t.status()).toMatchObject({ kind: 'file', name: 'tf', file: f, state: '25', level: { kind: 'value', value: 25 } });
  });

  it('truncate then write (an editor, a shell redirection) gives the new value', async () => {
    const f = join(await sub(), 'prio');
    await writeFile(f, '3');
    const { t, seen } = await tracker(f);
    const fh = await open(f, 'w'); // O_TRUNC
    await sleep(5);
    await fh.write('17\n');
    await fh.close();
    await until(t, seen, 17);
    await promisify(execFile)('sh', ['-c', `echo 33 > '${f}'`]);
    await until(t, seen, 33);
    expect(seen.at(-1)).toBe(33);
  });

  it('mv over the file gives its value; deleting it or moving it away gives 0 (keepalived: IN_DELETE / IN_MOVED_FROM)', async () => {
    const d = await sub();
    const f = join(d, 'prio');
    await writeFile(f, '4');
    const { t, seen, lines } = await tracker(f);
    await writeFile(join(d, 'prio.new'), '-20\n');
    await rename(join(d, 'prio.new'), f);
    await until(t, seen, -20);
    await unlink(f);
    await until(t, seen, 0);
    expect(lines.some((l) => l.level === 'info' && /value 0 \(was -20\)/.test(l.msg))).toBe(true);
    await writeFile(f, '9');
    await until(t, seen, 9);
    await rename(f, join(d, 'elsewhere'));
    await until(t, seen, 0);
    expect(lines.filter((l) => l.level === 'warn' || l.level === 'error')).toEqual([]); // missing is a value, not a fault
  });

  it('a missing file at start is 0 and is picked up when created', async () => {
    const f = join(await sub(), 'later');
    const { t, seen } = await tracker(f);
    expect(t.level()).toEqual({ kind: 'value', value: 0 });
    await writeFile(f, '0x0a');
    await until(t, seen, 10);
  });

  it('junk is 0; an out-of-range number is ignored (the previous value stays), logged once a minute with a count', async () => {
    const f = join(await sub(), 'prio');
    await writeFile(f, '8');
    const { t, seen, lines } = await tracker(f);
    await writeFile(f, 'up\n');
    await until(t, seen, 0);
    await writeFile(f, '5');
    await until(t, seen, 5);
    await writeFile(f, '4294967296');
    await sleep(150);
    await writeFile(f, '99999999999');
    await sleep(150);
    expect(t.level()).toEqual({ kind: 'value', value: 5 });
    const warns = lines.filter((l) => l.level === 'warn');
    expect(warns).toHaveLength(1);
    expect(warns[0]!.msg).toMatch(/invalid number 4294967296 read from .*prio - ignoring \(keeping 5\)/);
    expect(t.counters.invalid).toBe(2);
    await writeFile(f, '6');
    await until(t, seen, 6);
  });

  it('a directory where the file should be reads as 0 and is reported', async () => {
    const d = await sub();
    const f = join(d, 'prio');
    await writeFile(f, '7');
    const { t, seen, lines } = await tracker(f);
    await unlink(f);
    await mkdir(f);
    await until(t, seen, 0);
    await sleep(100);
    expect(lines.some((l) => l.level === 'warn' && /cannot read .*prio \(EISDIR\): value 0/.test(l.msg))).toBe(true);
  });

  it('a symlinked file is resolved once at start, as keepalived\'s realpath', async () => {
    const d = await sub();
    await writeFile(join(d, 'real'), '12');
    await symlink(join(d, 'real'), join(d, 'link'));
    const { t, seen } = await tracker(join(d, 'link'));
    expect(t.status()).toMatchObject({ file: join(d, 'real'), state: '12' });
    await writeFile(join(d, 'real'), '13');
    await until(t, seen, 13);
  });
});

describe('TrackFileTracker: events, not polling', () => {
  it('no read while idle; a burst of writes is one read (or very few)', async () => {
    const f = join(await sub(), 'prio');
    await writeFile(f, '1');
    const { t, seen } = await tracker(f);
    const idle = t.counters.reads;
    await sleep(400);
    expect(t.counters.reads).toBe(idle);
    for (let k = 2; k <= 40; k++) writeFileSync(f, `${k}\n`); // one burst: nothing in between
    await until(t, seen, 40);
    await sleep(300);
    expect(t.counters.reads - idle).toBeLessThanOrEqual(3);
    expect(seen.at(-1)).toBe(40);
  });

  it('writes to other files of the directory cause no read', async () => {
    const d = await sub();
    const f = join(d, 'prio');
    await writeFile(f, '1');
    const { t } = await tracker(f);
    const before = t.counters.reads;
    for (let k = 0; k < 10; k++) await writeFile(join(d, `other${k}`), 'x');
    await sleep(200);
    expect(t.counters.reads).toBe(before);
  });

  it('stop(): no more changes reported', async () => {
    const f = join(await sub(), 'prio');
    await writeFile(f, '1');
    const { t, seen } = await tracker(f);
    t.stop();
    await writeFile(f, '2');
    await sleep(200);
    expect(seen).toEqual([]);
    expect(t.level()).toEqual({ kind: 'value', value: 1 });
  });

  it('its directory removed then created again: 0, the watch is set up again, the new file is seen', async () => {
    const d = await sub();
    const f = join(d, 'prio');
    await writeFile(f, '5');
    const { t, seen, lines } = await tracker(f);
    await rm(d, { recursive: true });
    await until(t, seen, 0);
    await sleep(150);
    await mkdir(d);
    await writeFile(f, '6');
    await until(t, seen, 6, 4000); // the first retry comes 1 s after the directory went
    expect(lines.some((l) => /watching .* again/.test(l.msg))).toBe(true);
    expect(t.counters.watches).toBeGreaterThanOrEqual(2);
  });

  it('its directory replaced (mv away, new one in its place): the new directory is watched', async () => {
    const d = await sub();
    const f = join(d, 'prio');
    await writeFile(f, '5');
    const { t, seen } = await tracker(f);
    await rename(d, `${d}.old`);
    await mkdir(d);
    await writeFile(f, '8');
    await until(t, seen, 8, 4000);
    await writeFile(join(`${d}.old`, 'prio'), '99'); // the old directory is no longer watched
    await sleep(300); // (were it still watched, this event's read would come now)
    await writeFile(f, '9'); // only the new directory's events can tell this one
    await until(t, seen, 9);
    expect(seen).not.toContain(99);
  });

  it('a watcher error is logged and the watch re-established', async () => {
    const f = join(await sub(), 'prio');
    await writeFile(f, '1');
    const made: EventEmitter[] = [];
    const watch = (): FSWatcher => {
      const w = Object.assign(new EventEmitter(), { close: () => undefined }) as unknown as FSWatcher;
      made.push(w);
      return w;
    };
    const { t, seen, lines } = await tracker(f, { watch });
    expect(made).toHaveLength(1);
    await writeFile(f, '2');
    made[0]!.emit('error', Object.assign(new Error('boom'), { code: 'EIO' }));
    expect(lines.some((l) => l.level === 'error' && /watch of .* failed \(EIO\)/.test(l.msg))).toBe(true);
    await until(t, seen, 2, 3000); // re-watched after 1 s, then read
    expect(made).toHaveLength(2);
    expect(t.counters.watchErrors).toBe(1);
    made[1]!.emit('change', 'change', Buffer.from('prio'));
    await writeFile(f, '3');
    made[1]!.emit('change', 'change', Buffer.from('prio'));
    await until(t, seen, 3);
  });
});

describe('init_file (track_file.c track_file_end_handler)', () => {
  it('creates a missing file with VALUE\\n (default 0), mode 0666 less the umask', async () => {
    const d = await sub();
    const { t } = await tracker(join(d, 'a'), {}, model(join(d, 'a'), { value: 0, overwrite: false }));
    expect(await readFile(join(d, 'a'), 'utf8')).toBe('0\n');
    await writeFile(join(dir, 'umask-ref'), '', { mode: 0o666 }); // what 0666 less this process's umask gives
    expect((await stat(join(d, 'a'))).mode & 0o777).toBe((await stat(join(dir, 'umask-ref'))).mode & 0o777);
    expect(t.level()).toEqual({ kind: 'value', value: 0 });
    const { t: t2 } = await tracker(join(d, 'b'), {}, model(join(d, 'b'), { value: -7, overwrite: false }));
    expect(await readFile(join(d, 'b'), 'utf8')).toBe('-7\n');
    expect(t2.level()).toEqual({ kind: 'value', value: -7 });
    expect((await readdir(d)).sort()).toEqual(['a', 'b']); // no temporary file left
  });

  it('keeps an existing file; with overwrite writes it (not on a reload)', async () => {
    const d = await sub();
    const f = join(d, 'p');
    await writeFile(f, '50\n');
    const { t } = await tracker(f, {}, model(f, { value: 3, overwrite: false }));
    expect(t.level()).toEqual({ kind: 'value', value: 50 });
    const { t: t2 } = await tracker(f, { reload: true }, model(f, { value: 3, overwrite: true }));
    expect(t2.level()).toEqual({ kind: 'value', value: 50 });
    const { t: t3 } = await tracker(f, {}, model(f, { value: 3, overwrite: true }));
    expect(t3.level()).toEqual({ kind: 'value', value: 3 });
    expect(await readFile(f, 'utf8')).toBe('3\n');
    await rm(f);
    const { t: t4 } = await tracker(f, { reload: true }, model(f, { value: 4, overwrite: true }));
    expect(t4.level()).toEqual({ kind: 'value', value: 4 }); // a reload still creates a missing file
  });

  it('overwrite refuses a path that is not a regular file', async () => {
    const d = await sub();
    await mkdir(join(d, 'x'));
    const { log, lines } = fakeLog();
    expect(await initTrackFile(model(join(d, 'x'), { value: 1, overwrite: true }), log)).toBe(false);
    expect(lines[0]).toMatchObject({ level: 'error' });
    expect(lines[0]!.msg).toMatch(/cannot initialise track file tf: .*x is not a regular file/);
    expect((await stat(join(d, 'x'))).isDirectory()).toBe(true);
  });

  it('a missing directory is not created: the write fails, the track_file is disabled (keepalived drops it)', async () => {
    const f = join(dir, 'no-such-dir', 'p');
    const { t, lines, seen } = await tracker(f, {}, model(f, { value: 1, overwrite: false }));
    expect(lines.map((l) => l.msg)).toEqual([
      expect.stringMatching(/unable to initialise track file tf .*ENOENT.*the directory .*no-such-dir does not exist, create it/),
      expect.stringMatching(/track_file tf: the directory .*no-such-dir of .* does not exist: keepalived 2.2.7 drops this track_file/),
    ]);
    expect(t.status()).toMatchObject({ state: 'disabled', disabled: expect.stringMatching(/does not exist/) });
    await expect(stat(join(dir, 'no-such-dir'))).rejects.toThrow();
    expect(seen).toEqual([]);
  });
});
