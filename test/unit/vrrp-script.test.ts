/**
 * VrrpScriptTracker against keepalived 2.2.7's counter (vrrp_scheduler.c
 * vrrp_script_child_thread, vrrp_init_script): sequences of outcomes → levels and level
 * changes, derived by hand from keepalived's rules; log lines; skipped runs; the deadline
 * grid; init_fail; disabled; stop. Then once with real processes and the real Scheduler.
 */
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VrrpScriptModel } from '../../src/config/model-track.js';
import { Scheduler } from '../../src/daemon/scheduler.js';
import { VrrpScriptTracker } from '../../src/daemon/trackers/script.js';
import type { ScriptOutcome, ScriptRun, ScriptSpec } from '../../src/daemon/trackers/script-runner.js';
import type { TrackerLevel } from '../../src/daemon/trackers/types.js';

function model(o: Partial<VrrpScriptModel> = {}): VrrpScriptModel {
  return { name: 'chk', script: ['/etc/keepalived/chk.sh'], intervalS: 1, timeoutS: 1, weight: 0, weightReverse: false, rise: 1, fall: 1, user: null, initFail: false, pos: { file: 'k.conf', line: 1, col: 1 }, ...o };
}

interface Line { level: string; msg: string; o: Record<string, unknown> }
function fakeLog(): { log: Logger; lines: Line[] } {
  const lines: Line[] = [];
  const at = (level: string) => (o: Record<string, unknown>, msg: string) => lines.push({ level, msg, o });
  return { log: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') } as unknown as Logger, lines };
}

interface Pending { spec: ScriptSpec; finish: (o: Partial<ScriptOutcome>) => void; cancelled: boolean }

/** A runner whose runs end when the test says so. */
function fakeRun(): { run: (s: ScriptSpec) => ScriptRun; runs: Pending[] } {
  const runs: Pending[] = [];
  const run = (spec: ScriptSpec): ScriptRun => {
    let resolve!: (o: ScriptOutcome) => void;
    const done = new Promise<ScriptOutcome>((r) => (resolve = r));
    const p: Pending = {
      spec,
      cancelled: false,
      finish: (o) => resolve({ exitCode: null, signal: null, timedOut: false, cancelled: false, durationMs: 12.5, output: '', droppedBytes: 0, ...o }),
    };
    runs.push(p);
    return { pid: 4242, done, cancel: () => (p.cancelled = true) };
  };
  return { run, runs };
}

function fakeScheduler(): { s: { set: (o: unknown, at: number) => void; clear: () => void; release: () => void }; sets: number[]; cleared: number } {
  const r = { sets: [] as number[], cleared: 0, s: null as never };
  r.s = { set: (_o: unknown, at: number) => r.sets.push(at), clear: () => r.cleared++, release: () => r.cleared++ } as never;
  return r;
}

const OUT: Record<string, Partial<ScriptOutcome>> = {
  S: { exitCode: 0 },
  O: { exitCode: 0, output: 'haproxy up\n' },
  F: { exitCode: 1 },
  T: { timedOut: true, signal: 'SIGTERM' },
  K: { signal: 'SIGKILL' },
  E: { spawnError: 'ENOENT: spawn /x ENOENT' },
};

const tick = () => new Promise((r) => setImmediate(r));

/** Feed `seq` one outcome per interval; levels after each outcome and the onChange values. */
async function play(m: VrrpScriptModel, seq: string): Promise<{ initial: boolean | null; levels: (boolean | null)[]; changes: (boolean | null)[]; lines: Line[]; t: VrrpScriptTracker }> {
  const { run, runs } = fakeRun();
  const sch = fakeScheduler();
  const { log, lines } = fakeLog();
  let now = 1_000_000;
  const t = new VrrpScriptTracker(m, { scheduler: sch.s, log, run, uid: 0, gid: 0, clock: () => now });
  const changes: (boolean | null)[] = [];
  t.onChange = (l: TrackerLevel) => changes.push(l.kind === 'bool' ? l.up : null);
  const initial = (t.level() as { up: boolean | null }).up;
  const levels: (boolean | null)[] = [];
  t.start();
  for (let i = 0; i < seq.length; i++) {
    if (i > 0) t.onTimer((now += 1_000_000));
    runs[i]!.finish(OUT[seq[i]!]!);
    await tick();
    levels.push((t.level() as { up: boolean | null }).up);
  }
  return { initial, levels, changes, lines, t };
}

describe('VrrpScriptTracker: keepalived\'s result counter', () => {
  // [rise, fall, init_fail, outcomes, level after each (T/F), onChange values]
  const table: [number, number, boolean, string, string, string][] = [
    [1, 1, false, 'SFS', 'TFT', 'TFT'],
    [3, 2, false, 'SFFSSS', 'TTFFFT', 'TFT'], // one success is enough at start; then 2 to fall, 3 to rise
    [2, 2, false, 'FSS', 'FFT', 'FT'], // a first failure decides at once too
    [2, 1, true, 'SSF', 'FTF', 'TF'], // init_fail: down from the start, rise successes needed
    [1, 3, false, 'SFFSFFF', 'TTTTTTF', 'TF'], // a success in between restarts the fall count
    [3, 1, true, 'SSFSSS', 'FFFFFT', 'T'], // a failure in between restarts the rise count
    [1, 2, false, 'TSKE', 'FTTF', 'FTF'], // timeout, signal and spawn failure are failures
    [2, 2, false, 'SFF', 'TTF', 'TF'],
  ];
  it.each(table)('rise %i fall %i init_fail %s: %s → %s', async (rise, fall, initFail, seq, levels, changes) => {
    const r = await play(model({ rise, fall, initFail }), seq);
    expect(r.initial).toBe(initFail ? false : null);
    expect(r.levels.map((l) => (l ? 'T' : 'F')).join('')).toBe(levels);
    expect(r.changes.map((l) => (l ? 'T' : 'F')).join('')).toBe(changes);
    const st = r.t.status();
    expect(st.result).toBeGreaterThanOrEqual(0);
    expect(st.result).toBeLessThanOrEqual(rise + fall - 1);
    expect(st.runs).toBe(seq.length);
  });

  it('logs as keepalived: level changes, exit-status changes (from 0), output at debug', async () => {
    const r = await play(model({ fall: 2 }), 'SFFFTO');
    const info = r.lines.filter((l) => l.level === 'info').map((l) => l.msg);
    expect(info).toEqual([
      'VRRP_Script(chk) succeeded',
      'Script `chk` now returning 1',
      'VRRP_Script(chk) failed (exited with status 1)',
      'Script `chk` now returning 0',
      'VRRP_Script(chk) succeeded',
    ]);
    const warn = r.lines.filter((l) => l.level === 'warn').map((l) => l.msg);
    expect(warn).toEqual(["VRRP_Script(chk) ran past its timeout (1 s): its process group was killed and the run counts as a failure; raise 'timeout' or make the script finish sooner"]);
    expect(r.lines.filter((l) => l.level === 'debug')).toEqual([{ level: 'debug', msg: 'VRRP_Script(chk) output', o: expect.objectContaining({ output: 'haproxy up\n', exit: 0 }) }]);
    const st = r.t.status();
    expect(st).toMatchObject({ state: 'ok', lastExit: 0, lastResult: 'exit', lastDurationMs: 12.5, timeouts: 1, runs: 6, skipped: 0, rise: 1, fall: 2, result: 2 });
  });

  it('a timeout and a signal while unknown log timed_out / due to signal N', async () => {
    expect((await play(model(), 'T')).lines.map((l) => l.msg)).toContain('VRRP_Script(chk) timed_out');
    expect((await play(model(), 'K')).lines.map((l) => l.msg)).toContain('VRRP_Script(chk) failed (due to signal 9)');
  });
});

describe('VrrpScriptTracker: scheduling', () => {
  it('first run at start, then on the grid start + k × interval, late wake-ups skip to the next one', () => {
    const { run, runs } = fakeRun();
    const sch = fakeScheduler();
    const t = new VrrpScriptTracker(model({ intervalS: 2, timeoutS: 2 }), { scheduler: sch.s, log: fakeLog().log, run, uid: 65534, gid: 65534, clock: () => 1_000_000 });
    t.start();
    expect(runs.length).toBe(1);
    expect(runs[0]!.spec).toMatchObject({ argv: ['/etc/keepalived/chk.sh'], uid: 65534, gid: 65534, timeoutMs: 2000 });
    expect(sch.sets).toEqual([3_000_000]);
    runs[0]!.finish({ exitCode: 0 });
    t.onTimer(3_000_400);
    expect(sch.sets.at(-1)).toBe(5_000_000);
    t.onTimer(10_500_000); // 5.5 s late: next deadline 11 s, not 7 s
    expect(sch.sets.at(-1)).toBe(11_000_000);
  });

  it('at most one run in flight: due runs are skipped, counted, logged at most once a minute', async () => {
    const { run, runs } = fakeRun();
    const sch = fakeScheduler();
    const { log, lines } = fakeLog();
    const t = new VrrpScriptTracker(model(), { scheduler: sch.s, log, run, uid: 0, gid: 0, clock: () => 0 });
    t.start();
    for (let s = 1; s <= 5; s++) t.onTimer(s * 1_000_000);
    expect(runs.length).toBe(1);
    expect(t.status().skipped).toBe(5);
    expect(lines.filter((l) => l.level === 'warn').length).toBe(1);
    t.onTimer(61_000_000);
    const warns = lines.filter((l) => l.level === 'warn');
    expect(warns.length).toBe(2);
    expect(warns[1]!.o).toMatchObject({ skipped: 5, total: 6 });
    runs[0]!.finish({ exitCode: 0 });
    await tick();
    t.onTimer(62_000_000);
    expect(runs.length).toBe(2);
    expect(t.status()).toMatchObject({ runs: 2, skipped: 6 });
  });

  it('disabled: never runs, says why; its level stays the initial one', () => {
    const { run, runs } = fakeRun();
    const sch = fakeScheduler();
    const t = new VrrpScriptTracker(model({ initFail: true }), { scheduler: sch.s, log: fakeLog().log, run, uid: 0, gid: 0, disabled: '/x is writable by everyone' });
    t.start();
    t.onTimer(5_000_000);
    expect(runs.length).toBe(0);
    expect(sch.sets).toEqual([]);
    expect(t.status()).toMatchObject({ state: 'disabled', disabled: '/x is writable by everyone', runs: 0, level: { kind: 'bool', up: false } });
  });

  it('stop(): the run in flight is cancelled, its outcome ignored, no more runs', async () => {
    const { run, runs } = fakeRun();
    const sch = fakeScheduler();
    const t = new VrrpScriptTracker(model(), { scheduler: sch.s, log: fakeLog().log, run, uid: 0, gid: 0, clock: () => 0 });
    const changes: TrackerLevel[] = [];
    t.onChange = (l) => changes.push(l);
    t.start();
    const stopped = t.stop();
    expect(runs[0]!.cancelled).toBe(true);
    expect(sch.cleared).toBe(2);
    runs[0]!.finish({ signal: 'SIGTERM', cancelled: true });
    await stopped;
    t.onTimer(1_000_000);
    expect(runs.length).toBe(1);
    expect(changes).toEqual([]);
    expect(t.level()).toEqual({ kind: 'bool', up: null });
  });
});

describe('VrrpScriptTracker with real processes and the real Scheduler', () => {
  let dir = '';
  const sched = new Scheduler();
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vipd-vscript-'));
  });
  afterAll(async () => {
    sched.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('a script that fails, then succeeds (a flag file), moves the level; a hung one times out', async () => {
    const flag = join(dir, 'up');
    const p = join(dir, 'chk.sh');
    await writeFile(p, `#!/bin/sh\ntest -e ${flag}\n`);
    await chmod(p, 0o755);
    const changes: (boolean | null)[] = [];
    const t = new VrrpScriptTracker(model({ script: [p] }), { scheduler: sched, log: fakeLog().log, uid: 0, gid: 0, intervalUs: 100_000 });
    t.onChange = (l) => changes.push(l.kind === 'bool' ? l.up : null);
    const until = async (f: () => boolean, ms = 5000) => {
      const end = Date.now() + ms;
      while (!f() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
      return f();
    };
    t.start();
    expect(await until(() => changes.length === 1)).toBe(true);
    expect(changes).toEqual([false]);
    await writeFile(flag, '');
    expect(await until(() => changes.length === 2)).toBe(true);
    expect(changes).toEqual([false, true]);
    expect(t.status()).toMatchObject({ state: 'ok', lastExit: 0, lastResult: 'exit' });
    await t.stop();

    const hung = join(dir, 'hung.sh');
    await writeFile(hung, `#!/bin/sh\necho $$ > ${dir}/hung.pid\nwhile :; do sleep 1; done\n`);
    await chmod(hung, 0o755);
    const h = new VrrpScriptTracker(model({ script: [hung], timeoutS: 1 }), { scheduler: sched, log: fakeLog().log, uid: 0, gid: 0, intervalUs: 300_000 });
    h.start();
    expect(await until(() => h.status().timeouts === 1, 6000)).toBe(true);
    expect(h.status()).toMatchObject({ state: 'failed', lastResult: 'timeout' });
    expect(h.status().skipped).toBeGreaterThanOrEqual(2); // runs due during the hung one
    const pid = Number(await readFile(join(dir, 'hung.pid'), 'utf8'));
    await h.stop();
    const st = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null);
    expect(st === null || /^\S+ \(.*\) Z/.test(st)).toBe(true); // gone (or a zombie not yet reaped by init)
  });
});
