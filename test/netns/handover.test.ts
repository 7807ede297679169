/**
 * Planned handover (issue #26) on three routers (r1 150, r2 100 nopreempt, r3 50; VRRPv3,
 * 100 ms adverts) and a client pinging the VIP every 10 ms: `vipctl handover` to anyone and
 * to a named router loses no reply and the VIP is on one router but for the instant the old
 * master takes to hear the new one (make-before-break); refusals (a target that does not
 * preempt, one never heard, a backup asked, nobody left) change nothing; maintenance moves
 * the VIP away without loss, survives a restart of the daemon, and off gives it back by
 * ordinary preemption.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { labConfig, type LabInstance } from '../../src/lab/conf.js';
import { NetnsLab } from '../../src/lab/netns.js';
import { Holders } from '../../src/lab/openstack/watch.js';
import { HANDOVER_GRACE_MS } from '../../src/daemon/runner.js';
import type { InstanceStatus } from '../../src/daemon/status.js';
import { Pinger } from '../helpers/pinger.js';
import { runCliIn, teardown, VipdProcess } from '../helpers/vipd.js';

const lab = new NetnsLab('vt', 'ho');
const VIP = '192.0.2.200';
const ROUTERS = ['r1', 'r2', 'r3'] as const;
let dir = '';
let holders: Holders;
const d: Record<string, VipdProcess> = {};
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
/**
 * Both hold the VIP from the new master's add to the old one's delete: the grace the old one
 * gives the new one's gratuitous ARP (HANDOVER_GRACE_MS), one advert's way and a netlink delete.
 */
const OVERLAP_MS = HANDOVER_GRACE_MS + 50;

const inst = (priority: number, o: Partial<LabInstance> = {}): LabInstance => ({ vrid: 51, priority, advertInt: 0.1, version: 3, vips: [`${VIP}/24`], ...o });
const conf = (r: string): string => labConfig(r, [inst(r === 'r1' ? 150 : r === 'r2' ? 100 : 50, r === 'r2' ? { nopreempt: true } : {})]);

async function vipctl(r: string, args: string[]): Promise<{ code: number | null; json: { ok: boolean; result?: Record<string, unknown>[]; error?: string } | null; stdout: string; stderr: string }> {
  const x = await runCliIn(lab, r, 'vipctl', [...args, '--json', '--socket', d[r]!.socket]);
  let json = null;
  try {
    json = JSON.parse(x.stdout) as never;
  } catch {
    // a usage error prints no JSON
  }
  return { code: x.code, json, stdout: x.stdout, stderr: x.stderr };
}
async function status(r: string): Promise<InstanceStatus> {
  const x = await runCliIn(lab, r, 'vipctl', ['status', '--json', '--socket', d[r]!.socket]);
  return (JSON.parse(x.stdout) as { instances: InstanceStatus[] }).instances[0]!;
}
async function holder(want: string, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (holders.now().join() !== want) {
    if (Date.now() > end) throw new Error(`the VIP is on [${holders.now().join()}], not ${want}`);
    await sleep(20);
  }
}
/** Run `body` with the client pinging the VIP every 10 ms; returns lost replies and the longest two-holder overlap. */
async function measured(body: () => Promise<void>): Promise<{ lost: number; maxGapMs: number; overlapMs: number }> {
  const ping = new Pinger(lab, 'client', VIP);
  await ping.ready();
  const t0 = Date.now();
  await body();
  await sleep(300);
  const r = await ping.stop();
  return { lost: r.lost, maxGapMs: r.maxGapMs, overlapMs: holders.overlap(t0, Date.now()).ms };
}

