/**
 * track_file in the daemon (issue #18), vipd and keepalived 2.2.7 side by side: vipd on r1,
 * keepalived on r2, each master of its own VRIDs and tracking the same files (the namespaces
 * share the file system), so one write reaches both and the sniffer in the client namespace
 * compares the priorities they advertise (keepalived trackers/track_file.c
 * update_track_file_status, vrrp_track.c initialise_vrrp_file_tracking_priorities):
 * - default weight 1: the file's number is added to the priority (30 → 130, -30 → 70);
 *   `weight 2 reverse` subtracts twice the number (10 → 80, -10 → 120);
 * - weight 0: a non-zero value puts the instance in FAULT and the VIP moves to the backup;
 *   0 again, the instance leaves FAULT and takes the VIP back (preempt);
 * - `init_file 5` creates a missing file with 5 at start; `init_file 7 overwrite` rewrites an
 *   existing one (track_file.c track_file_end_handler); the first adverts carry the value;
 * - a file whose directory does not exist: the tracker is dropped (track_file.c
 *   init_track_files: "Track file directory for NAME does not exist - removing"), vipd says
 *   so at error level with the path, and the instance runs without it.
 * Before issue #18 the daemon parsed track_file but ran no tracker: every priority here stayed
 * at 100, nothing went to FAULT and nothing was logged, so each test fails on that code.
 */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { LabInstance } from '../../src/lab/conf.js';
import { NetnsLab } from '../../src/lab/netns.js';
import { expectHolders } from '../helpers/holders.js';
import { LabDaemons } from '../helpers/lab-daemons.js';
import { Sniffer } from '../helpers/sniffer.js';
import { requireTool } from '../helpers/tools.js';
import { teardown } from '../helpers/vipd.js';

const lab = new NetnsLab('vt', 'tf');
let dir = '';
const daemons = new LabDaemons(lab, () => dir, (n) => `${lab.prefix}-${n}`);
const vipd = daemons.vipd.bind(daemons);
const keepalived = daemons.keepalived.bind(daemons);
let sniff: Sniffer;
const VIPD_SRC = '192.0.2.1'; // r1
const KA_SRC = '192.0.2.2'; // r2

/**
 * An instance (priority 100 unless given) with VIP 192.0.2.VRID, tracking `tracks` (`NAME [weight N [reverse]]`).
 * 0.2 s adverts (VRRPv3, keepalived too): a new priority is on the wire within 0.2 s of the
 * write and Master_Down_Interval is 0.72 s; nothing here times 1 s behaviour.
 */
function solo(vrid: number, tracks: string[], priority = 100): LabInstance {
  const extra = tracks.length ? ['track_file {', ...tracks.map((t) => `    ${t}`), '}'] : [];
  return { vrid, priority, advertInt: 0.2, version: 3, vips: [`192.0.2.${vrid}/24`], extra };
}
/** A `track_file NAME { … }` block. */
function block(name: string, file: string, lines: string[] = []): string[] {
  return [`track_file ${name} {`, `    file "${file}"`, ...lines.map((l) => `    ${l}`), '}', ''];
}
/** Wait for an advert from `src` on `vrid` at `prio`, captured after `from` (sniffer time). */
function advertised(src: string, vrid: number, prio: number, from: number, timeoutMs = 8000): Promise<unknown> {
  return sniff.waitFor((l) => l.type === 'vrrp' && l.vrid === vrid && l.src === src && l.priority === prio, timeoutMs, `${src} advertising ${prio} on VRID ${vrid}`, from);
}
/** Write `value` to `file`, then wait until both implementations advertise `prio` on their VRID. */
async function writeAndSee(file: string, value: string, vipdVrid: number, kaVrid: number, prio: number): Promise<void> {
  const from = sniff.mark;
  writeFileSync(file, `${value}\n`);
  await Promise.all([advertised(VIPD_SRC, vipdVrid, prio, from), advertised(KA_SRC, kaVrid, prio, from)]);
}

