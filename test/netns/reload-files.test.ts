/**
 * keepalived's reload files (global_defs, issue #21) on a vipd in a lab namespace:
 * reload_time_file reloads at the time written in it and deletes it (kept with reload_repeat,
 * then scheduled for the same time tomorrow); reload_file is truncated when a reload starts
 * reading and gone once it has read; reload_check_config LOG_FILE receives the file:line
 * error of an invalid configuration on SIGHUP, and "valid" for a valid one.
 */
import { watch, type FSWatcher } from 'node:fs';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatReloadTime } from '../../src/daemon/reload-time.js';
import { labConfig, type LabInstance } from '../../src/lab/conf.js';
import { NetnsLab } from '../../src/lab/netns.js';
import { teardown, VipdProcess, type LogLine } from '../helpers/vipd.js';

const lab = new NetnsLab('vt', 'rf');
let dir = '';
let r1: VipdProcess;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const inst = (priority: number): LabInstance => ({ vrid: 61, priority, advertInt: 0.5, version: 3, vips: ['192.0.2.61/24'] });
const files = (): { time: string; reloading: string; check: string } => ({ time: join(dir, 'rt', 'reload.time'), reloading: join(dir, 'reloading'), check: join(dir, 'check.log') });
const conf = (priority: number, repeat = false): string => {
  const f = files();
  return labConfig('r1', [inst(priority)], [`reload_time_file ${f.time}`, ...(repeat ? ['reload_repeat'] : []), `reload_file ${f.reloading}`, `reload_check_config ${f.check}`]);
};
/** The next reloaded line after index `from`, and when the test saw it (ms). */
async function reloaded(from: number, timeoutMs: number): Promise<{ line: LogLine; seenAt: number }> {
  const line = await r1.waitFor((l) => r1.lines.indexOf(l) >= from && l.msg === 'configuration reloaded', timeoutMs, 'configuration reloaded');
  return { line, seenAt: Date.now() };
}
/** A whole second 2 to 3 s from now (the file's resolution is a second). */
const twoSecondsAhead = (): number => Math.ceil((Date.now() + 2000) / 1000) * 1000;

beforeAll(async () => {
  NetnsLab.requireRoot();
  NetnsLab.cleanStale();
  dir = mkdtempSync(join(tmpdir(), 'vipd-reload-files-'));
  mkdirSync(join(dir, 'rt'));
  lab.build([{ name: 'r1', n: 1 }]);
  r1 = new VipdProcess(lab, 'r1', dir, conf(150));
  r1.start();
  await r1.waitState('MASTER', 15_000);
}, 30_000);
afterAll(async () => {
  await teardown(lab, dir, [r1]);
});

describe('reload_time_file, reload_repeat, reload_file, reload_check_config', () => {
  it('a time 2 s ahead written into reload_time_file reloads then (priority 150 -> 140 in place); the file is deleted', async () => {
    const from = r1.lines.length;
    r1.rewrite(conf(140));
    const at = twoSecondsAhead();
    writeFileSync(files().time, `${formatReloadTime(at).slice(11)}\n`);
    await r1.waitFor((l) => r1.lines.indexOf(l) >= from && l.msg === `Scheduling reload for ${formatReloadTime(at)}`, 2000, 'the reload scheduled');
    const { line, seenAt } = await reloaded(from, 6000);
    expect(seenAt).toBeGreaterThanOrEqual(at);
    expect(seenAt - at).toBeLessThan(2000);
    expect(line).toMatchObject({ inPlace: ['VI_61'], restarted: [], changes: { VI_61: ['priority 150 -> 140'] } });
    expect(existsSync(files().time)).toBe(false);
    expect(r1.state).toBe('MASTER');
  }, 15_000);

  it('with reload_repeat the time-only file stays and the next reload is the same time tomorrow', async () => {
    r1.rewrite(conf(130, true));
    r1.signal('SIGHUP'); // the running configuration decides: reload_repeat must be in it first
    await reloaded(r1.lines.length, 5000);
    const from = r1.lines.length;
    r1.rewrite(conf(120, true));
    const at = twoSecondsAhead();
    const hms = formatReloadTime(at).slice(11);
    writeFileSync(files().time, `${hms}\n`);
    const { line, seenAt } = await reloaded(from, 6000);
    expect(seenAt).toBeGreaterThanOrEqual(at);
    expect(line).toMatchObject({ inPlace: ['VI_61'], changes: { VI_61: ['priority 130 -> 120'] } });
    await r1.waitFor((l) => r1.lines.indexOf(l) >= from && l.msg === `Scheduling reload for ${formatReloadTime(at + 86_400_000)}`, 2000, 'tomorrow scheduled');
    expect(readFileSync(files().time, 'utf8')).toBe(`${hms}\n`);
  }, 15_000);

  it('reload_file, touched by an update process: truncated as the reload reads, gone once it has read', async () => {
    const f = files().reloading;
    writeFileSync(f, 'updating\n');
    const events: string[] = [];
    const w: FSWatcher = watch(dir, (type, name) => name === 'reloading' && events.push(type));
    try {
      await sleep(50);
      r1.rewrite(conf(110, true));
      const from = r1.lines.length;
      r1.signal('SIGHUP');
      const { line } = await reloaded(from, 5000);
      expect(line).toMatchObject({ changes: { VI_61: ['priority 120 -> 110'] } });
      await sleep(100);
      expect(existsSync(f)).toBe(false);
      expect(events[0]).toBe('change'); // the truncation (IN_MODIFY) came before the removal
      expect(events.at(-1)).toBe('rename');
    } finally {
      w.close();
    }
  }, 10_000);

  it('reload_check_config LOG_FILE: the file:line error of an invalid file on SIGHUP, nothing changed; then "valid"', async () => {
    const check = files().check;
    const bad = conf(300, true);
    r1.rewrite(bad);
    const line = bad.split('\n').findIndex((l) => l.includes('priority 300')) + 1;
    const from = r1.lines.length;
    r1.signal('SIGHUP');
    await r1.waitFor((l) => r1.lines.indexOf(l) >= from && l.msg === `New config failed validation, see ${check} for details`, 5000, 'the failed check');
    expect(readFileSync(check, 'utf8')).toMatch(new RegExp(`^${r1.conf.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:${line}:\\d+: .*priority`, 'm'));
    expect(r1.lines.slice(from).some((l) => l.msg === 'configuration reloaded')).toBe(false);
    r1.rewrite(conf(110, true));
    const again = r1.lines.length;
    r1.signal('SIGHUP');
    await reloaded(again, 5000);
    await sleep(100);
    expect(readFileSync(check, 'utf8')).toBe(`vipd: ${r1.conf}: the configuration is valid\n`);
  }, 10_000);
});
