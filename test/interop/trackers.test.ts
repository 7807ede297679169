/**
 * Health checks across implementations (issue #18): real keepalived 2.2.7 and vipd in one
 * VRID (VRRPv3, 0.2 s adverts), each router with the same vrrp_script shape checking its own
 * flag file (`test -e FLAG`, interval 1, rise 1, fall 1), the flag removed to fail the check:
 * - weight 0 (keepalived's default for vrrp_script): the master whose check fails goes to FAULT
 *   and the other router takes the VIP; the check back, it preempts; keepalived master with a
 *   vipd backup, then vipd master with a keepalived backup;
 * - weight -60: the failing master advertises 150 - 60 = 90 and the other router (100)
 *   preempts it by the ordinary election; then the other way round (vipd 100 - 60 = 40 below
 *   keepalived's 90), and back.
 * Holders are checked with `ip addr` in both namespaces, transitions in both logs, priorities
 * on the wire (sniffer in the client namespace). Before issue #18 vipd parsed vrrp_script but
 * ran no tracker: its check failing changed nothing, so each test fails on that code (the
 * first one checks the vipd backup's own check before the handover for that reason).
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
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

const lab = new NetnsLab('vt', 'it');
let dir = '';
let procs: { stop(): Promise<void> }[] = [];
let sniff: Sniffer;
const ROUTERS = ['r1', 'r2'];
const SRC: Record<string, string> = { r1: '192.0.2.1', r2: '192.0.2.2' };

/**
 * 0.2 s adverts (Master_Down_Interval 0.72 s at priority 100, 0.68 s at 150): the checks run
 * every second whatever the adverts, and every election here waits for a Master_Down_Interval.
 */
const ADVERT_INT = 0.2;

const flag = (r: string): string => join(dir, `healthy-${r}`);
const healthy = (r: string): void => writeFileSync(flag(r), '');
const sick = (r: string): void => rmSync(flag(r), { force: true });

/** The configuration of router `r`: vrrp_script chk on r's own flag file, tracked by one instance. */
function conf(r: string, impl: 'vipd' | 'keepalived', vrid: number, priority: number, weight: number): string {
  const script = join(dir, `chk-${r}.sh`);
  writeFileSync(script, `#!/bin/sh\ntest -e ${flag(r)}\n`);
  chmodSync(script, 0o755);
  const blocks = ['vrrp_script chk {', `    script "${script}"`, '    interval 1', ...(weight ? [`    weight ${weight}`] : []), '}', ''];
  const inst: LabInstance = { vrid, priority, advertInt: ADVERT_INT, version: 3, vips: [`192.0.2.${vrid}/24`], extra: ['track_script {', '    chk', '}'] };
  // keepalived as in keepalived.test.ts: a router_id of this run, vrrp_version 3 in global_defs
  return impl === 'keepalived' ? labConfig(`${lab.prefix}-${r}`, [inst], ['vrrp_version 3'], blocks) : labConfig(r, [inst], [], blocks);
}
function startVipd(r: string, vrid: number, priority: number, weight = 0): VipdProcess {
  const p = new VipdProcess(lab, r, dir, conf(r, 'vipd', vrid, priority, weight));
  procs.push(p);
  p.start();
  return p;
}
async function startKeepalived(r: string, vrid: number, priority: number, weight = 0): Promise<KeepalivedProcess> {
  const k = new KeepalivedProcess(lab, r, dir, conf(r, 'keepalived', vrid, priority, weight));
  procs.push(k);
  await k.start();
  return k;
}
function holders(vrid: number, want: string[], timeoutMs = 4000): Promise<void> {
  return expectHolders(lab, ROUTERS, `192.0.2.${vrid}/24`, want, timeoutMs);
}
/** Wait for an advert from router `r` on `vrid` at `prio`, captured after `from` (sniffer time). */
function advertised(r: string, vrid: number, prio: number, from: number, timeoutMs = 8000): Promise<unknown> {
  return sniff.waitFor((l) => l.type === 'vrrp' && l.vrid === vrid && l.src === SRC[r] && l.priority === prio, timeoutMs, `${r} advertising ${prio} on VRID ${vrid}`, from);
}
// fall 1 x interval 1 s, then the failing master resigns (priority 0 advert: the other takes
// over after Skew_Time) or at worst is silent (Master_Down_Interval 0.72 s); plus a margin
const HANDOVER_MS = 1000 + 3 * 200 + 122 + 3000;

beforeAll(() => {
  NetnsLab.requireRoot();
  requireTool('keepalived');
  NetnsLab.cleanStale();
  dir = mkdtempSync(join(tmpdir(), 'vipd-interop-trackers-'));
  lab.build([{ name: 'r1', n: 1 }, { name: 'r2', n: 2 }, { name: 'client', n: 100 }]);
  sniff = new Sniffer(lab, 'client');
});
afterEach(async () => {
  for (const p of procs) await p.stop();
  procs = [];
});
afterAll(async () => {
  await sniff?.stop();
  await teardown(lab, dir, []);
});

