/**
 * vrrp_track_process in the daemon (issue #18): r1 (150) tracks a process (quorum 1, weight
 * 0) and r2 (100) backs it up. vipd is started from this (the initial) namespace with
 * `--namespace`, as keepalived needs `-s` / net_namespace for track_process: it opens the
 * kernel's process connector before entering the lab namespace. Killing the tracked process
 * puts r1 in FAULT and the VIP moves to r2; starting it again brings the VIP back (preempt).
 * Started inside the namespace (`ip netns exec`), vipd refuses the file, with file:line and
 * what to do, before touching anything.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { labConfig, type LabInstance } from '../../src/lab/conf.js';
import { NetnsLab } from '../../src/lab/netns.js';
import { expectHolders } from '../helpers/holders.js';
import { runCliIn, teardown, VipdProcess } from '../helpers/vipd.js';

const lab = new NetnsLab('vt', 'tp');
let dir = '';
let vipds: VipdProcess[] = [];
let tracked: ChildProcess[] = [];
let procName = '';
let procPath = '';

const blocks = (): string[] => ['vrrp_track_process app {', `    process ${procName}`, '    quorum 1', '    weight 0', '}', ''];
const inst = (priority: number, track: boolean): LabInstance => ({
  vrid: 96, priority, advertInt: 1, version: 3, vips: ['192.0.2.196/24'], extra: track ? ['track_process {', '    app', '}'] : [],
});
function startTracked(): ChildProcess {
  const p = spawn(procPath, ['600'], { stdio: 'ignore' });
  tracked.push(p);
  return p;
}

beforeAll(() => {
  NetnsLab.requireRoot();
  NetnsLab.cleanStale();
  dir = mkdtempSync(join(tmpdir(), 'vipd-trackproc-'));
  procName = `vtp${process.pid % 100000}app`; // within comm's 15 characters
  procPath = join(dir, procName);
  copyFileSync('/bin/sleep', procPath);
  lab.build([{ name: 'r1', n: 1 }, { name: 'r2', n: 2 }]);
});
afterEach(async () => {
  for (const p of vipds) await p.stop();
  vipds = [];
  for (const p of tracked) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  tracked = [];
});
afterAll(async () => {
  await teardown(lab, dir, []);
});

describe('vrrp_track_process in the daemon (issue #18)', () => {
  it('killing the tracked process moves the VIP to the backup; starting it again brings it back', async () => {
    let app = startTracked();
    const r2 = new VipdProcess(lab, 'r2', dir, labConfig('r2', [inst(100, false)]));
    vipds.push(r2);
    r2.start();
    const r1 = new VipdProcess(lab, 'r1', dir, labConfig('r1', [inst(150, true)], [], blocks()));
    r1.outside = true; // --namespace: vipd opens the process connector before it enters the namespace
    vipds.push(r1);
    r1.start();
    await r1.waitState('MASTER', 15_000);
    await expectHolders(lab, ['r1', 'r2'], '192.0.2.196/24', ['r1']);
    // a reload keeps the connector the parent passed (it cannot be opened again in here)
    r1.signal('SIGHUP');
    await r1.waitFor((l) => l.msg === 'configuration reloaded' || /reload/.test(l.msg) && l.level >= 50, 5000, 'the reload');
    expect(r1.lines.filter((l) => l.level >= 50)).toEqual([]);
    r1.setMark();
    r2.setMark();
    app.kill('SIGKILL');
    const killed = Date.now();
    await r1.waitState('FAULT', 5000);
    await r2.waitState('MASTER', 5000);
    const movedMs = Date.now() - killed;
    await expectHolders(lab, ['r1', 'r2'], '192.0.2.196/24', ['r2']);
    expect(r1.lines.some((l) => l.msg.includes('Quorum lost for tracked process app'))).toBe(true);
    expect(movedMs).toBeLessThan(3000); // no polling: the exit event, then Skew_Time after r1's priority 0
    r1.setMark();
    app = startTracked();
    await r1.waitState('MASTER', 10_000);
    await expectHolders(lab, ['r1', 'r2'], '192.0.2.196/24', ['r1']);
    console.log(`track_process: tracked process killed, VIP on the backup ${movedMs} ms later`);
  }, 60_000);

  it('started inside the namespace, vipd refuses a configuration that tracks processes, with file:line and what to do', async () => {
    const p = new VipdProcess(lab, 'r1', dir, labConfig('r1', [inst(150, true)], [], blocks()), 'inside');
    const r = await runCliIn(lab, 'r1', 'vipd', ['run', '-f', p.conf, '--control-socket', join(dir, 'inside.sock')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/vipd-inside\.conf:\d+: vrrp_track_process app: /);
    expect(r.stderr).toMatch(/--namespace|net_namespace/);
    expect(lab.addresses('r1')).not.toContain('192.0.2.196/24');
  }, 30_000);
});
