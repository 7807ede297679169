/**
 * Reload without disruption (issue #21), on two routers and a client pinging a VIP every
 * 10 ms: what changes in place keeps the master's state and addresses (no lost reply, no
 * priority-0 advert, no transition), only the changed objects are touched and announced; a
 * priority lowered below a backup's is one handover; an invalid file changes nothing (exit 2);
 * a change the kernel refuses is rolled back (exit 1); 100 instances at 10 ms, one changed:
 * no transition anywhere.
 */
import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { labConfig, type LabInstance } from '../../src/lab/conf.js';
import { NetnsLab } from '../../src/lab/netns.js';
import { holdersOf } from '../helpers/holders.js';
import { Pinger } from '../helpers/pinger.js';
import { Sniffer } from '../helpers/sniffer.js';
import { runCliIn, teardown, VipdProcess, type LogLine } from '../helpers/vipd.js';

const lab = new NetnsLab('vt', 'rl');
let dir = '';
let sniff: Sniffer;
let r1: VipdProcess;
let r2: VipdProcess;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const VIPS = ['192.0.2.11/24', '192.0.2.12/24', '192.0.2.13/24'];
const R1_SRC = '192.0.2.1';

function script(name: string, body: string): string {
  const f = join(dir, name);
  writeFileSync(f, `#!/bin/sh\n${body}\n`);
  chmodSync(f, 0o755);
  return f;
}
const blocks = (path: string, interval = 1): string[] => ['vrrp_script chk {', `    script "${path}"`, `    interval ${interval}`, '}', ''];
const inst = (priority: number, o: Partial<LabInstance> = {}): LabInstance => ({
  // r2 always runs at 100, r1 at anything else: each router's notify writes its own file
  vrid: 51, priority, advertInt: 0.5, version: 3, vips: VIPS, extra: ['track_script {', '    chk', '}', `notify ${join(dir, priority === 100 ? 'notify-r2.sh' : 'notify-r1.sh')}`], ...o,
});
const notified = (r: string): string[] => (existsSync(join(dir, `notify-${r}.log`)) ? readFileSync(join(dir, `notify-${r}.log`), 'utf8').trim().split('\n') : []);
const transitions = (d: VipdProcess, from: number): LogLine[] => d.lines.slice(from).filter((l) => l.to);
async function reload(d: VipdProcess, json = true): Promise<{ code: number | null; out: { ok: boolean; result?: { inPlace: string[]; restarted: string[]; stateKept: string[]; changes: Record<string, string[]> }; error?: string; kind?: string } | null; stderr: string }> {
  const r = await runCliIn(lab, d.node, 'vipctl', ['reload', ...(json ? ['--json'] : []), '--socket', d.socket]);
  return { code: r.code, out: json ? (JSON.parse(r.stdout) as never) : null, stderr: r.stderr };
}
/** The base configuration on both routers, r1 MASTER with three VIPs. */
async function base(): Promise<void> {
  r1.rewrite(labConfig('r1', [inst(150)], [], blocks(script('ok.sh', 'exit 0'))));
  r2.rewrite(labConfig('r2', [inst(100)], [], blocks(script('ok.sh', 'exit 0'))));
  for (const d of [r1, r2]) expect((await reload(d)).code).toBe(0);
  const end = Date.now() + 10_000;
  // VI_51's own state: another test's instance may have logged the last transition
  const state51 = (): string | undefined => [...r1.lines].reverse().find((l) => l.to && l.instance === 'VI_51')?.to;
  while (holdersOf(lab, ['r1', 'r2'], VIPS[0]!).join() !== 'r1' || state51() !== 'MASTER') {
    if (Date.now() > end) throw new Error('base: r1 is not the only holder');
    await sleep(50);
  }
}

