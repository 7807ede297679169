/**
 * reload_time_file (src/daemon/reload-time.ts) against keepalived 2.2.7's reload_monitor.c:
 * the first line as fgets reads it, every time format with and without Z, local time in a
 * zone that is not UTC, invalid and past entries with keepalived's messages, the next
 * occurrence of a time without date (also across a daylight saving change); then the timer
 * on real files (a temp dir vipd-reload-time-*, removed afterwards): schedule, reschedule,
 * cancel, the file deleted or kept (reload_repeat); and the four global_defs keywords.
 */
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { fsSource } from '../../src/config/fs-source.js';
import { loadKeepalivedConfig } from '../../src/config/keepalived.js';
import { ConfigErrors } from '../../src/config/model.js';
import { formatReloadTime, parseReloadTime, ReloadTimer, reloadTimeLine } from '../../src/daemon/reload-time.js';
import { defaultReloadFile } from '../../src/cli/reload-files.js';

const TZ = process.env.TZ;
/** Run `f` with the process's local time zone set to `tz` (Node re-reads TZ when it is assigned). */
function inZone<T>(tz: string, f: () => T): T {
  process.env.TZ = tz;
  try {
    return f();
  } finally {
    if (TZ === undefined) delete process.env.TZ;
    else process.env.TZ = TZ;
  }
}
const utc = (s: string): number => Date.parse(`${s.replace(' ', 'T')}Z`);
const line = (s: string): string | null => reloadTimeLine(Buffer.from(s, 'latin1'));

describe('the first line of the file (fgets into char[21])', () => {
  it('an empty file is nothing; the newline is removed; later lines are not read', () => {
    expect(line('')).toBeNull();
    expect(line('12:00:00\n')).toBe('12:00:00');
    expect(line('12:00:00\n2026-01-01 00:00:00\n')).toBe('12:00:00');
    expect(line('\n')).toBe('');
  });
  it('at most 20 characters; a carriage return stays (and makes the line invalid); a NUL ends it', () => {
    expect(line('2026-11-30 12:00:00Zjunk\n')).toBe('2026-11-30 12:00:00Z');
    expect(line('12:00:00\r\n')).toBe('12:00:00\r');
    expect(line('12:00\u000000')).toBe('12:00');
  });
});

