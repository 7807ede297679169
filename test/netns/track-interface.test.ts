/**
 * track_interface in the daemon (issue #18), vipd and keepalived 2.2.7 side by side on the
 * same two routers (different VRIDs), so that one link event hits both: r1 tracks its second
 * interface eth1 (a second LAN between the routers). Weight 0: eth1 down is a FAULT and the
 * VIP moves to r2; up again, r1 takes it back (preempt). Weight -60: r1 (150) advertises 90
 * on the wire and loses the election to r2 (100) through ordinary preemption.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { labConfig, type LabInstance } from '../../src/lab/conf.js';
import { NetnsLab } from '../../src/lab/netns.js';
import { expectHolders } from '../helpers/holders.js';
import { KeepalivedProcess } from '../helpers/keepalived.js';
import { Sniffer } from '../helpers/sniffer.js';
import { requireTool } from '../helpers/tools.js';
import { teardown, VipdProcess } from '../helpers/vipd.js';

const lab = new NetnsLab('vt', 'ti');
let dir = '';
let vipds: VipdProcess[] = [];
let kas: KeepalivedProcess[] = [];
let sniff: Sniffer;

function vipd(r: string, inst: LabInstance[]): VipdProcess {
  const p = new VipdProcess(lab, r, dir, labConfig(r, inst));
  vipds.push(p);
  p.start();
  return p;
}
async function keepalived(r: string, inst: LabInstance[]): Promise<KeepalivedProcess> {
  const k = new KeepalivedProcess(lab, r, dir, labConfig(r, inst));
  kas.push(k);
  await k.start();
  return k;
}

beforeAll(() => {
  NetnsLab.requireRoot();
  requireTool('keepalived');
  NetnsLab.cleanStale();
  dir = mkdtempSync(join(tmpdir(), 'vipd-trackif-'));
  lab.build([{ name: 'r1', n: 1 }, { name: 'r2', n: 2 }, { name: 'client', n: 100 }]);
  lab.addLan(1, ['r1', 'r2']);
  sniff = new Sniffer(lab, 'client');
});
afterEach(async () => {
  for (const k of kas) await k.stop();
  kas = [];
  for (const p of vipds) await p.stop();
  vipds = [];
  lab.exec(lab.node('r1').ns, ['ip', 'link', 'set', 'eth1', 'up']);
});
afterAll(async () => {
  await sniff?.stop();
  await teardown(lab, dir, []);
});

describe('track_interface (issue #18)', () => {
  it('weight 0: the tracked interface going down puts r1 in FAULT and the VIP moves to r2; back up, r1 takes it back', async () => {
    const base = { advertInt: 1, version: 3 as const };
    const v = { ...base, vrid: 81, vips: ['192.0.2.181/24'] };
    const k = { ...base, vrid: 82, vips: ['192.0.2.182/24'] };
    const track = ['track_interface {', '    eth1', '}'];
    const v2 = vipd('r2', [{ ...v, priority: 100 }]);
    const v1 = vipd('r1', [{ ...v, priority: 150, extra: track }]);
    const k2 = await keepalived('r2', [{ ...k, priority: 100 }]);
    const k1 = await keepalived('r1', [{ ...k, priority: 150, extra: track }]);
    await Promise.all([v1.waitState('MASTER', 15_000), k1.waitState('MASTER', 15_000)]);
    for (const p of [v1, v2, k1, k2]) p.setMark();
    const r1 = lab.node('r1').ns;
    lab.exec(r1, ['ip', 'link', 'set', 'eth1', 'down']);
    const down = Date.now();
    await Promise.all([v1.waitState('FAULT', 5000), k1.waitState('FAULT', 5000)]);
    const faultMs = Date.now() - down;
    await Promise.all([v2.waitState('MASTER', 5000), k2.waitState('MASTER', 5000)]);
    const movedMs = Date.now() - down;
    await expectHolders(lab, ['r1', 'r2'], '192.0.2.181/24', ['r2']);
    await expectHolders(lab, ['r1', 'r2'], '192.0.2.182/24', ['r2']);
    const fault = v1.lines.slice(v1.mark).find((l) => l.to === 'FAULT');
    expect(fault?.reason).toMatch(/interface:eth1/);
    for (const p of [v1, v2, k1, k2]) p.setMark();
    lab.exec(r1, ['ip', 'link', 'set', 'eth1', 'up']);
    await Promise.all([v1.waitState('MASTER', 10_000), k1.waitState('MASTER', 10_000)]);
    await expectHolders(lab, ['r1', 'r2'], '192.0.2.181/24', ['r1']);
    console.log(`track_interface eth1 down: r1 FAULT and r2 MASTER ${movedMs} ms after (both implementations; first FAULT ${faultMs} ms)`);
  }, 60_000);

  it('weight -60: r1 advertises 150 - 60 = 90 while eth1 is down and r2 (100) preempts it, as keepalived does', async () => {
    const base = { advertInt: 1, version: 3 as const };
    const v = { ...base, vrid: 83, vips: ['192.0.2.183/24'] };
    const k = { ...base, vrid: 84, vips: ['192.0.2.184/24'] };
    const track = ['track_interface {', '    eth1 weight -60', '}'];
    const v2 = vipd('r2', [{ ...v, priority: 100 }]);
    const v1 = vipd('r1', [{ ...v, priority: 150, extra: track }]);
    const k2 = await keepalived('r2', [{ ...k, priority: 100 }]);
    const k1 = await keepalived('r1', [{ ...k, priority: 150, extra: track }]);
    await Promise.all([v1.waitState('MASTER', 15_000), k1.waitState('MASTER', 15_000)]);
    for (const p of [v1, v2, k1, k2]) p.setMark();
    const from = sniff.mark;
    lab.exec(lab.node('r1').ns, ['ip', 'link', 'set', 'eth1', 'down']);
    // the priority on the wire, from each implementation's r1
    for (const vrid of [83, 84]) await sniff.waitFor((l) => l.type === 'vrrp' && l.vrid === vrid && l.src === '192.0.2.1' && l.priority === 90, 5000, `r1 advertising 90 on VRID ${vrid}`, from);
    await Promise.all([v2.waitState('MASTER', 10_000), k2.waitState('MASTER', 10_000), v1.waitState('BACKUP', 10_000), k1.waitState('BACKUP', 10_000)]);
    await expectHolders(lab, ['r1', 'r2'], '192.0.2.183/24', ['r2']);
    expect(v1.lines.some((l) => /Changing effective priority from 150 to 90/.test(l.msg))).toBe(true);
    for (const p of [v1, v2, k1, k2]) p.setMark();
    const back = sniff.mark;
    lab.exec(lab.node('r1').ns, ['ip', 'link', 'set', 'eth1', 'up']);
    await sniff.waitFor((l) => l.type === 'vrrp' && l.vrid === 83 && l.src === '192.0.2.1' && l.priority === 150, 10_000, 'r1 back at 150', back);
    await Promise.all([v1.waitState('MASTER', 10_000), k1.waitState('MASTER', 10_000)]);
  }, 60_000);
});