beforeAll(async () => {
  NetnsLab.requireRoot();
  NetnsLab.cleanStale();
  dir = mkdtempSync(join(tmpdir(), 'vipd-reload-'));
  // notify: one line per call (INSTANCE NAME STATE PRIORITY), one file per router
  for (const r of ['r1', 'r2']) script(`notify-${r}.sh`, `echo "$*" >> "${join(dir, `notify-${r}.log`)}"`);
  lab.build([{ name: 'r1', n: 1 }, { name: 'r2', n: 2 }, { name: 'client', n: 100 }]);
  sniff = new Sniffer(lab, 'client');
  r1 = new VipdProcess(lab, 'r1', dir, labConfig('r1', [inst(150)], [], blocks(script('ok.sh', 'exit 0'))));
  r2 = new VipdProcess(lab, 'r2', dir, labConfig('r2', [inst(100)], [], blocks(script('ok.sh', 'exit 0'))));
  r1.start();
  await r1.waitState('MASTER', 15_000);
  r2.start();
  await r2.waitState('BACKUP', 15_000);
  await sniff.ready();
}, 60_000);
// a test that fails before its ping.stop() must not leave ping running
afterEach(async () => {
  for (const p of Pinger.live) await p.stop().catch(() => undefined);
});
afterAll(async () => {
  await sniff?.stop();
  await teardown(lab, dir, [r1, r2]);
});