describe('parseReloadTime: the formats, as keepalived 2.2.7 with glibc strptime/mktime', () => {
  const now = utc('2026-11-29 23:12:05');
  const ok = (s: string, at: number, dateSpecified: boolean): void => expect(parseReloadTime(s, now), s).toEqual({ ok: true, at, dateSpecified });
  const bad = (s: string, why: string): void =>
    expect(parseReloadTime(s, now), s).toEqual({ ok: false, past: false, messages: [why, `Invalid reload time '${s}' specified - ignoring`] });

  it('HH:MM:SS, YY-MM-DD HH:MM:SS, YYYY-MM-DD HH:MM:SS in local time (here UTC), and with Z', () => {
    inZone('UTC', () => {
      ok('23:30:00', utc('2026-11-29 23:30:00'), false);
      ok('23:30:00Z', utc('2026-11-29 23:30:00'), false);
      ok('26-12-01 08:00:00', utc('2026-12-01 08:00:00'), true);
      ok('68-12-31 23:59:59', utc('2068-12-31 23:59:59'), true); // %y: 00-68 are the 2000s
      ok('2027-01-02 03:04:05', utc('2027-01-02 03:04:05'), true);
      ok('2027-01-02 03:04:05Z', utc('2027-01-02 03:04:05'), true);
      ok('2028-02-29 12:00:00', utc('2028-02-29 12:00:00'), true);
    });
  });

  it('without Z the time is local (Europe/Paris: UTC+1 in winter, +2 in summer); with Z it is UTC', () => {
    inZone('Europe/Paris', () => {
      ok('2026-12-01 08:00:00', utc('2026-12-01 07:00:00'), true);
      ok('2026-12-01 08:00:00Z', utc('2026-12-01 08:00:00'), true);
      ok('2027-07-01 08:00:00', utc('2027-07-01 06:00:00'), true);
      // now is 00:12:05 on 2026-11-30 in Paris: 00:30 local is today there, 23:30Z today in UTC
      ok('00:30:00', utc('2026-11-29 23:30:00'), false);
      ok('23:30:00Z', utc('2026-11-29 23:30:00'), false);
      ok('23:30:00', utc('2026-11-30 22:30:00'), false);
    });
  });

  it('a time without date that has passed today (or is now) is the same time tomorrow', () => {
    inZone('UTC', () => {
      ok('23:12:05', utc('2026-11-30 23:12:05'), false);
      ok('23:12:04Z', utc('2026-11-30 23:12:04'), false);
      ok('23:12:06', utc('2026-11-29 23:12:06'), false);
      ok('00:00:00', utc('2026-11-30 00:00:00'), false);
    });
  });

  it('the next occurrence across a daylight saving change keeps the wall-clock time', () => {
    inZone('Europe/Paris', () => {
      const sat = Date.parse('2026-03-28T11:00:00+01:00');
      expect(parseReloadTime('10:00:00', sat)).toEqual({ ok: true, at: Date.parse('2026-03-29T10:00:00+02:00'), dateSpecified: false });
      expect(parseReloadTime('12:00:00', sat)).toEqual({ ok: true, at: Date.parse('2026-03-28T12:00:00+01:00'), dateSpecified: false });
    });
  });

  it('a date in the past is ignored, with keepalived\'s two lines', () => {
    inZone('UTC', () => {
      for (const s of ['2026-11-29 23:12:05', '2026-11-29 23:12:04Z', '26-01-01 00:00:00', '69-01-01 00:00:00', '1999-12-31 23:59:59'])
        expect(parseReloadTime(s, now), s).toEqual({ ok: false, past: true, messages: [`Reload time ${s} is in the past - ignoring`, 'Reload date/time is in the past - ignoring'] });
    });
  });

  it('a length other than 8, 17 or 19 (without Z): format is incorrect', () => {
    for (const s of ['', 'Z', '1:2:3', '12:00:0', '12:00:0Z', '12:00:000', '26-11-3012:00:00', '12:00:00Zx', '12:00:00 ', '12:00:00ZZ', '12:00:00z', '2026-11-30  12:00:00', '2026-11-30 12:00', '12:00:00\r'])
      bad(s, `Reload time ${s} format is incorrect - ignoring`);
  });

  it('what strptime does not match, or not to the end: invalid', () => {
    for (const s of ['24:00:00', '12:60:00', 'ab:cd:ef', '12-00-00', '+1:00:00', '1:2:3:45Z', '2026-13-01 10:00:00', '2026-00-01 10:00:00', '2026-11-32 10:00:00', '2026/11/30 12:00:00', '2026-11-30T12:00:00', '1:2:3 4-5-6 7:8:9Z'])
      bad(s, `Reload date/time ${s} invalid - ignoring`);
  });

  it('what strptime matches but does not exist (mktime changes it): not valid', () => {
    inZone('UTC', () => {
      for (const s of ['12:00:60', '12:00:61', '2027-02-29 12:00:00', '2027-04-31 10:00:00', '27-02-30 00:00:00'])
        bad(s, `Reload time ${s} is not valid - ignoring`);
    });
    inZone('Europe/Paris', () => bad('2027-03-28 02:30:00', 'Reload time 2027-03-28 02:30:00 is not valid - ignoring')); // skipped by summer time
  });

  it('glibc\'s leniency is kept: white space before a number, a run of white space for the space, one digit where the next would be too large', () => {
    inZone('UTC', () => {
      ok(' 1:02:03', utc('2026-11-30 01:02:03'), false);
      ok('12: 0: 0', utc('2026-11-30 12:00:00'), false);
      ok('2026-11-30\t12:00:00', utc('2026-11-30 12:00:00'), true);
      ok('2027- 1- 1 12:00:00', utc('2027-01-01 12:00:00'), true);
    });
  });

  it('formats a time as keepalived logs it (local %Y-%m-%d %H:%M:%S)', () => {
    inZone('UTC', () => expect(formatReloadTime(utc('2026-03-04 05:06:07'))).toBe('2026-03-04 05:06:07'));
    inZone('Europe/Paris', () => expect(formatReloadTime(utc('2026-03-04 05:06:07'))).toBe('2026-03-04 06:06:07'));
  });
});

// ---------------------------------------------------------------- the timer on real files