beforeAll(async () => {
  NetnsLab.requireRoot();
  NetnsLab.cleanStale();
  dir = mkdtempSync(join(tmpdir(), 'vipd-handover-'));
  lab.build([...ROUTERS.map((name, i) => ({ name, n: i + 1 })), { name: 'client', n: 100 }]);
  holders = new Holders(lab, [...ROUTERS], VIP);
  holders.start();
  for (const r of ROUTERS) {
    d[r] = new VipdProcess(lab, r, dir, conf(r));
    d[r].extraArgs = ['--maintenance-file', join(dir, `maintenance-${r}.json`)];
  }
  d.r1!.start();
  await d.r1!.waitState('MASTER', 15_000);
  d.r2!.start();
  d.r3!.start();
  await d.r2!.waitState('BACKUP', 15_000);
  await d.r3!.waitState('BACKUP', 15_000);
  await holder('r1');
}, 60_000);
afterEach(async () => {
  for (const p of Pinger.live) await p.stop().catch(() => undefined);
});
afterAll(async () => {
  await holders?.stop();
  await teardown(lab, dir, Object.values(d));
});

describe('vipctl handover', () => {
  it('to anyone: r1 resigns with its VIP kept, r2 (the highest backup, nopreempt) takes over; no reply lost; r1 then does not preempt r2', async () => {
    let out: Awaited<ReturnType<typeof vipctl>> | null = null;
    const m = await measured(async () => {
      out = await vipctl('r1', ['handover', 'VI_51']);
    });
    expect(out!.code, out!.stderr + out!.stdout).toBe(0);
    expect(out!.json!.result![0]).toMatchObject({ instance: 'VI_51', ok: true, method: 'resign', master: '192.0.2.2', priority: 100 });
    expect(out!.json!.result![0]!.ms as number).toBeLessThan(1000); // Skew_Time of r2 at 100 ms adverts: 61 ms
    expect(m.lost).toBe(0);
    expect(m.overlapMs).toBeLessThanOrEqual(OVERLAP_MS);
    await holder('r2').catch((e: Error) => {
      throw new Error(`${e.message}\n${ROUTERS.map((r) => `${r}: ${d[r]!.lines.filter((l) => l.to || /handover|handed/.test(String(l.msg))).map((l) => JSON.stringify(l)).join('\n')}`).join('\n')}`);
    });
    await sleep(1500); // 4 × r1's Master_Down_Interval: r1 (150, preempt) yields to r2
    expect(holders.now()).toEqual(['r2']);
    const s = await status('r1');
    expect(s).toMatchObject({ state: 'BACKUP', effectivePriority: 150, yieldsTo: '192.0.2.2', handover: null });
    expect(s.peers.map((p) => p.address)).toContain('192.0.2.2');
  });

  it('--to a router that has advertised: r2 advertises 149, r1 (150) preempts it; no reply lost', async () => {
    let out: Awaited<ReturnType<typeof vipctl>> | null = null;
    const m = await measured(async () => {
      out = await vipctl('r2', ['handover', '--to', '192.0.2.1']);
    });
    expect(out!.code, out!.stderr + out!.stdout).toBe(0);
    expect(out!.json!.result![0]).toMatchObject({ ok: true, method: 'preempt', master: '192.0.2.1', priority: 150 });
    expect(m.lost).toBe(0);
    expect(m.overlapMs).toBeLessThanOrEqual(OVERLAP_MS);
    await holder('r1');
  });

  it('refused, nothing changed: --to a router with preemption off (r2), --to one never heard (r3), asked on a backup', async () => {
    const before = await status('r1');
    let out: Awaited<ReturnType<typeof vipctl>> | null = null;
    const m = await measured(async () => {
      out = await vipctl('r1', ['handover', '--to', '192.0.2.2']);
    });
    expect(out!.code).toBe(2);
    expect(out!.json!.result![0]).toMatchObject({ ok: false, kind: 'refused' });
    expect(String(out!.json!.result![0]!.error)).toMatch(/192\.0\.2\.2 did not take over within \d+ ms \(its preemption is off, or it is down\); VI_51 is still MASTER, nothing changed/);
    expect(m.lost).toBe(0);
    expect(holders.now()).toEqual(['r1']);
    const after = await status('r1');
    expect(after).toMatchObject({ state: 'MASTER', effectivePriority: 150, handover: null });
    expect(after.transitions).toBe(before.transitions);

    const never = await vipctl('r1', ['handover', '--to', '192.0.2.3']);
    expect(never.code).toBe(2);
    expect(String(never.json!.result![0]!.error)).toMatch(/192\.0\.2\.3 has not advertised on VI_51, so its priority is unknown/);
    const backup = await vipctl('r3', ['handover']);
    expect(backup.code).toBe(2);
    expect(String(backup.json!.result![0]!.error)).toBe('VI_51 is BACKUP, not MASTER (the master is 192.0.2.1): run handover on the master');
    const text = await runCliIn(lab, 'r3', 'vipctl', ['handover', 'VI_9', '--socket', d.r3!.socket]);
    expect(text.code).toBe(2);
    expect(text.stderr).toContain('handover refused, nothing changed: no instance VI_9 (there is: VI_51)');
    expect(holders.now()).toEqual(['r1']);
  });
});