describe('reload without disruption (issue #21)', () => {
  it('priority 150 -> 140 on a master with three VIPs: in place, no lost reply, no priority 0, no transition; the adverts carry 140 from the next one on', async () => {
    await base();
    const ping = new Pinger(lab, 'client', '192.0.2.12');
    await ping.ready();
    const [m1, m2, t0] = [r1.lines.length, r2.lines.length, sniff.mark];
    r1.rewrite(labConfig('r1', [inst(140)], [], blocks(join(dir, 'ok.sh'))));
    const r = await reload(r1);
    const t1 = sniff.mark;
    expect(r.code, r.stderr).toBe(0);
    expect(r.out?.result).toMatchObject({ inPlace: ['VI_51'], restarted: [], changes: { VI_51: ['priority 150 -> 140'] } });
    await sleep(1500);
    const p = await ping.stop();
    expect(p.lost, JSON.stringify(p)).toBe(0);
    expect(transitions(r1, m1)).toEqual([]);
    expect(transitions(r2, m2)).toEqual([]);
    const ads = sniff.adverts(51, t0);
    expect(ads.filter((a) => a.priority === 0)).toEqual([]);
    expect(ads.every((a) => a.src === R1_SRC)).toBe(true);
    const after = ads.filter((a) => a.time > t1);
    expect(after.length).toBeGreaterThanOrEqual(2);
    expect(after.map((a) => a.priority)).toEqual(after.map(() => 140));
  }, 30_000);

  it('a VIP added and one removed on the master: the others never leave, gratuitous ARP only for the new one, no lost reply', async () => {
    await base();
    const ping = new Pinger(lab, 'client', '192.0.2.11');
    await ping.ready();
    const mon = lab.spawn(lab.node('r1').ns, ['ip', '-o', 'monitor', 'address']);
    let events = '';
    mon.stdout!.on('data', (d: Buffer) => (events += d.toString()));
    await sleep(200);
    const t0 = sniff.mark;
    const next = ['192.0.2.11/24', '192.0.2.12/24', '192.0.2.14/24'];
    r1.rewrite(labConfig('r1', [inst(150, { vips: next })], [], blocks(join(dir, 'ok.sh'))));
    r2.rewrite(labConfig('r2', [inst(100, { vips: next })], [], blocks(join(dir, 'ok.sh'))));
    const r = await reload(r1);
    expect(r.code, r.stderr).toBe(0);
    expect(r.out?.result?.changes.VI_51).toEqual(['virtual_ipaddress +192.0.2.14/24 -192.0.2.13/24']);
    expect((await reload(r2)).out?.result?.inPlace).toEqual(['VI_51']);
    await sleep(1500);
    mon.kill('SIGTERM');
    const p = await ping.stop();
    expect(p.lost, JSON.stringify(p)).toBe(0);
    expect(events).toMatch(/Deleted.*inet 192\.0\.2\.13\/24/);
    expect(events).toMatch(/^\d+: eth0\s+inet 192\.0\.2\.14\/24/m);
    expect(events).not.toMatch(/192\.0\.2\.1[12]\//); // neither deleted nor added again
    const garps = sniff.lines.filter((l) => l.time >= t0 && l.type === 'arp' && l.gratuitous);
    expect(new Set(garps.map((g) => g.senderIp))).toEqual(new Set(['192.0.2.14']));
    expect(holdersOf(lab, ['r1', 'r2'], '192.0.2.14/24')).toEqual(['r1']);
  }, 30_000);

  it('a VIP whose label changes: deleted and added again with the new label (the kernel cannot change a label in place); the other VIPs untouched', async () => {
    await base();
    const labelled = (l: string): string[] => ['192.0.2.11/24', `192.0.2.12/24 dev eth0 label eth0:${l}`, '192.0.2.13/24'];
    r1.rewrite(labConfig('r1', [inst(150, { vips: labelled('int') })], [], blocks(join(dir, 'ok.sh'))));
    expect((await reload(r1)).code).toBe(0);
    const label = (): string => lab.exec(lab.node('r1').ns, ['ip', '-o', '-4', 'addr', 'show', 'dev', 'eth0']).split('\n').find((l) => l.includes('192.0.2.12/'))?.match(/ (eth0:[a-z0-9]+)/)?.[1] ?? '';
    const end = Date.now() + 3000;
    while (label() !== 'eth0:int' && Date.now() < end) await sleep(50);
    expect(label()).toBe('eth0:int');
    const ping = new Pinger(lab, 'client', '192.0.2.11');
    await ping.ready();
    r1.rewrite(labConfig('r1', [inst(150, { vips: labelled('pub') })], [], blocks(join(dir, 'ok.sh'))));
    const r = await reload(r1);
    expect(r.code, r.stderr).toBe(0);
    expect(r.out?.result?.changes.VI_51).toEqual(['virtual_ipaddress +192.0.2.12/24 -192.0.2.12/24']);
    await sleep(300);
    expect(label()).toBe('eth0:pub');
    expect((await ping.stop()).lost).toBe(0);
  }, 30_000);

  it('the tracked script and advert_int changed: applied in place (the new script runs, adverts every 0.3 s), no transition', async () => {
    await base();
    const [m1, m2] = [r1.lines.length, r2.lines.length];
    const other = script('ok2.sh', 'true');
    r1.rewrite(labConfig('r1', [inst(150, { advertInt: 0.3 })], [], blocks(other, 2)));
    const r = await reload(r1);
    expect(r.code, r.stderr).toBe(0);
    expect(r.out?.result).toMatchObject({ inPlace: ['VI_51'], restarted: [] });
    expect(r.out?.result?.changes.VI_51).toEqual(['advert_int 0.5 -> 0.3']);
    const t1 = sniff.mark;
    await r1.waitFor((l) => r1.lines.indexOf(l) >= m1 && l.msg.includes('VRRP_Script(chk) succeeded'), 5000, 'the new script');
    await sleep(Math.max(0, (t1 + 1.6 - sniff.mark) * 1000));
    const ads = sniff.adverts(51, t1 + 0.35);
    expect(ads.every((a) => a.advertIntervalMs === 300 && a.src === R1_SRC && a.priority === 150)).toBe(true);
    expect(ads.length, JSON.stringify(ads.map((a) => a.time - t1))).toBeGreaterThanOrEqual(3);
    expect(transitions(r1, m1)).toEqual([]);
    expect(transitions(r2, m2)).toEqual([]);
  }, 30_000);

  it('priority lowered below the backup\'s (preempt): exactly one handover, without a priority-0 advert', async () => {
    await base();
    const [m1, m2, t0] = [r1.lines.length, r2.lines.length, sniff.mark];
    r1.rewrite(labConfig('r1', [inst(90)], [], blocks(join(dir, 'ok.sh'))));
    expect((await reload(r1)).code).toBe(0);
    const n2 = notified('r2').length;
    await r2.waitFor((l) => r2.lines.indexOf(l) >= m2 && l.to === 'MASTER', 10_000, 'r2 taking over');
    await sleep(1500);
    // r2's file did not change in the reloads base() made: its notify still runs (it was off after any reload)
    expect(notified('r2').slice(n2)).toEqual(['INSTANCE VI_51 MASTER 100']);
    expect(transitions(r1, m1).map((l) => l.to)).toEqual(['BACKUP']);
    expect(transitions(r2, m2).map((l) => l.to)).toEqual(['MASTER']);
    expect(sniff.adverts(51, t0).filter((a) => a.priority === 0)).toEqual([]);
    expect(holdersOf(lab, ['r1', 'r2'], VIPS[0]!)).toEqual(['r2']);
  }, 30_000);

  it('an invalid file changes nothing: exit 2 with file:line, no transition', async () => {
    await base();
    const m1 = r1.lines.length;
    const good = labConfig('r1', [inst(150)], [], blocks(join(dir, 'ok.sh')));
    r1.rewrite(good.replace('    priority 150', '    priority 150\n    priorty 3'));
    const r = await runCliIn(lab, 'r1', 'vipctl', ['reload', '--socket', r1.socket]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`^vipctl: reload refused, nothing changed: .*${r1.conf.replace(/[.]/g, '\\.')}:\\d+:\\d+: unknown keyword 'priorty'`));
    await sleep(700);
    expect(transitions(r1, m1)).toEqual([]);
    expect(holdersOf(lab, ['r1', 'r2'], VIPS[2]!)).toEqual(['r1']);
  }, 30_000);

  it('a route the kernel refuses, with a new VIP: exit 1 naming the route and errno, the running configuration put back (the new VIP removed again, the old ones kept, still MASTER)', async () => {
    await base();
    const ping = new Pinger(lab, 'client', '192.0.2.11');
    await ping.ready();
    const m1 = r1.lines.length;
    const mon = lab.spawn(lab.node('r1').ns, ['ip', '-o', 'monitor', 'address']);
    let events = '';
    mon.stdout!.on('data', (d: Buffer) => (events += d.toString()));
    await sleep(200);
    // .13 dropped, .15 added, and a route the kernel refuses
    const bad = inst(150, { vips: ['192.0.2.11/24', '192.0.2.12/24', '192.0.2.15/24'], extra: ['track_script {', '    chk', '}', 'virtual_routes {', '    198.51.100.0/24 via 203.0.113.1 dev eth0', '}'] });
    r1.rewrite(labConfig('r1', [bad], [], blocks(join(dir, 'ok.sh'))));
    const r = await reload(r1);
    expect(r.code).toBe(1);
    expect(r.out).toMatchObject({ ok: false, kind: 'failed' });
    expect(r.out?.error).toMatch(/^the kernel refused route 198\.51\.100\.0\/24 .*via 203\.0\.113\.1 dev eth0: ENETUNREACH; the running configuration was put back$/);
    await sleep(500);
    mon.kill('SIGTERM');
    expect(events).not.toMatch(/Deleted.*192\.0\.2\.13\//); // the reload's deletes wait for its confirmation
    expect(holdersOf(lab, ['r1', 'r2'], '192.0.2.15/24')).toEqual([]);
    for (const v of VIPS) expect(holdersOf(lab, ['r1', 'r2'], v)).toEqual(['r1']);
    const p = await ping.stop();
    expect(p.lost, JSON.stringify(p)).toBe(0);
    expect(transitions(r1, m1)).toEqual([]);
    const status = JSON.parse((await runCliIn(lab, 'r1', 'vipctl', ['status', '--json', '--socket', r1.socket])).stdout) as { instances: { vips: string[]; state: string }[] };
    expect(status.instances[0]).toMatchObject({ state: 'MASTER', vips: VIPS });
    expect(r1.lines.slice(m1).some((l) => /^reload failed: the kernel refused/.test(l.msg))).toBe(true);
  }, 30_000);

  it("an instance on an interface that does not exist: refused (exit 2, file:line); with dynamic_interfaces it waits, starts when the interface appears, and restarts when it is created again", async () => {
    await base();
    const m1 = r1.lines.length;
    const ns = lab.node('r1').ns;
    const waiter: LabInstance = { name: 'VI_9', interface: 'eth9', vrid: 9, priority: 150, advertInt: 0.5, version: 3, vips: ['203.0.113.9/24'] };
    const conf = (global: string[]): string => labConfig('r1', [inst(150), waiter], global, blocks(join(dir, 'ok.sh')));
    r1.rewrite(conf([]));
    const refused = await reload(r1);
    expect(refused.code).toBe(2);
    expect(refused.out?.error).toMatch(new RegExp(`^${r1.conf.replace(/[.]/g, '\\.')}:\\d+: interface eth9: interface eth9 does not exist in this network namespace$`));
    r1.rewrite(conf(['dynamic_interfaces']));
    const waits = await reload(r1);
    expect(waits.code, waits.stderr).toBe(0);
    expect(waits.out?.result).toMatchObject({ inPlace: [], restarted: [], added: [], waiting: [{ instance: 'VI_9', interface: 'eth9' }] });
    const st = JSON.parse((await runCliIn(lab, 'r1', 'vipctl', ['status', '--json', '--socket', r1.socket])).stdout) as { waiting?: unknown };
    expect(st.waiting).toEqual([{ instance: 'VI_9', interface: 'eth9' }]);
    expect(r1.lines.slice(m1).some((l) => l.msg.startsWith("Configuration specifies interface eth9 which doesn't currently exist - will use if created"))).toBe(true);
    const make = (): void => {
      lab.exec(ns, ['ip', 'link', 'add', 'eth9', 'type', 'veth', 'peer', 'name', 'eth9p']);
      lab.exec(ns, ['ip', 'addr', 'add', '203.0.113.1/24', 'dev', 'eth9']);
      lab.exec(ns, ['ip', 'link', 'set', 'eth9p', 'up']);
      lab.exec(ns, ['ip', 'link', 'set', 'eth9', 'up']);
    };
    make();
    const onEth9 = async (): Promise<void> => {
      const end = Date.now() + 3000;
      while (!lab.addresses('r1', 'eth9').includes('203.0.113.9/24')) {
        if (Date.now() > end) throw new Error('203.0.113.9/24 is not on eth9');
        await sleep(50);
      }
    };
    await r1.waitFor((l) => r1.lines.indexOf(l) >= m1 && l.instance === 'VI_9' && l.to === 'MASTER', 10_000, 'VI_9 master once eth9 exists');
    await onEth9();
    const m2 = r1.lines.length;
    lab.exec(ns, ['ip', 'link', 'del', 'eth9']);
    make();
    await r1.waitFor((l) => r1.lines.indexOf(l) >= m2 && l.instance === 'VI_9' && l.to === 'MASTER', 10_000, 'VI_9 master again on the new eth9');
    expect(r1.lines.slice(m2).some((l) => l.msg === 'interface eth9 was deleted and created again: its instances restart on it (dynamic_interfaces)')).toBe(true);
    await onEth9();
    expect(transitions(r1, m1).filter((l) => l.instance === 'VI_51')).toEqual([]);
    lab.exec(ns, ['ip', 'link', 'del', 'eth9']);
  }, 40_000);

  it('a unicast peer added (a controller joins): restarted on a new socket with its state kept, no lost reply, no priority 0, no notify, no transition on the backup', async () => {
    await base();
    const uni = (peers: string[], prio: number, src: string): LabInstance => inst(prio, { unicastSrc: src, unicastPeers: peers });
    r1.rewrite(labConfig('r1', [uni(['192.0.2.2'], 150, '192.0.2.1')], [], blocks(join(dir, 'ok.sh'))));
    r2.rewrite(labConfig('r2', [uni(['192.0.2.1'], 100, '192.0.2.2')], [], blocks(join(dir, 'ok.sh'))));
    expect((await reload(r2)).out?.result?.stateKept).toEqual(['VI_51']);
    expect((await reload(r1)).out?.result?.stateKept).toEqual(['VI_51']);
    await sleep(1500);
    const ping = new Pinger(lab, 'client', '192.0.2.11');
    await ping.ready();
    const [m1, m2, t0, n1] = [r1.lines.length, r2.lines.length, sniff.mark, notified('r1').length];
    r1.rewrite(labConfig('r1', [uni(['192.0.2.2', '192.0.2.3'], 150, '192.0.2.1')], [], blocks(join(dir, 'ok.sh'))));
    const r = await reload(r1);
    expect(r.code, r.stderr).toBe(0);
    expect(r.out?.result).toMatchObject({ restarted: ['VI_51'], stateKept: ['VI_51'] });
    await sleep(1500);
    const p = await ping.stop();
    expect(p.lost, JSON.stringify(p)).toBe(0);
    expect(transitions(r1, m1).map((l) => `${l.to} ${l.reason}`)).toEqual(['MASTER resumed after reload']); // the old runner went silently
    expect(transitions(r2, m2)).toEqual([]);
    expect(sniff.adverts(51, t0).filter((a) => a.priority === 0)).toEqual([]);
    expect(notified('r1').slice(n1)).toEqual([]);
    expect(holdersOf(lab, ['r1', 'r2'], VIPS[0]!)).toEqual(['r1']);
  }, 40_000);

  it('the master\'s instance put into a sync group (with its own notify): state kept, no notify from the instance or the group, no lost reply', async () => {
    await base();
    const ping = new Pinger(lab, 'client', '192.0.2.11');
    await ping.ready();
    const [m1, n1] = [r1.lines.length, notified('r1').length];
    const group = ['vrrp_sync_group G1 {', '    group {', '        VI_51', '    }', `    notify ${join(dir, 'notify-r1.sh')}`, '}', ''];
    r1.rewrite(labConfig('r1', [inst(150)], [], [...blocks(join(dir, 'ok.sh')), ...group]));
    const r = await reload(r1);
    expect(r.code, r.stderr).toBe(0);
    expect(r.out?.result).toMatchObject({ restarted: ['VI_51'], stateKept: ['VI_51'] });
    await sleep(1000);
    expect((await ping.stop()).lost).toBe(0);
    expect(notified('r1').slice(n1)).toEqual([]);
    expect(transitions(r1, m1).map((l) => `${l.to} ${l.reason}`)).toEqual(['MASTER resumed after reload']);
    const st = JSON.parse((await runCliIn(lab, 'r1', 'vipctl', ['status', '--json', '--socket', r1.socket])).stdout) as { syncGroups: { name: string; state: string }[]; instances: { stats: { advertsSent: number } }[] };
    expect(st.syncGroups).toMatchObject([{ name: 'G1', state: 'MASTER' }]);
    expect(st.instances[0]!.stats.advertsSent).toBeGreaterThan(10); // counted on from the runner it replaced
  }, 30_000);

  it('100 instances at 10 ms adverts on both routers, one of them changed by a reload: no transition anywhere', async () => {
    const many = (prio: number, changed = -1): LabInstance[] => Array.from({ length: 100 }, (_, k) => ({
      vrid: 100 + k, priority: k === changed ? prio - 5 : prio, advertInt: 0.01, version: 3 as const, vips: [`198.51.100.${k + 1}/32`],
    }));
    await sniff.stop(); // 20 000 adverts a second: the sniffer's parsing would take a core from the routers
    // vrrp_rt_priority, as docs/daemon.md advises for 10 ms adverts: what is measured is the
    // reload's own hold on the event loop, not the other processes of a shared machine
    const rt = ['vrrp_rt_priority 50'];
    // daemons started afresh with this configuration (the ones of the tests above have been
    // through a dozen reloads; with them the reload below held r1's loop past 36 ms once in CI:
    // an open question, docs/daemon.md)
    await r1.stop();
    await r2.stop();
    r1 = new VipdProcess(lab, 'r1', dir, labConfig('r1', many(150), rt));
    r2 = new VipdProcess(lab, 'r2', dir, labConfig('r2', many(100), rt));
    r1.start();
    await r1.waitFor((l) => l.instance === 'VI_199' && l.to === 'MASTER', 15_000, 'r1 master of all');
    r2.start();
    await r2.waitFor((l) => l.instance === 'VI_199' && l.to === 'BACKUP', 15_000, 'r2 backup');
    await sleep(2000);
    expect(holdersOf(lab, ['r1', 'r2'], '198.51.100.100/32')).toEqual(['r1']);
    // a quiet window first: a host too busy for 100 instances at 10 ms shows here, not as the reload's fault
    let [m1, m2] = [r1.lines.length, r2.lines.length];
    await sleep(2000);
    expect([...transitions(r1, m1), ...transitions(r2, m2)], 'transitions without a reload').toEqual([]);
    [m1, m2] = [r1.lines.length, r2.lines.length];
    r1.rewrite(labConfig('r1', many(150, 42), rt));
    const r = await reload(r1);
    expect(r.out?.result).toMatchObject({ inPlace: ['VI_142'], restarted: [], changes: { VI_142: ['priority 150 -> 145'] } });
    await sleep(3000);
    expect(transitions(r1, m1)).toEqual([]);
    expect(transitions(r2, m2)).toEqual([]);
  }, 40_000);
});