describe('vrrp_script with keepalived in the same VRID (issue #18)', () => {
  it('keepalived master whose check fails hands over to a vipd backup (FAULT, weight 0); its check back, keepalived preempts', async () => {
    for (const r of ROUTERS) healthy(r);
    const ka = await startKeepalived('r1', 131, 150);
    const vd = startVipd('r2', 131, 100);
    await ka.waitState('MASTER', 15_000);
    await vd.waitState('BACKUP', 10_000);
    await holders(131, ['r1']);
    // vipd's own check is live: failing, the backup goes to FAULT and keepalived keeps the VIP
    vd.setMark();
    sick('r2');
    const vf = await vd.waitState('FAULT', 5000);
    expect(vf.reason).toMatch(/script:chk/);
    vd.setMark();
    healthy('r2');
    await vd.waitState('BACKUP', 5000);
    expect(ka.state).toBe('MASTER');
    await holders(131, ['r1']);
    // keepalived's check fails: it goes to FAULT and vipd takes the VIP
    ka.setMark();
    vd.setMark();
    sick('r1');
    const failed = Date.now();
    await ka.waitState('FAULT', 5000);
    await vd.waitState('MASTER', HANDOVER_MS);
    const movedMs = Date.now() - failed;
    await holders(131, ['r2']);
    expect(ka.log.slice(ka.mark)).toMatch(/VRRP_Script\(chk\) failed/);
    expect(movedMs).toBeLessThan(HANDOVER_MS);
    // back: keepalived (150) preempts vipd (100)
    ka.setMark();
    vd.setMark();
    healthy('r1');
    await ka.waitState('MASTER', 10_000);
    await vd.waitState('BACKUP', 5000);
    await holders(131, ['r1']);
    console.log(`keepalived master's check failed: vipd MASTER ${movedMs} ms later`);
  }, 90_000);

  it('vipd master whose check fails hands over to a keepalived backup (FAULT, weight 0); its check back, vipd preempts', async () => {
    for (const r of ROUTERS) healthy(r);
    const vd = startVipd('r1', 132, 150);
    await vd.waitState('MASTER', 15_000);
    const ka = await startKeepalived('r2', 132, 100);
    await ka.waitState('BACKUP', 10_000);
    await holders(132, ['r1']);
    ka.setMark();
    vd.setMark();
    sick('r1');
    const failed = Date.now();
    const vf = await vd.waitState('FAULT', 5000);
    await ka.waitState('MASTER', HANDOVER_MS);
    const movedMs = Date.now() - failed;
    await holders(132, ['r2']);
    expect(vf.reason).toMatch(/script:chk/);
    expect(vd.lines.slice(vd.mark).some((l) => l.msg.startsWith('VRRP_Script(chk) failed'))).toBe(true);
    expect(movedMs).toBeLessThan(HANDOVER_MS);
    // back: vipd (150) preempts keepalived (100)
    ka.setMark();
    vd.setMark();
    healthy('r1');
    await vd.waitState('MASTER', 10_000);
    await ka.waitState('BACKUP', 5000);
    await holders(132, ['r1']);
    console.log(`vipd master's check failed: keepalived MASTER ${movedMs} ms later`);
  }, 90_000);

  it('weight -60: the failing master advertises 90 and the other side preempts it; both ways, and back', async () => {
    for (const r of ROUTERS) healthy(r);
    const ka = await startKeepalived('r1', 133, 150, -60);
    const vd = startVipd('r2', 133, 100, -60);
    await ka.waitState('MASTER', 15_000);
    await vd.waitState('BACKUP', 10_000);
    await holders(133, ['r1']);
    // keepalived's check fails: 150 - 60 = 90 on the wire, vipd (100) preempts it
    ka.setMark();
    vd.setMark();
    let from = sniff.mark;
    sick('r1');
    await advertised('r1', 133, 90, from);
    await Promise.all([vd.waitState('MASTER', 10_000), ka.waitState('BACKUP', 10_000)]);
    await holders(133, ['r2']);
    expect(ka.log.slice(ka.mark)).toMatch(/Changing effective priority from 150 to 90/);
    // vipd's check fails too: 100 - 60 = 40 on the wire, keepalived (90) preempts it
    ka.setMark();
    vd.setMark();
    from = sniff.mark;
    sick('r2');
    await advertised('r2', 133, 40, from);
    await Promise.all([ka.waitState('MASTER', 10_000), vd.waitState('BACKUP', 10_000)]);
    await holders(133, ['r1']);
    expect(vd.lines.some((l) => l.msg === '(VI_133) Changing effective priority from 100 to 40')).toBe(true);
    // vipd's check back: 100 above keepalived's 90, vipd preempts
    ka.setMark();
    vd.setMark();
    from = sniff.mark;
    healthy('r2');
    await Promise.all([vd.waitState('MASTER', 10_000), ka.waitState('BACKUP', 10_000)]);
    await advertised('r2', 133, 100, from);
    await holders(133, ['r2']);
    // keepalived's check back: 150, keepalived preempts
    ka.setMark();
    vd.setMark();
    healthy('r1');
    await Promise.all([ka.waitState('MASTER', 10_000), vd.waitState('BACKUP', 10_000)]);
    await holders(133, ['r1']);
  }, 120_000);
});
