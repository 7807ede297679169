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
import { labConfig } from '../../src/lab/conf.js';
import { NetnsLab } from '../../src/lab/netns.js';
import { expectHolders } from '../helpers/holders.js';
import { LabDaemons } from '../helpers/lab-daemons.js';
import { Sniffer } from '../helpers/sniffer.js';
import { requireTool } from '../helpers/tools.js';
import { runCliIn, teardown, VipdProcess } from '../helpers/vipd.js';

const lab = new NetnsLab('vt', 'ti');
let dir = '';
const daemons = new LabDaemons(lab, () => dir);
const vipd = daemons.vipd.bind(daemons);
const keepalived = daemons.keepalived.bind(daemons);
let sniff: Sniffer;


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
  await Promise.all(daemons.kas.map((k) => k.stop())); // keepalived takes ~1 s to stop: all at once, then the rest
  await daemons.stopAll();
  const r1 = lab.node('r1').ns;
  for (const i of ['eth0', 'eth1']) lab.exec(r1, ['ip', 'link', 'set', i, 'up']);
  lab.exec(r1, ['ip', '-6', 'addr', 'replace', '2001:db8::1/64', 'dev', 'eth0', 'nodad']); // flushed with the link
});
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
/**
 * 0.2 s adverts (VRRPv3 centiseconds, keepalived too): Master_Down_Interval 0.68 s at 150,
 * 0.72 s at 100 instead of 3.4 / 3.6 s. The trackers act on kernel events and the waits are
 * for elections; only interface_up_down_delays needs slower adverts (see there).
 */
const ADVERT_INT = 0.2;
afterAll(async () => {
  await sniff?.stop();
  await teardown(lab, dir, []);
});

