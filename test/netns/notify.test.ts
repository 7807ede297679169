/**
 * Notify scripts and the notify FIFO in the daemon (issue #19), vipd and keepalived 2.2.7 side
 * by side on the same two routers with the same file (vipd on VRID 91, keepalived on VRID 92,
 * both instances named VI_1): every call a router's scripts get is recorded with its
 * arguments, and the two implementations' records are compared, one failover sequence for
 * both at once (start, kill -9 of the master, restart, SIGTERM).
 */
import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { labConfig } from '../../src/lab/conf.js';
import { NetnsLab } from '../../src/lab/netns.js';
import { expectHolders } from '../helpers/holders.js';
import { LabDaemons } from '../helpers/lab-daemons.js';
import { requireTool } from '../helpers/tools.js';
import { teardown } from '../helpers/vipd.js';

const lab = new NetnsLab('vt', 'nt');
let dir = '';
const daemons = new LabDaemons(lab, () => dir);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
/** 0.2 s adverts (keepalived too): each takeover that waits for Master_Down_Interval waits 0.68-0.72 s, not 1.7-1.8 s. */
const ADVERT_INT = 0.2;
/** Poll `ok` every 50 ms for at most `ms` (the assertions after it say what was missing). */
async function until(ok: () => boolean, ms: number): Promise<void> {
  for (const end = Date.now() + ms; !ok() && Date.now() < end; ) await sleep(50);
}

beforeAll(() => {
  NetnsLab.requireRoot();
  requireTool('keepalived');
  NetnsLab.cleanStale();
  dir = mkdtempSync(join(tmpdir(), 'vipd-notify-'));
  chmodSync(dir, 0o755);
  // the recorder: its first argument names the log, the rest is what it was called with
  writeFileSync(join(dir, 'rec.sh'), '#!/bin/sh\nf="$1"; shift\necho "$*" >> "$f"\n', { mode: 0o755 });
  lab.build([{ name: 'r1', n: 1 }, { name: 'r2', n: 2 }]);
});
afterEach(async () => {
  await daemons.stopAll();
});
afterAll(async () => {
  await teardown(lab, dir, []);
});

const lines = (f: string): string[] => (existsSync(f) ? readFileSync(f, 'utf8').split('\n').filter(Boolean) : []);

/** The notify lines of an instance: each script records `KIND args…` into `log`. */
function notifyLines(log: string): string[] {
  const rec = join(dir, 'rec.sh');
  return [
    ...['master', 'backup', 'fault', 'stop'].map((k) => `notify_${k} "${rec} ${log} ${k}"`),
    `notify "${rec} ${log} any"`,
  ];
}