beforeAll(() => {
  NetnsLab.requireRoot();
  requireTool('keepalived');
  NetnsLab.cleanStale();
  dir = mkdtempSync(join(tmpdir(), 'vipd-trackfile-'));
  lab.build([{ name: 'r1', n: 1 }, { name: 'r2', n: 2 }, { name: 'client', n: 100 }]);
  sniff = new Sniffer(lab, 'client');
});
afterEach(async () => {
  await Promise.all(daemons.kas.map((k) => k.stop())); // keepalived takes ~1 s to stop: all at once, then the rest
  await daemons.stopAll();
});
afterAll(async () => {
  await sniff?.stop();
  await teardown(lab, dir, []);
});

describe('track_file (issue #18)', () => {
  it('the value times the weight on the wire: default weight 1 (30 → 130, -30 → 70), weight 2 reverse (10 → 80); keepalived advertises the same', async () => {
    const plain = join(dir, 'plain');
    const rev = join(dir, 'rev');
    writeFileSync(plain, '0\n');
    writeFileSync(rev, '0\n');
    const blocks = [...block('plain', plain), ...block('rev', rev, ['weight 2 reverse'])];
    const d = vipd('r1', [solo(101, ['plain']), solo(102, ['rev'])], blocks);
    await keepalived('r2', [solo(111, ['plain']), solo(112, ['rev'])], blocks);
    const start = sniff.mark;
    await Promise.all([
      advertised(VIPD_SRC, 101, 100, start, 15_000), advertised(VIPD_SRC, 102, 100, start, 15_000),
      advertised(KA_SRC, 111, 100, start, 15_000), advertised(KA_SRC, 112, 100, start, 15_000),
    ]);
    await writeAndSee(plain, '30', 101, 111, 130);
    expect(d.lines.some((l) => l.msg === '(VI_101) Changing effective priority from 100 to 130')).toBe(true);
    await writeAndSee(plain, '-30', 101, 111, 70);
    await writeAndSee(rev, '10', 102, 112, 80);
    await writeAndSee(rev, '-10', 102, 112, 120);
    // the other file's instances did not move meanwhile
    const from = sniff.mark;
    await Promise.all([advertised(VIPD_SRC, 101, 70, from), advertised(KA_SRC, 111, 70, from)]);
  }, 90_000);

  it('weight 0: a non-zero value puts r1 in FAULT and the VIP moves to r2; 0 again, r1 takes it back (preempt), as keepalived', async () => {
    const flag = join(dir, 'fault');
    writeFileSync(flag, '0\n');
    const blocks = block('down', flag, ['weight 0']);
    const v2 = vipd('r2', [solo(103, [])], []);
    const v1 = vipd('r1', [solo(103, ['down'], 150)], blocks);
    const k2 = await keepalived('r2', [solo(113, [])], []);
    const k1 = await keepalived('r1', [solo(113, ['down'], 150)], blocks);
    await Promise.all([v1.waitState('MASTER', 15_000), k1.waitState('MASTER', 15_000)]);
    await Promise.all([v2.waitState('BACKUP', 10_000), k2.waitState('BACKUP', 10_000)]);
    await expectHolders(lab, ['r1', 'r2'], '192.0.2.103/24', ['r1']);
    await expectHolders(lab, ['r1', 'r2'], '192.0.2.113/24', ['r1']);
    for (const p of [v1, v2, k1, k2]) p.setMark();
    writeFileSync(flag, '1\n');
    const wrote = Date.now();
    await Promise.all([v1.waitState('FAULT', 5000), k1.waitState('FAULT', 5000)]);
    await Promise.all([v2.waitState('MASTER', 8000), k2.waitState('MASTER', 8000)]);
    const movedMs = Date.now() - wrote;
    await expectHolders(lab, ['r1', 'r2'], '192.0.2.103/24', ['r2']);
    await expectHolders(lab, ['r1', 'r2'], '192.0.2.113/24', ['r2']);
    const fault = v1.lines.slice(v1.mark).find((l) => l.to === 'FAULT');
    expect(fault?.reason).toMatch(/file:down/);
    for (const p of [v1, v2, k1, k2]) p.setMark();
    writeFileSync(flag, '0\n');
    await Promise.all([v1.waitState('MASTER', 10_000), k1.waitState('MASTER', 10_000)]);
    await Promise.all([v2.waitState('BACKUP', 5000), k2.waitState('BACKUP', 5000)]);
    await expectHolders(lab, ['r1', 'r2'], '192.0.2.103/24', ['r1']);
    await expectHolders(lab, ['r1', 'r2'], '192.0.2.113/24', ['r1']);
    console.log(`track_file weight 0: value 1 written, r2 MASTER ${movedMs} ms later (both implementations)`);
  }, 90_000);

  it('init_file 5 creates the missing file with 5; init_file 7 overwrite rewrites an existing file; the first adverts carry them, as keepalived', async () => {
    const files = (who: string): { five: string; seven: string } => ({ five: join(dir, `init5-${who}`), seven: join(dir, `init7-${who}`) });
    const blocks = (who: string): string[] => [...block('init5', files(who).five, ['init_file 5']), ...block('init7', files(who).seven, ['init_file 7 overwrite'])];
    for (const who of ['vipd', 'ka']) {
      expect(existsSync(files(who).five)).toBe(false);
      writeFileSync(files(who).seven, '40\n'); // without init_file: 140 on the wire
    }
    const start = sniff.mark;
    vipd('r1', [solo(104, ['init5']), solo(105, ['init7'])], blocks('vipd'));
    await keepalived('r2', [solo(114, ['init5']), solo(115, ['init7'])], blocks('ka'));
    await Promise.all([
      advertised(VIPD_SRC, 104, 105, start, 15_000), advertised(VIPD_SRC, 105, 107, start, 15_000),
      advertised(KA_SRC, 114, 105, start, 15_000), advertised(KA_SRC, 115, 107, start, 15_000),
    ]);
    for (const who of ['vipd', 'ka']) {
      expect(readFileSync(files(who).five, 'utf8'), `${who}: init_file 5`).toBe('5\n');
      expect(readFileSync(files(who).seven, 'utf8'), `${who}: init_file 7 overwrite`).toBe('7\n');
    }
    // no other priority was ever advertised on these VRIDs (the first value was the file's)
    const seen = (src: string, vrid: number): number[] => [...new Set(sniff.adverts(vrid, start).filter((l) => l.src === src).map((l) => l.priority!))];
    expect([seen(VIPD_SRC, 104), seen(VIPD_SRC, 105), seen(KA_SRC, 114), seen(KA_SRC, 115)]).toEqual([[105], [107], [105], [107]]);
  }, 60_000);

  it('a track_file whose directory does not exist: vipd logs an error with the path and runs the instance without it, as keepalived', async () => {
    const missing = join(dir, 'no-such-dir', 'value');
    // weight 0 reverse: FAULT while the value is 0, so a kept tracker (a missing file reads 0) would hold the instance in FAULT
    const blocks = block('gone', missing, ['weight 0 reverse']);
    const d = vipd('r1', [solo(106, ['gone'])], blocks);
    const k = await keepalived('r2', [solo(116, ['gone'])], blocks);
    const err = await d.waitFor((l) => l.level >= 50 && l.msg.includes('track_file gone'), 10_000, 'the error about track_file gone');
    expect(err.msg).toContain(missing);
    expect(err.msg).toMatch(/does not exist/);
    await Promise.all([d.waitState('MASTER', 15_000), k.waitState('MASTER', 15_000)]);
    const from = sniff.mark;
    await Promise.all([advertised(VIPD_SRC, 106, 100, from), advertised(KA_SRC, 116, 100, from)]);
    expect(d.lines.some((l) => l.to === 'FAULT')).toBe(false);
    expect(k.state).toBe('MASTER');
    expect(k.log).toMatch(/Track file directory for gone does not exist - removing/);
    expect(k.log).not.toMatch(/Entering FAULT STATE/);
  }, 60_000);
});