describe('track_interface (issue #18)', () => {
  it('weight 0: the tracked interface going down puts r1 in FAULT and the VIP moves to r2; back up, r1 takes it back', async () => {
    const base = { advertInt: ADVERT_INT, version: 3 as const };
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
    const base = { advertInt: ADVERT_INT, version: 3 as const };
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

  it('interface_up_down_delays: a link flap shorter than the down delay is no FAULT; a longer one counts after the delay (both implementations)', async () => {
    // 0.5 s adverts and a 0.9 s delay: both implementations cut a delay to below
    // (down_timer_adverts - 1) x advert_int, here 1 s (0.2 s adverts would cut it to 0.4 s)
    const base = { advertInt: 0.5, version: 3 as const };
    const v = { ...base, vrid: 85, vips: ['192.0.2.185/24'] };
    const k = { ...base, vrid: 86, vips: ['192.0.2.186/24'] };
    const delays = ['interface_up_down_delays {', '    eth0 0.9', '}', ''];
    const v1 = vipd('r1', [{ ...v, priority: 150 }], delays);
    const k1 = await keepalived('r1', [{ ...k, priority: 150 }], delays);
    await Promise.all([v1.waitState('MASTER', 15_000), k1.waitState('MASTER', 15_000)]);
    v1.setMark();
    k1.setMark();
    const r1 = lab.node('r1').ns;
    lab.exec(r1, ['ip', 'link', 'set', 'eth0', 'down']);
    await sleep(300); // a third of the delay
    lab.exec(r1, ['ip', 'link', 'set', 'eth0', 'up']);
    await sleep(1500); // twice the delay after the link went down
    expect(v1.lines.slice(v1.mark).filter((l) => l.to)).toEqual([]);
    expect(k1.log.slice(k1.mark)).not.toMatch(/Entering FAULT STATE/);
    expect(v1.lines.some((l) => l.msg === 'Delay timer for eth0 cancelled')).toBe(true);
    lab.exec(r1, ['ip', 'link', 'set', 'eth0', 'down']);
    const down = Date.now();
    await Promise.all([v1.waitState('FAULT', 5000), k1.waitState('FAULT', 5000)]);
    const ms = Date.now() - down;
    expect(ms).toBeGreaterThanOrEqual(850);
    lab.exec(r1, ['ip', 'link', 'set', 'eth0', 'up']);
    console.log(`interface_up_down_delays eth0 0.9: FAULT ${ms} ms after the link went down`);
  }, 60_000);

  // keepalived 2.2.7's manual says the same; its code reacts only when the removed address was
  // the interface's primary IPv4 one with no other left (keepalived_netlink.c), and in this
  // lab (2026-11-29, both cases below run beside vipd) it did not react at all: not asserted here
  it('track_src_ip: the configured source address removed is a FAULT and the VIP moves (a second address, or the interface\'s only one)', async () => {
    const r1 = lab.node('r1').ns;
    lab.exec(r1, ['ip', 'addr', 'add', '192.0.2.51/24', 'dev', 'eth0']);
    const base = { advertInt: ADVERT_INT, version: 3 as const };
    // eth0: the source is a second address of the interface
    const v = { ...base, vrid: 87, vips: ['192.0.2.187/24'] };
    // eth1: the source is the interface's only IPv4 address (lab.addLan: 192.0.2.65/32 on r1); the VIP lives on eth0
    const v6 = { ...base, interface: 'eth1', vrid: 97, vips: ['198.51.100.97/24 dev eth0'] };
    const src = (a: string): string[] => [`mcast_src_ip ${a}`, 'track_src_ip'];
    const v2 = vipd('r2', [{ ...v, priority: 100 }, { ...v6, priority: 100 }]);
    const v1 = vipd('r1', [{ ...v, priority: 150, extra: src('192.0.2.51') }, { ...v6, priority: 150, extra: src('192.0.2.65') }]);
    const masters = (p: VipdProcess, n: number): Promise<unknown> => p.waitFor(() => p.lines.filter((x) => x.to === 'MASTER').length >= n, 15_000, `${n} masters`);
    await masters(v1, 2);
    for (const p of [v1, v2]) p.setMark();
    lab.exec(r1, ['ip', 'addr', 'del', '192.0.2.51/24', 'dev', 'eth0']);
    await v1.waitState('FAULT', 5000);
    await expectHolders(lab, ['r1', 'r2'], '192.0.2.187/24', ['r2'], 8000);
    expect(v1.lines.slice(v1.mark).find((l) => l.to === 'FAULT')?.reason).toMatch(/track_src_ip/);
    for (const p of [v1, v2]) p.setMark();
    lab.exec(r1, ['ip', 'addr', 'del', '192.0.2.65/32', 'dev', 'eth1']);
    await v1.waitState('FAULT', 5000);
    await expectHolders(lab, ['r1', 'r2'], '198.51.100.97/24', ['r2'], 8000);
    for (const p of [v1, v2]) p.setMark();
    lab.exec(r1, ['ip', 'addr', 'add', '192.0.2.51/24', 'dev', 'eth0']);
    lab.exec(r1, ['ip', 'addr', 'add', '192.0.2.65/32', 'dev', 'eth1']);
    await v1.waitFor(() => v1.lines.slice(v1.mark).filter((x) => x.to === 'MASTER').length >= 2, 15_000, 'both masters again');
    await expectHolders(lab, ['r1', 'r2'], '192.0.2.187/24', ['r1'], 8000);
    lab.exec(r1, ['ip', 'addr', 'del', '192.0.2.51/24', 'dev', 'eth0']);
  }, 60_000);

  it('unicast_fault_no_peer without a peer: FAULT, as keepalived', async () => {
    const inst = { advertInt: ADVERT_INT, version: 3 as const, priority: 150, extra: ['unicast_src_ip 192.0.2.1', 'unicast_fault_no_peer'] };
    const v1 = vipd('r1', [{ ...inst, vrid: 89, vips: ['192.0.2.189/24'] }]);
    const k1 = await keepalived('r1', [{ ...inst, vrid: 90, vips: ['192.0.2.190/24'] }]);
    await v1.waitState('FAULT', 10_000);
    expect(v1.lines.some((l) => l.msg.includes('(VI_89) Cannot use unicast without any peers - going to fault state'))).toBe(true);
    // keepalived starts in FAULT without an "Entering FAULT STATE" line (vrrp_init_state)
    expect(k1.log).toContain('(VI_90) Cannot use unicast without any peers - going to fault state');
    await sleep(2000); // Master_Down_Interval (0.68 s) nearly three times over: still no master
    expect(v1.state).toBe('FAULT');
    expect(k1.log).not.toMatch(/Entering (MASTER|BACKUP) STATE/);
    expect(lab.addresses('r1').filter((a) => a === '192.0.2.189/24' || a === '192.0.2.190/24')).toEqual([]);
  }, 30_000);

  it('a tracked interface that does not exist: vipd refuses to start, naming the track_interface line', async () => {
    const p = new VipdProcess(lab, 'r1', dir, labConfig('r1', [{ vrid: 91, priority: 100, advertInt: 1, version: 3, vips: ['192.0.2.191/24'], extra: ['track_interface {', '    eth9', '}'] }]), 'noif');
    const r = await runCliIn(lab, 'r1', 'vipd', ['run', '-f', p.conf, '--control-socket', join(dir, 'noif.sock')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/vipd-noif\.conf:\d+: track_interface eth9: interface eth9 does not exist/);
  }, 30_000);
});