describe('notify scripts (issue #19), compared with keepalived 2.2.7', () => {
  it('start, kill -9 of the master, restart, SIGTERM: every router records the same calls in the same order as keepalived', async () => {
    const base = { name: 'VI_1', advertInt: ADVERT_INT, version: 3 as const };
    const log = (kind: string, node: string): string => join(dir, `${kind}-${node}.log`);
    const inst = (kind: 'vipd' | 'ka', node: string, priority: number) => [{
      ...base, vrid: kind === 'vipd' ? 91 : 92, vips: [kind === 'vipd' ? '192.0.2.191/24' : '192.0.2.192/24'], priority, extra: notifyLines(log(kind, node)),
    }];
    const v2 = daemons.vipd('r2', inst('vipd', 'r2', 100));
    const k2 = await daemons.keepalived('r2', inst('ka', 'r2', 100));
    await Promise.all([v2.waitState('MASTER', 8000), k2.waitState('MASTER', 8000)]);
    for (const p of [v2, k2]) p.setMark();
    let v1 = daemons.vipd('r1', inst('vipd', 'r1', 150));
    let k1 = await daemons.keepalived('r1', inst('ka', 'r1', 150));
    await Promise.all([v1.waitState('MASTER', 8000), k1.waitState('MASTER', 8000), v2.waitState('BACKUP', 8000), k2.waitState('BACKUP', 8000)]);
    await expectHolders(lab, ['r1', 'r2'], '192.0.2.191/24', ['r1']);

    // kill -9 of both masters: r2 takes over, no STOP from r1
    for (const p of [v2, k2]) p.setMark();
    v1.signal('SIGKILL');
    await k1.crash();
    await Promise.all([v2.waitState('MASTER', 8000), k2.waitState('MASTER', 8000)]);
    // restart r1: it preempts
    for (const p of [v2, k2]) p.setMark();
    v1 = daemons.vipd('r1', inst('vipd', 'r1', 150));
    k1 = await daemons.keepalived('r1', inst('ka', 'r1', 150));
    await Promise.all([v1.waitState('MASTER', 8000), k1.waitState('MASTER', 8000), v2.waitState('BACKUP', 8000), k2.waitState('BACKUP', 8000)]);
    // SIGTERM of r1 then r2
    for (const p of [v2, k2]) p.setMark();
    await Promise.all([v1.stop(), k1.stop()]);
    await Promise.all([v2.waitState('MASTER', 8000), k2.waitState('MASTER', 8000)]);
    await Promise.all([v2.stop(), k2.stop()]);
    await sleep(300); // the last scripts write

    // keepalived forks notify_STATE and `notify` together: their relative order is not
    // defined; each script's own sequence is
    const split = (l: string[]) => ({ own: l.filter((x) => !x.startsWith('any ')), any: l.filter((x) => x.startsWith('any ')) });
    for (const node of ['r1', 'r2']) {
      const v = split(lines(log('vipd', node)));
      const k = split(lines(log('ka', node)));
      console.log(`${node}: vipd ${JSON.stringify(v)}\n${node}: keepalived ${JSON.stringify(k)}`);
      expect(v).toEqual(k);
    }
    // and what they are, so that the two cannot agree on nothing
    expect(split(lines(log('vipd', 'r1'))).any).toEqual([
      'any INSTANCE VI_1 BACKUP 150', 'any INSTANCE VI_1 MASTER 150', 'any INSTANCE VI_1 BACKUP 150', 'any INSTANCE VI_1 MASTER 150', 'any INSTANCE VI_1 STOP 150',
    ]);
    expect(split(lines(log('vipd', 'r2'))).own).toEqual(['backup', 'master', 'backup', 'master', 'backup', 'master', 'stop']);
    // vipd logs each run and shows it in vipctl watch (the event is logged with its exit code and duration)
    const run = v1.lines.find((l) => l.script === 'notify_master' && l.exitCode === 0);
    expect(run?.durationMs).toBeTypeOf('number');
  }, 90_000);

  it('a weight-0 vrrp_script not run yet at start: no FAULT notify, for the instance and its sync group, as keepalived (FAULT STATE (init))', async () => {
    const log = (kind: string): string => join(dir, `init-${kind}.log`);
    writeFileSync(join(dir, 'ok.sh'), '#!/bin/sh\nexit 0\n', { mode: 0o755 });
    const script = ['vrrp_script chk {', `    script "${join(dir, 'ok.sh')}"`, '    interval 1', '}', ''];
    const inst = (kind: 'vipd' | 'ka') => ['A', 'B'].map((n, i) => ({
      name: `VI_${n}`, advertInt: ADVERT_INT, version: 3 as const, vrid: (kind === 'vipd' ? 81 : 83) + i, priority: 150, vips: [`192.0.2.${(kind === 'vipd' ? 181 : 183) + i}/24`],
      extra: ['track_script {', '    chk', '}', `notify "${join(dir, 'rec.sh')} ${log(kind)} any"`],
    }));
    const group = (kind: string) => ['vrrp_sync_group G {', '    group {', '        VI_A', '        VI_B', '    }', `    notify "${join(dir, 'rec.sh')} ${log(kind)} group"`, '}', ''];
    const v = daemons.vipd('r1', inst('vipd'), [...script, ...group('vipd')]);
    const k = await daemons.keepalived('r1', inst('ka'), [...script, ...group('ka')]);
    await Promise.all([v.waitState('MASTER', 8000), k.waitState('MASTER', 8000)]);
    await sleep(500);
    const norm = (l: string[]) => l.slice().sort();
    console.log(`vipd ${JSON.stringify(lines(log('vipd')))}\nkeepalived ${JSON.stringify(lines(log('ka')))}`);
    expect(lines(log('vipd')).some((l) => l.includes('FAULT'))).toBe(false);
    expect(norm(lines(log('vipd')))).toEqual(norm(lines(log('ka'))));
    // and what they are, so that the two cannot agree on nothing: BACKUP then MASTER, no FAULT
    for (const l of ['any INSTANCE VI_A BACKUP 150', 'any INSTANCE VI_A MASTER 150', 'any INSTANCE VI_B BACKUP 150', 'any INSTANCE VI_B MASTER 150']) expect(lines(log('vipd'))).toContain(l);
    expect(lines(log('vipd')).filter((l) => l.startsWith('group ')).length).toBeGreaterThan(0);
  }, 60_000);

  it('notify_fifo: the FIFO reader (notify_fifo_script) gets keepalived\'s exact lines, instance and group', async () => {
    const fifo = (kind: string): string => join(dir, `${kind}.fifo`);
    const out = (kind: string): string => join(dir, `${kind}.fifo.log`);
    // the FIFO script gets the FIFO's path appended: it copies the lines to its log
    writeFileSync(join(dir, 'fifo-rec.sh'), '#!/bin/sh\nexec cat "$2" >> "$1"\n', { mode: 0o755 });
    const inst = (kind: 'vipd' | 'ka') => ['A', 'B'].map((n, i) => ({
      name: `VI_${n}`, advertInt: ADVERT_INT, version: 3 as const, vrid: (kind === 'vipd' ? 93 : 95) + i, priority: 150, vips: [`192.0.2.${(kind === 'vipd' ? 193 : 195) + i}/24`],
    }));
    const group = ['vrrp_sync_group G {', '    group {', '        VI_A', '        VI_B', '    }', '}', ''];
    const global = (kind: string) => [`notify_fifo ${fifo(kind)}`, `notify_fifo_script "${join(dir, 'fifo-rec.sh')} ${out(kind)}"`];
    const v = daemons.vipd('r1', inst('vipd'), group, global('vipd'));
    const k = await daemons.keepalived('r1', inst('ka'), group, global('ka'));
    await Promise.all([v.waitState('MASTER', 8000), k.waitState('MASTER', 8000)]);
    // both members and the group MASTER, on both FIFOs
    const masters = ['INSTANCE "VI_A" MASTER 150', 'INSTANCE "VI_B" MASTER 150', 'GROUP "G" MASTER 0'];
    await until(() => ['vipd', 'ka'].every((kind) => masters.every((m) => lines(out(kind)).includes(m))), 5000);
    await Promise.all([v.stop(), k.stop()]);
    await sleep(300);
    const vl = lines(out('vipd'));
    const kl = lines(out('ka'));
    console.log(`FIFO lines, vipd: ${JSON.stringify(vl)}\nkeepalived: ${JSON.stringify(kl)}`);
    expect(vl).toContain('INSTANCE "VI_A" MASTER 150');
    expect(vl).toContain('GROUP "G" MASTER 0');
    expect(vl).toContain('GROUP "G" STOP 0');
    // keepalived kills its FIFO script at shutdown as it writes the STOP lines: its reader
    // rarely gets them; vipd writes them before it stops the script. The rest is the same,
    // and both write the group's line first at start
    const noStop = (l: string[]): string[] => l.filter((x) => !x.includes(' STOP ')).sort();
    expect(noStop(vl)).toEqual(noStop(kl));
    expect(vl[0]).toBe('GROUP "G" BACKUP 0');
    expect(kl[0]).toBe('GROUP "G" BACKUP 0');
    // keepalived removes the FIFO it created; so does vipd
    expect(existsSync(fifo('vipd'))).toBe(false);
  }, 60_000);

  it('a reload that deletes instances: DELETED with notify_deleted, FAULT without (as keepalived); fifo_write_vrrp_states_on_reload writes every state', async () => {
    const rec = join(dir, 'rec.sh');
    const log = (kind: string): string => join(dir, `reload-${kind}.log`);
    const out = (kind: string): string => join(dir, `reload-${kind}.fifo.log`);
    const fifoRec = join(dir, 'fifo-rec.sh');
    writeFileSync(fifoRec, '#!/bin/sh\nexec cat "$2" >> "$1"\n', { mode: 0o755 });
    const inst = (kind: 'vipd' | 'ka', names: string[]) => names.map((n) => ({
      name: `VI_${n}`, advertInt: ADVERT_INT, version: 3 as const, vrid: (kind === 'vipd' ? 110 : 120) + n.charCodeAt(0) - 65, priority: 150,
      vips: [`198.51.100.${(kind === 'vipd' ? 110 : 120) + n.charCodeAt(0) - 65}/24`],
      extra: [`notify "${rec} ${log(kind)} any"`, ...(n === 'A' ? [`notify_deleted "${rec} ${log(kind)} deleted"`] : [])],
    }));
    const global = (kind: string) => [`notify_fifo ${join(dir, `reload-${kind}.fifo`)}`, `notify_fifo_script "${fifoRec} ${out(kind)}"`, 'fifo_write_vrrp_states_on_reload'];
    const v = daemons.vipd('r1', inst('vipd', ['A', 'B', 'C']), [], global('vipd'));
    const k = await daemons.keepalived('r1', inst('ka', ['A', 'B', 'C']), [], global('ka'));
    await Promise.all([v.waitState('MASTER', 8000), k.waitState('MASTER', 8000)]);
    // all three MASTER (their notify scripts run)
    await until(() => ['vipd', 'ka'].every((kind) => ['A', 'B', 'C'].every((n) => lines(log(kind)).includes(`any INSTANCE VI_${n} MASTER 150`))), 5000);
    v.rewrite(labConfig('r1', inst('vipd', ['C']), global('vipd')));
    k.rewrite(labConfig('r1', inst('ka', ['C']), global('ka')));
    v.signal('SIGHUP');
    k.signal('SIGHUP');
    const gone = (kind: string): string[] => lines(log(kind)).filter((l) => l === 'deleted' || (/VI_[AB]/.test(l) && !/MASTER|BACKUP/.test(l))).sort();
    const c = (kind: string): number => lines(out(kind)).filter((l) => l === 'INSTANCE "VI_C" MASTER 150').length;
    // both reloads done: the deleted instances' scripts ran, and vipd wrote VI_C's state again
    await until(() => gone('vipd').length >= 3 && gone('ka').length >= 3 && c('vipd') >= 2, 5000);
    await sleep(300); // anything else the reload writes
    await Promise.all([v.stop(), k.stop()]);
    await sleep(300);
    console.log(`reload, vipd: ${JSON.stringify(gone('vipd'))}; keepalived: ${JSON.stringify(gone('ka'))}`);
    expect(gone('vipd')).toEqual(['any INSTANCE VI_A DELETED 150', 'any INSTANCE VI_B FAULT 150', 'deleted']);
    expect(gone('vipd')).toEqual(gone('ka'));
    // after the reload, VI_C's state again on the FIFO. keepalived 2.2.7 skips an instance that
    // stays MASTER through the reload (vrrp_init_state writes only in its non-MASTER branch),
    // though the keyword promises every state; vipd writes them all
    console.log(`VI_C MASTER lines on the FIFO: vipd ${c('vipd')}, keepalived ${c('ka')}`);
    expect(c('vipd')).toBe(2);
  }, 60_000);
});
