/**
 * A master and its backup stopped together (a paused VM: in this lab both run on one host)
 * and the backup resumed first: its Master_Down timer is judged long after it fell due, and
 * the master has not had a chance to send. vipd gives such a late timer one more master
 * interval (src/core/instance.ts, timerFired); without it the backup took over at once and
 * the two fought for a moment each time.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labConfig } from '../../src/lab/conf.js';
import { NetnsLab } from '../../src/lab/netns.js';
import { routerPair, teardown, type VipdProcess } from '../helpers/vipd.js';

const lab = new NetnsLab('vt', 'p');
const dir = mkdtempSync(join(tmpdir(), 'vipd-paused-'));
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const inst = (priority: number) => [{ vrid: 61, priority, advertInt: 0.02, version: 3 as const, vips: ['192.0.2.61/32'] }];
let r1: VipdProcess;
let r2: VipdProcess;

beforeAll(() => {
  ({ r1, r2 } = routerPair(lab, dir, (r, p) => labConfig(r, inst(p))));
});

afterAll(() => teardown(lab, dir, [r2, r1]));

describe('a backup paused together with its master', () => {
  it('resumed 3 ms before the master, it hears the master within the interval it waits: no takeover in ten pauses', async () => {
    r1.start();
    await r1.waitState('MASTER');
    r2.start();
    await r2.waitState('BACKUP');
    await sleep(300);
    for (let i = 0; i < 10; i++) {
      r1.signal('SIGSTOP');
      r2.signal('SIGSTOP');
      await sleep(150); // > Master_Down_Interval (72 ms)
      r2.signal('SIGCONT');
      await sleep(3);
      r1.signal('SIGCONT');
      await sleep(200);
    }
    expect(r2.lines.filter((l) => l.to).map((l) => l.to)).toEqual(['BACKUP']);
    expect(r1.lines.filter((l) => l.to).map((l) => l.to)).toEqual(['BACKUP', 'MASTER']);
  }, 30_000);
});
