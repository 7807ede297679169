/**
 * A backup held off the CPU (SIGSTOP) while 250 masters keep advertising every 10 ms: the
 * adverts that arrive meanwhile must wait in its socket and count when it runs again, before
 * its Master_Down timers are judged. Before the receive queue was sized and read to the end
 * ahead of the timers, the kernel dropped most of a 150 ms backlog and the backup took over
 * hundreds of VRIDs by mistake.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labConfig } from '../../src/lab/conf.js';
import { NetnsLab } from '../../src/lab/netns.js';
import { VipdProcess } from '../helpers/vipd.js';

const N = 250;
const lab = new NetnsLab('vt', 'b');
const dir = mkdtempSync(join(tmpdir(), 'vipd-backlog-'));
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const insts = (priority: number) =>
  Array.from({ length: N }, (_, k) => ({ name: `VI_${k + 1}`, vrid: k + 1, priority, advertInt: 0.01, version: 3 as const, vips: [`198.51.100.${k + 1}/32`] }));
let r1: VipdProcess;
let r2: VipdProcess;

beforeAll(() => {
  NetnsLab.requireRoot();
  NetnsLab.cleanStale();
  lab.build([{ name: 'r1', n: 1 }, { name: 'r2', n: 2 }]);
  r1 = new VipdProcess(lab, 'r1', dir, labConfig('r1', insts(150), ['vrrp_version 3']));
  r2 = new VipdProcess(lab, 'r2', dir, labConfig('r2', insts(100), ['vrrp_version 3']));
});

afterAll(async () => {
  r2?.signal('SIGCONT');
  await r2?.stop();
  await r1?.stop();
  lab.destroy();
  rmSync(dir, { recursive: true, force: true });
});

describe('a backup that was off the CPU', () => {
  it('counts the adverts that arrived meanwhile: no takeover after five 150 ms stops', async () => {
    r1.start();
    await r1.waitFor(() => r1.lines.filter((l) => l.to === 'MASTER').length === N, 15_000, `${N} masters on r1`);
    r2.start();
    await r2.waitFor(() => r2.lines.filter((l) => l.to === 'BACKUP').length === N, 15_000, `${N} backups on r2`);
    await sleep(500);
    const before = r2.lines.filter((l) => l.to).length;
    expect(before).toBe(N); // INIT -> BACKUP only
    for (let i = 0; i < 5; i++) {
      r2.signal('SIGSTOP');
      await sleep(150); // > Master_Down_Interval (36 ms): 3750 adverts queue up meanwhile
      r2.signal('SIGCONT');
      await sleep(400);
    }
    const taken = r2.lines.filter((l) => l.to === 'MASTER').length;
    expect(taken).toBe(0);
    expect(r2.lines.filter((l) => l.to).length).toBe(before);
  });
});