describe('vipctl maintenance', () => {
  it('on: r1 hands over and stays at priority 1, also after a restart of its daemon; off: r1 preempts the VIP back; no reply lost', async () => {
    let on: Awaited<ReturnType<typeof vipctl>> | null = null;
    const m1 = await measured(async () => {
      on = await vipctl('r1', ['maintenance', 'on', 'VI_51']);
    });
    expect(on!.code, on!.stderr + on!.stdout).toBe(0);
    expect(on!.json!.result![0]).toMatchObject({ ok: true, maintenance: true, state: 'BACKUP', master: '192.0.2.2' });
    expect(m1.lost).toBe(0);
    expect(JSON.parse(readFileSync(join(dir, 'maintenance-r1.json'), 'utf8'))).toEqual({ instances: ['VI_51'] });
    await holder('r2');
    // a restart: it comes back in maintenance, at priority 1, and leaves the VIP where it is
    await d.r1!.stop();
    d.r1!.start();
    await d.r1!.waitState('BACKUP', 15_000);
    await sleep(1500);
    expect(holders.now()).toEqual(['r2']);
    expect(await status('r1')).toMatchObject({ state: 'BACKUP', maintenance: true, effectivePriority: 1, priority: 150 });
    let off: Awaited<ReturnType<typeof vipctl>> | null = null;
    const m2 = await measured(async () => {
      off = await vipctl('r1', ['maintenance', 'off']);
      await holder('r1');
    });
    expect(off!.code).toBe(0);
    // off is ordinary preemption (RFC 9568 6.4.3): r2 lets go at r1's first advert, and a reply
    // in flight before the client hears r1's gratuitous ARP may be lost (keepalived alike)
    expect(m2.lost).toBeLessThanOrEqual(1);
    expect(m2.overlapMs).toBeLessThanOrEqual(OVERLAP_MS);
    expect(JSON.parse(readFileSync(join(dir, 'maintenance-r1.json'), 'utf8'))).toEqual({ instances: [] });
    expect(await status('r1')).toMatchObject({ state: 'MASTER', maintenance: false, effectivePriority: 150 });
  });

  it('a broken maintenance file refuses the start (exit 1, naming the file) before anything is touched', async () => {
    await d.r3!.stop();
    const bad = join(dir, 'maintenance-bad.json');
    writeFileSync(bad, '{"instances": "VI_51"}');
    const x = new VipdProcess(lab, 'r3', dir, conf('r3'), 'r3bad');
    x.extraArgs = ['--maintenance-file', bad];
    x.start();
    expect(await x.exited(15_000)).toBe(1);
    expect(x.stderr + x.lines.map((l) => JSON.stringify(l)).join('\n')).toContain(`the maintenance file ${bad} has no "instances" list of names: fix or remove it`);
    expect(x.lines.some((l) => l.to)).toBe(false); // no instance ever started
    d.r3!.start(); // back for the next test
    await d.r3!.waitState('BACKUP', 15_000);
  });

  it('a sync group moves together, make-before-break for every member (different intervals too); --all skips what is not master here', async () => {
    const VIP2 = '192.0.2.201';
    // VI_51 (100 ms) and VI_52 (1 s) in group G on each router, r1 the master of both
    const group = (r: string): string => {
      const p = r === 'r1' ? 150 : r === 'r2' ? 100 : 50;
      return labConfig(r, [inst(p), { vrid: 52, priority: p, advertInt: 1, version: 3, vips: [`${VIP2}/24`] }], [], ['vrrp_sync_group G {', '    group {', '        VI_51', '        VI_52', '    }', '}', '']);
    };
    for (const r of ROUTERS) d[r]!.rewrite(group(r));
    for (const r of ROUTERS) expect((await runCliIn(lab, r, 'vipctl', ['reload', '--socket', d[r]!.socket])).code, r).toBe(0);
    const both = async (): Promise<string[]> => (await Promise.all(ROUTERS.map(async (r) => [r, (await status(r)).state] as const))).filter(([, st]) => st === 'MASTER').map(([r]) => r);
    const end = Date.now() + 15_000;
    while ((await both()).join() !== 'r1' || !(await runCliIn(lab, 'r1', 'vipctl', ['status', '--json', '--socket', d.r1!.socket])).stdout.includes('"name":"VI_52","interface":"eth0","family":4,"vrid":52,"version":3,"state":"MASTER"')) {
      if (Date.now() > end) throw new Error('r1 is not master of both');
      await sleep(200);
    }
    const ping2 = new Pinger(lab, 'client', VIP2);
    await ping2.ready();
    let out: Awaited<ReturnType<typeof vipctl>> | null = null;
    const m = await measured(async () => {
      out = await vipctl('r1', ['handover', 'VI_51']); // VI_52 comes along
    });
    const p2 = await ping2.stop();
    expect(out!.code, out!.stderr + out!.stdout).toBe(0);
    expect(out!.json!.result!.map((o) => [o.instance, o.ok, o.master])).toEqual([['VI_51', true, '192.0.2.2'], ['VI_52', true, '192.0.2.2']]);
    expect(m.lost).toBe(0);
    expect(p2.lost).toBe(0);
    // --all on r2: master of both now; r3 (master of nothing) refuses
    const none = await vipctl('r3', ['handover', '--all']);
    expect(none.code).toBe(2);
    expect(none.json!.error).toMatch(/this router is master of no instance \(VI_51 BACKUP, VI_52 BACKUP\)/);
    const all = await vipctl('r2', ['handover', '--all']);
    expect(all.code, all.stdout).toBe(0);
    expect(all.json!.result!.every((o) => o.ok && o.master === '192.0.2.1')).toBe(true);
    // back to the single instance for the last test
    for (const r of ROUTERS) d[r]!.rewrite(conf(r));
    for (const r of ROUTERS) expect((await runCliIn(lab, r, 'vipctl', ['reload', '--socket', d[r]!.socket])).code, r).toBe(0);
    await holder('r1');
  });

  it('alone on the LAN: handover is refused after no router answered priority 0, and the VIP never left', async () => {
    await d.r2!.stop();
    await d.r3!.stop();
    let out: Awaited<ReturnType<typeof vipctl>> | null = null;
    const m = await measured(async () => {
      out = await vipctl('r1', ['handover']);
    });
    expect(out!.code).toBe(2);
    expect(String(out!.json!.result![0]!.error)).toMatch(/^no router took over within \d+ ms of priority 0 \(no other router runs, or none hears this one\); VI_51 is still MASTER, nothing changed$/);
    expect(m.lost).toBe(0);
    expect(holders.now()).toEqual(['r1']);
    expect(await status('r1')).toMatchObject({ state: 'MASTER', handover: null, effectivePriority: 150 });
  });
});
