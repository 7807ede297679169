/**
 * Field cases (issue #17), each on the input an operator reported, vipd and keepalived 2.2.7
 * side by side where keepalived's figure is the reference (one pair of each on the same
 * routers, on different VRIDs, so that one link flap or partition hits both):
 * 1. preempt_delay after FAULT: the delay restarts when the router re-enters BACKUP;
 * 2. a master that hears a lower-priority master (a partition healed) re-announces its VIPs;
 * 3. an IPv6 link-local VIP is never the source of the adverts (reload, start with it present).
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { cliCommand } from '../../src/lab/cli-command.js';
import { labConfig, type LabInstance } from '../../src/lab/conf.js';
import { NetnsLab } from '../../src/lab/netns.js';
import { expectHolders } from '../helpers/holders.js';
import { KeepalivedProcess } from '../helpers/keepalived.js';
import { Sniffer } from '../helpers/sniffer.js';
import { requireTool } from '../helpers/tools.js';
import { teardown, VipdProcess } from '../helpers/vipd.js';

const lab = new NetnsLab('vt', 'f');
const dir = mkdtempSync(join(tmpdir(), 'vipd-field-'));
let vipds: VipdProcess[] = [];
let kas: KeepalivedProcess[] = [];
let pings: ChildProcess[] = [];
let sniff: Sniffer;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function vipd(r: string, inst: LabInstance[], tag = r): VipdProcess {
  const p = new VipdProcess(lab, r, dir, labConfig(r, inst), tag);
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
/** When `ready()` first holds, polled every 20 ms (Date.now() of that moment). */
async function when(ready: () => boolean, timeoutMs: number, what: string): Promise<number> {
  const end = Date.now() + timeoutMs;
  while (!ready()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
  return Date.now();
}
/** The client's neighbour entry (MAC) for an address, or null. */
function neighbour(addr: string): string | null {
  const out = lab.exec(lab.node('client').ns, ['ip', 'neigh', 'show', addr]);
  return /lladdr ([0-9a-f:]+)/.exec(out)?.[1] ?? null;
}
const r1Mac = '02:00:00:00:00:01';
const r2Mac = '02:00:00:00:00:02';

beforeAll(() => {
  NetnsLab.requireRoot();
  requireTool('nft');
  requireTool('keepalived');
  NetnsLab.cleanStale();
  lab.build([{ name: 'r1', n: 1 }, { name: 'r2', n: 2 }, { name: 'client', n: 100 }]);
  sniff = new Sniffer(lab, 'client');
});
afterEach(async () => {
  for (const p of pings) if (p.exitCode === null && p.pid) process.kill(p.pid, 'SIGTERM');
  pings = [];
  await Promise.all(kas.map((k) => k.stop())); // keepalived takes ~1 s to stop: all at once
  kas = [];
  for (const p of vipds) await p.stop();
  vipds = [];
});
afterAll(async () => {
  await sniff?.stop();
  await teardown(lab, dir, []);
});

describe('field cases (issue #17)', () => {
  it('1. preempt_delay restarts when a router leaves FAULT: r1 takes the VIP back no earlier than the delay after its link is back', async () => {
    // 0.2 s adverts: Master_Down_Interval 0.64 s at 200, 0.72 s at 100. The link is down for
    // 2 s, so a delay counted from startup (expected ~0.6 s after link up) or from the link
    // going down (~1.6 s) is well below the 3 s that the delay restarted at link up gives.
    const base = { advertInt: 0.2, version: 3 as const };
    const v = { ...base, vrid: 71, vips: ['192.0.2.171/24'] };
    const k = { ...base, vrid: 72, vips: ['192.0.2.172/24'] };
    const delay = ['preempt_delay 3'];
    // r1 first (0.2 s ahead, and its Master_Down_Interval is the shorter): it becomes master
    // without preempting, which would cost it the delay at startup too
    const v1 = vipd('r1', [{ ...v, priority: 200, extra: delay }]);
    const k1 = await keepalived('r1', [{ ...k, priority: 200, extra: delay }]);
    const v2 = vipd('r2', [{ ...v, priority: 100 }]);
    const k2 = await keepalived('r2', [{ ...k, priority: 100 }]);
    await Promise.all([v1.waitState('MASTER', 15_000), k1.waitState('MASTER', 15_000)]);
    v1.setMark();
    v2.setMark();
    k1.setMark();
    k2.setMark();
    const r1 = lab.node('r1').ns;
    lab.exec(r1, ['ip', 'link', 'set', 'eth0', 'down']);
    const down = Date.now();
    await Promise.all([v2.waitState('MASTER', 10_000), k2.waitState('MASTER', 10_000)]);
    await sleep(Math.max(0, 2000 - (Date.now() - down))); // the link comes back 2 s after it went
    v1.setMark();
    k1.setMark();
    lab.exec(r1, ['ip', 'link', 'set', 'eth0', 'up']);
    const up = Date.now();
    const [vMs, kMs] = await Promise.all([
      v1.waitState('MASTER', 20_000).then(() => Date.now() - up),
      k1.waitState('MASTER', 20_000).then(() => Date.now() - up),
    ]);
    console.log(`preempt_delay 3 after FAULT: r1 master again ${(vMs / 1000).toFixed(1)} s after link up (vipd), ${(kMs / 1000).toFixed(1)} s (keepalived 2.2.7)`);
    expect(kMs).toBeGreaterThanOrEqual(3000); // the reference: the delay plus Master_Down_Interval
    expect(vMs).toBeGreaterThanOrEqual(3000);
    expect(vMs).toBeLessThan(6000);
    expect(Math.abs(vMs - kMs)).toBeLessThan(2500);
    await expectHolders(lab, ['r1', 'r2'], '192.0.2.171/24', ['r1']);
    lab.exec(r1, ['ip', '-6', 'addr', 'replace', '2001:db8::1/64', 'dev', 'eth0', 'nodad']); // flushed with the link
  }, 60_000);

  it('2. after a partition heals, the master re-announces: the client\'s entry for the VIP is r1\'s MAC again within 3 s', async () => {
    const v = { version: 3 as const, vrid: 73, vips: ['192.0.2.173/24'] };
    const k = { version: 3 as const, vrid: 74, vips: ['192.0.2.174/24'] };
    // r1's second burst of gratuitous ARPs (garp_master_delay, 5 s by default) must not be what
    // moves the client back after the partition heals: r1 sends none (0), so nothing needs to
    // wait for it to be over
    const noSecondBurst = ['garp_master_delay 0'];
    const v1 = vipd('r1', [{ ...v, priority: 200, advertInt: 1, extra: noSecondBurst }]);
    const v2 = vipd('r2', [{ ...v, priority: 100, advertInt: 0.2 }]);
    const k1 = await keepalived('r1', [{ ...k, priority: 200, advertInt: 1, extra: noSecondBurst }]);
    const k2 = await keepalived('r2', [{ ...k, priority: 100, advertInt: 0.2 }]);
    await Promise.all([v1.waitState('MASTER', 15_000), k1.waitState('MASTER', 15_000)]);
    for (const vip of ['192.0.2.173', '192.0.2.174']) pings.push(lab.spawn(lab.node('client').ns, ['ping', '-q', '-i', '0.2', vip]));
    await when(() => neighbour('192.0.2.173') === r1Mac && neighbour('192.0.2.174') === r1Mac, 5000, 'client entries on r1');
    v2.setMark();
    k2.setMark();
    // r1 off the switch; its own link stays up (a bridge filter in the switch's namespace)
    const sw = `${lab.prefix}-sw`;
    lab.exec(sw, ['nft', '-f', '-'], { input: 'table bridge vipdpart {\n chain cut { type filter hook forward priority 0; iifname "p1" drop; oifname "p1" drop; }\n}\n' });
    await Promise.all([v2.waitState('MASTER', 10_000), k2.waitState('MASTER', 10_000)]);
    await when(() => neighbour('192.0.2.173') === r2Mac && neighbour('192.0.2.174') === r2Mac, 5000, 'client entries on r2');
    v1.setMark();
    v2.setMark();
    lab.exec(sw, ['nft', 'delete', 'table', 'bridge', 'vipdpart']);
    const healed = Date.now();
    const [vMs, kMs] = await Promise.all([
      when(() => neighbour('192.0.2.173') === r1Mac, 10_000, 'vipd VIP back on r1\'s MAC').then((t) => t - healed),
      when(() => neighbour('192.0.2.174') === r1Mac, 10_000, 'keepalived VIP back on r1\'s MAC').then((t) => t - healed),
    ]);
    console.log(`partition healed: client on r1's MAC after ${vMs} ms (vipd), ${kMs} ms (keepalived 2.2.7)`);
    // keepalived 2.2.7 is only reported: in about one heal in ten r1's advert reaches r2 first,
    // r2 yields without a word (higher_prio_send_advert is off by default there) and the client
    // stays on r2's MAC for ~8 s. vipd's r2 sends its parting advert (on by default), so r1
    // always hears a lower-priority master and announces again.
    expect(vMs).toBeLessThan(3000);
    await v2.waitState('BACKUP', 3000);
    expect(v1.lines.slice(v1.mark).some((l) => l.to)).toBe(false); // r1 stayed MASTER throughout
    await expectHolders(lab, ['r1', 'r2'], '192.0.2.173/24', ['r1']);
  }, 60_000);

  it('3. a link-local IPv6 VIP is never the advert source: r1 starts with it on eth0, then reloads a new priority, and keeps the VIP', async () => {
    const own = lab.linkLocal('r1'); // fe80::ff:fe00:1 (EUI-64 of 02:00:00:00:00:01), before fe80::52 is added
    expect(own).toBe('fe80::ff:fe00:1');
    const r1 = lab.node('r1').ns;
    lab.exec(r1, ['ip', '-6', 'addr', 'add', 'fe80::52/64', 'dev', 'eth0', 'nodad']); // left by an earlier run
    // 0.2 s adverts: Master_Down_Interval 0.72 s for r2, so the 1.5 s after the reload also show that r2 kept hearing r1
    const inst = (priority: number): LabInstance => ({ vrid: 75, priority, advertInt: 0.2, version: 3, vips: ['fe80::52/64', '2001:db8::52/64'] });
    const v2 = vipd('r2', [inst(100)]);
    await v2.waitState('BACKUP');
    const from = sniff.mark;
    const v1 = vipd('r1', [inst(200)]);
    await v1.waitState('MASTER', 10_000);
    await when(() => v2.state === 'BACKUP', 5000, 'r2 back to BACKUP'); // (it may have been master before r1 started)
    v2.setMark();
    v1.rewrite(labConfig('r1', [inst(210)]));
    v1.setMark();
    v1.signal('SIGHUP');
    await v1.waitFor((l) => l.msg === 'configuration reloaded' && v1.lines.indexOf(l) >= v1.mark, 5000, 'reload');
    await sniff.waitFor((l) => l.type === 'vrrp' && l.vrid === 75 && l.priority === 210, 5000, 'an advert at 210', from);
    await sleep(1500);
    const fromR1 = sniff.lines.filter((l) => l.time >= from && l.type === 'vrrp' && l.vrid === 75 && l.srcMac === r1Mac);
    expect(fromR1.length).toBeGreaterThanOrEqual(3);
    expect([...new Set(fromR1.map((l) => l.src))]).toEqual([own]);
    expect(v1.lines.filter((l) => l.to).map((l) => l.to)).toEqual(['BACKUP', 'MASTER']); // no FAULT, no second takeover
    expect(v2.lines.slice(v2.mark).some((l) => l.to)).toBe(false); // r2 stayed BACKUP
    expect(v1.lines.some((l) => l.msg === 'advert send failed')).toBe(false);
    await expectHolders(lab, ['r1', 'r2'], 'fe80::52/64', ['r1']);
    await expectHolders(lab, ['r1', 'r2'], '2001:db8::52/64', ['r1']);
  }, 40_000);
});

describe('adverts an operator can fix are logged (issue #16)', () => {
  it('a VRRPv2 peer on a VRRPv3 instance: one warning with the peer and what to do, however many adverts', async () => {
    const inst = (version: 2 | 3, priority: number): LabInstance => ({ vrid: 77, priority, advertInt: 0.2, version, vips: ['192.0.2.177/24'] });
    const v1 = vipd('r1', [inst(3, 200)]);
    vipd('r2', [inst(2, 100)]);
    const warned = await v1.waitFor((l) => l.reason === 'version-mismatch', 10_000, 'the version warning');
    expect(warned).toMatchObject({ level: 40, peer: '192.0.2.2', instance: 'VI_77' });
    expect(warned.msg).toBe("(VI_77) advert from 192.0.2.2 is VRRPv2, this instance speaks VRRPv3: every router of VRID 77 needs the same vrrp_version (keepalived's default is 2)");
    await sleep(1000); // five more adverts from r2
    expect(v1.lines.filter((l) => l.reason === 'version-mismatch')).toHaveLength(1);
  }, 20_000);
});

describe('announcement and timing keywords end to end (issue #17)', () => {
  it('vrrp_startup_delay holds the first advert back; vrrp_garp_interval spaces the gratuitous ARPs of a takeover', async () => {
    const vips = ['192.0.2.181/24', '192.0.2.182/24', '192.0.2.183/24'];
    const from = sniff.mark;
    const v1 = new VipdProcess(lab, 'r1', dir, labConfig('r1', [{ vrid: 78, priority: 255, advertInt: 1, version: 3, vips, extra: ['garp_master_repeat 2', 'garp_master_delay 0'] }], ['vrrp_garp_interval 0.2', 'vrrp_startup_delay 1.5']));
    vipds.push(v1);
    v1.start();
    const delaying = await v1.waitFor((l) => /^Delaying startup for 1.5 seconds/.test(l.msg), 10_000, 'the startup delay');
    await v1.waitFor((l) => l.msg.startsWith('ready:'), 5000, 'ready');
    const st = spawnSync('ip', ['netns', 'exec', lab.node('r1').ns, ...cliCommand('vipctl'), 'status', '--socket', v1.socket], { encoding: 'utf8' });
    expect(st.stdout).toMatch(/^starting: the instances start in [01]\.\d s \(vrrp_startup_delay\)\n$/);
    const first = await sniff.waitFor((l) => l.type === 'vrrp' && l.vrid === 78, 10_000, 'the first advert', from);
    expect(first.time * 1000 - (delaying.time as number)).toBeGreaterThanOrEqual(1400);
    // readiness (pid files, READY=1, control socket) does not wait for the delay
    const ready = v1.lines.find((l) => l.msg.startsWith('ready:'));
    expect(ready && first.time * 1000 - (ready.time as number)).toBeGreaterThanOrEqual(1000);
    await sleep(1500); // six frames, 0.2 s apart
    const arps = sniff.lines.filter((l) => l.time >= from && l.type === 'arp' && l.senderMac === r1Mac && vips.some((v) => v.startsWith(`${l.senderIp}/`)));
    expect(arps).toHaveLength(6);
    const gaps = arps.slice(1).map((a, i) => (a.time - arps[i]!.time) * 1000);
    console.log(`vrrp_garp_interval 0.2: gaps between the takeover's gratuitous ARPs ${gaps.map((g) => g.toFixed(0)).join(', ')} ms`);
    for (const g of gaps) expect(g).toBeGreaterThanOrEqual(180);
  }, 30_000);

  it('down_timer_adverts, mcast_src_ip, skip_check_adv_addr', async () => {
    const r1 = lab.node('r1').ns;
    lab.exec(r1, ['ip', 'addr', 'add', '198.51.100.1/24', 'dev', 'eth0']);
    try {
      const from = sniff.mark;
      const v1 = vipd('r1', [{ vrid: 79, priority: 200, advertInt: 0.1, version: 3, vips: ['192.0.2.191/24'], extra: ['mcast_src_ip 198.51.100.1'] }]);
      const v2 = vipd('r2', [{ vrid: 79, priority: 100, advertInt: 0.1, version: 3, vips: ['192.0.2.191/24', '192.0.2.192/24'], extra: ['down_timer_adverts 10', 'skip_check_adv_addr'] }]);
      await v1.waitState('MASTER', 10_000);
      await when(() => v2.state === 'BACKUP', 5000, 'r2 BACKUP');
      await sleep(1000);
      const ads = sniff.adverts(79, from).filter((a) => a.srcMac === r1Mac);
      expect(ads.length).toBeGreaterThan(5);
      expect([...new Set(ads.map((a) => a.src))]).toEqual(['198.51.100.1']); // mcast_src_ip, not 192.0.2.1
      // r2 lists another VIP than r1's adverts: without skip_check_adv_addr it would warn at once
      expect(v2.lines.some((l) => l.reason === 'addresses-differ')).toBe(false);
      // r1 dies: r2 waits 10 adverts + Skew_Time (1.06 s), not the RFC's 3 (0.36 s)
      const mark = sniff.mark;
      v1.proc!.kill('SIGKILL');
      const t = await sniff.waitFor((l) => l.type === 'vrrp' && l.vrid === 79 && l.srcMac === r2Mac && (l.priority ?? 0) > 0, 5000, 'r2 takes over', mark);
      const last = sniff.adverts(79, from).filter((a) => a.srcMac === r1Mac).at(-1)!;
      const gapMs = (t.time - last.time) * 1000;
      console.log(`down_timer_adverts 10 at 0.1 s: takeover ${gapMs.toFixed(0)} ms after the master's last advert`);
      expect(gapMs).toBeGreaterThanOrEqual(950);
      expect(gapMs).toBeLessThan(2500);
    } finally {
      lab.exec(r1, ['ip', 'addr', 'del', '198.51.100.1/24', 'dev', 'eth0'], { allowFail: true });
    }
  }, 30_000);
});