interface Line { level: string; msg: string }
function fakeLog(): { log: Logger; lines: Line[] } {
  const lines: Line[] = [];
  const at = (level: string) => (_o: unknown, msg: string) => lines.push({ level, msg });
  return { log: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') } as unknown as Logger, lines };
}
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const exists = (f: string): Promise<boolean> => stat(f).then(() => true, () => false);
let dir = '';
let n = 0;
const timers: ReloadTimer[] = [];

/**
 * A timer whose wall clock is shifted so that the next whole second (`at`) is `leadMs` away:
 * a time written for `at` fires after `leadMs` of real time.
 */
function rig(leadMs = 400): { t: ReloadTimer; lines: Line[]; reloads: number[]; t0: number; at: number; hms: string; date: string; file: string; sub: string } {
  const real = Date.now();
  const at = Math.ceil(real / 1000) * 1000 + 1000;
  const off = at - leadMs - real;
  const { log, lines } = fakeLog();
  const reloads: number[] = [];
  const t = new ReloadTimer({ log, reload: async () => void reloads.push(Date.now()), now: () => Date.now() + off });
  timers.push(t);
  const sub = join(dir, `d${++n}`);
  return { t, lines, reloads, t0: real, at, hms: formatReloadTime(at).slice(11), date: formatReloadTime(at), file: join(sub, 'reload.time'), sub };
}
async function until(what: string, f: () => boolean | Promise<boolean>, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await f())) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await sleep(10);
  }
}
const msgs = (lines: Line[]): string[] => lines.map((l) => l.msg);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vipd-reload-time-'));
});
afterEach(() => {
  for (const t of timers.splice(0)) t.stop();
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('ReloadTimer', () => {
  it('a time written into the file schedules one reload at that time; the file is deleted', async () => {
    const r = rig(400);
    await mkdir(r.sub);
    await r.t.configure(r.file, false);
    expect(r.t.scheduledAt).toBeNull();
    await writeFile(r.file, `${r.hms}\n`);
    await until('scheduled', () => r.t.scheduledAt === r.at);
    expect(msgs(r.lines)).toContain(`Scheduling reload for ${r.date}`);
    await until('the reload', () => r.reloads.length === 1);
    expect(r.reloads[0]! - r.t0).toBeGreaterThanOrEqual(380);
    expect(r.reloads[0]! - r.t0).toBeLessThan(1400);
    expect(await exists(r.file)).toBe(false);
    await sleep(300);
    expect(r.reloads.length).toBe(1);
    expect(r.t.scheduledAt).toBeNull();
  });

  it('reload_repeat keeps a time-only file: the same time tomorrow; a dated file is deleted all the same', async () => {
    const r = rig(300);
    await mkdir(r.sub);
    await writeFile(r.file, `${r.hms}\n`);
    await r.t.configure(r.file, true);
    expect(r.t.scheduledAt).toBe(r.at);
    await until('the reload', () => r.reloads.length === 1);
    await until('rescheduled', () => r.t.scheduledAt === r.at + 86_400_000);
    expect(await readFile(r.file, 'utf8')).toBe(`${r.hms}\n`);

    const d = rig(300);
    await mkdir(d.sub);
    await writeFile(d.file, d.date);
    await d.t.configure(d.file, true);
    await until('the reload', () => d.reloads.length === 1);
    await until('deleted', async () => !(await exists(d.file)));
  });

  it('rewritten: rescheduled; deleted: cancelled, no reload', async () => {
    const r = rig(1500);
    await mkdir(r.sub);
    await writeFile(r.file, formatReloadTime(r.at + 3_600_000));
    await r.t.configure(r.file, false);
    expect(r.t.scheduledAt).toBe(r.at + 3_600_000);
    await writeFile(r.file, formatReloadTime(r.at + 7_200_000));
    await until('rescheduled', () => r.t.scheduledAt === r.at + 7_200_000);
    expect(msgs(r.lines)).toContain(`Reload time updated from ${formatReloadTime(r.at + 3_600_000)} to ${formatReloadTime(r.at + 7_200_000)}`);
    await rm(r.file);
    await until('cancelled', () => r.t.scheduledAt === null);
    expect(msgs(r.lines)).toContain(`Cancelling reload scheduled for ${formatReloadTime(r.at + 7_200_000)}`);
    expect(r.reloads).toEqual([]);
  });

  it('an invalid or past line is logged with keepalived\'s words and cancels what was scheduled', async () => {
    const r = rig(1500);
    await mkdir(r.sub);
    await writeFile(r.file, formatReloadTime(r.at + 3_600_000));
    await r.t.configure(r.file, false);
    await writeFile(r.file, '25:00:00\n');
    await until('cancelled', () => r.t.scheduledAt === null);
    expect(msgs(r.lines)).toEqual(expect.arrayContaining(['Reload date/time 25:00:00 invalid - ignoring', "Invalid reload time '25:00:00' specified - ignoring", `Cancelling reload scheduled for ${formatReloadTime(r.at + 3_600_000)}`]));
    await writeFile(r.file, '2001-01-01 00:00:00');
    await until('the past', () => msgs(r.lines).includes('Reload date/time is in the past - ignoring'));
    expect(r.t.scheduledAt).toBeNull();
  });

  it('a file created later is read; configure(null) and stop() cancel; a missing directory is told', async () => {
    const r = rig(1500);
    await mkdir(r.sub);
    await r.t.configure(r.file, false);
    await writeFile(r.file, formatReloadTime(r.at + 60_000));
    await until('scheduled', () => r.t.scheduledAt === r.at + 60_000);
    await r.t.configure(null, false);
    expect(r.t.scheduledAt).toBeNull();
    await r.t.configure(r.file, false);
    expect(r.t.scheduledAt).toBe(r.at + 60_000);
    r.t.stop();
    expect(r.t.scheduledAt).toBeNull();

    const m = rig();
    await m.t.configure(join(m.sub, 'nope', 'reload.time'), false);
    expect(msgs(m.lines).some((l) => l.startsWith(`Unable to monitor reload timer file directory ${join(m.sub, 'nope')} - ignoring`))).toBe(true);
  });

  it('the directory removed: cancelled, and monitoring stops until the next configure()', async () => {
    const r = rig(1500);
    await mkdir(r.sub);
    await writeFile(r.file, formatReloadTime(r.at + 60_000));
    await r.t.configure(r.file, false);
    await rm(r.sub, { recursive: true });
    await until('stopped', () => msgs(r.lines).includes('Directory of reload timer file has disappeared. Monitoring stopped.'));
    expect(r.t.scheduledAt).toBeNull();
    await mkdir(r.sub);
    await writeFile(r.file, formatReloadTime(r.at + 60_000));
    await sleep(100);
    expect(r.t.scheduledAt).toBeNull();
    await r.t.configure(r.file, false);
    expect(r.t.scheduledAt).toBe(r.at + 60_000);
  });
});

// ---------------------------------------------------------------- the keywords

describe('global_defs reload_check_config, reload_time_file, reload_repeat, reload_file', () => {
  async function load(lines: string[]): Promise<{ global?: import('../../src/config/model.js').GlobalModel; errors: string[]; warnings: string[] }> {
    const f = join(dir, `k${++n}.conf`);
    await writeFile(f, ['global_defs {', ...lines.map((l) => `    ${l}`), '}', ''].join('\n'));
    try {
      const c = await loadKeepalivedConfig(f, fsSource);
      return { global: c.global, errors: [], warnings: c.warnings.map((w) => `${w.pos.line}: ${w.message}`) };
    } catch (e) {
      if (e instanceof ConfigErrors) return { errors: e.errors.map((x) => `${x.pos.line}: ${x.message}`), warnings: [] };
      throw e;
    }
  }

  it('are read into the model, without a warning', async () => {
    const r = await load(['reload_check_config /var/log/ka-check.log', 'reload_time_file /run/ka/reload.time', 'reload_repeat', 'reload_file /run/ka/reloading']);
    expect(r.errors).toEqual([]);
    expect(r.warnings).toEqual([]);
    expect(r.global).toMatchObject({ reloadCheckConfig: { logFile: '/var/log/ka-check.log' }, reloadTimeFile: '/run/ka/reload.time', reloadRepeat: true, reloadFile: { path: '/run/ka/reloading' } });
    const d = await load(['reload_check_config', 'reload_file']);
    expect(d.global).toMatchObject({ reloadCheckConfig: { logFile: null }, reloadTimeFile: null, reloadRepeat: false, reloadFile: { path: null } });
    const none = await load([]);
    expect(none.global).toMatchObject({ reloadCheckConfig: null, reloadTimeFile: null, reloadRepeat: false, reloadFile: null });
  });

  it('paths must be absolute file paths; reload_time_file needs one; a relative check log is taken from /', async () => {
    expect((await load(['reload_time_file'])).errors).toEqual(["2: 'reload_time_file' takes one argument, got 0"]);
    expect((await load(['reload_time_file reload.time'])).errors).toEqual(["2: 'reload_time_file' needs an absolute path (keepalived.conf(5): ABSOLUTE-PATHNAME-OF-FILE), got 'reload.time'"]);
    expect((await load(['reload_file /run/ka/'])).errors).toEqual(["2: 'reload_file' names a directory ('/run/ka/'): give the path of a file in it"]);
    expect((await load(['reload_file /a /b'])).errors).toEqual(["2: 'reload_file' takes one argument, got 2"]);
    expect((await load(['reload_repeat yes'])).errors).toEqual(["2: 'reload_repeat' takes no argument, got 1"]);
    const rel = await load(['reload_check_config check.log']);
    expect(rel.global?.reloadCheckConfig).toEqual({ logFile: '/check.log' });
    expect(rel.warnings).toEqual(["2: reload_check_config: the log file 'check.log' is relative; vipd writes /check.log (keepalived's daemon runs in /): write the absolute path"]);
  });

  it('the default reload file is keepalived.reload beside keepalived\'s pid file', () => {
    expect(defaultReloadFile('/run/keepalived.pid')).toBe('/run/keepalived.reload');
    expect(defaultReloadFile('/run/keepalived/ns1/keepalived_I.pid')).toBe('/run/keepalived/ns1/keepalived_I.reload');
  });
});
