/** The benchmark scenarios (issue: crash/graceful failover, outage, jitter, scale, start-up). */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { labConfig, type LabInstance } from '../../src/lab/conf.js';
import type { NetnsLab } from '../../src/lab/netns.js';
import { Capture, type Pkt } from './capture.js';
import { StallSampler, type StallInfo } from './stalls.js';
import { LabDaemon, type Impl } from '../../src/lab/daemon-proc.js';

export const VIP = '192.0.2.200';
const R = { r1: '192.0.2.1', r2: '192.0.2.2' };
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until<T>(fn: () => T | undefined | false, timeoutMs: number, what: string): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

function conf(impl: Impl, node: string, prefix: string, insts: LabInstance[], globals: string[] = []): string {
  return labConfig(impl === 'keepalived' ? `${prefix}-${node}` : node, insts, ['vrrp_version 3', ...globals]);
}

export interface FailoverResult {
  impl: Impl;
  intervalMs: number;
  kind: 'crash' | 'term';
  /** crash: last advert of r1 -> first advert of r2; term: priority-0 advert -> first advert of r2 */
  takeoverMs: number;
  /** to the first gratuitous ARP of r2 for the VIP (same origin as takeoverMs) */
  garpMs: number;
  /** term only: the signal -> first advert of r2 */
  killToAdvertMs: number | null;
  repliesLost: number;
  largestGapMs: number;
  /** the new master's run-queue wait and the machine's steal between r1's last advert and r2's first */
  stall: StallInfo;
  /** echo replies from r1's MAC after r2's first GARP (a VIP left behind) */
  staleReplies: number;
}

function logsOf(dir: string, impl: Impl): string {
  return ['r1', 'r2', 'r3'].map((n) => {
    try {
      return `--- ${impl} ${n}\n${readFileSync(join(dir, `${impl}-${n}.log`), 'utf8').slice(-2000)}`;
    } catch {
      return '';
    }
  }).join('\n');
}

export async function failover(lab: NetnsLab, dir: string, impl: Impl, intervalS: number, kind: 'crash' | 'term'): Promise<FailoverResult> {
  const cap = new Capture(lab, 'client');
  await cap.ready();
  const ds = ['r1', 'r2', 'r3'].map((n) => new LabDaemon(lab, impl, n, dir));
  const prios = [150, 100, 50];
  const inst = (p: number): LabInstance => ({ vrid: 51, priority: p, advertInt: intervalS, version: 3, vips: [`${VIP}/24`] });
  ds.forEach((d, i) => d.start(conf(impl, d.node, lab.prefix, [inst(prios[i]!)])));
  const ping = lab.spawn(lab.node('client').ns, ['ping', '-n', '-q', '-i', '0.01', '-W', '0.2', VIP], { stdio: ['ignore', 'ignore', 'ignore'] });
  try {
    await until(() => cap.find('vrrp', { src: R.r1, prioAbove: 0 }).length >= 3, 20_000 + 5000 * intervalS, 'r1 master');
    await sleep(Math.max(500, 3000 * intervalS));
    const sampler = new StallSampler(ds[1]!.vrrpPid()!, 5);
    let tk: number;
    if (kind === 'crash') tk = await ds[0]!.crash();
    else {
      tk = Date.now() / 1000;
      await ds[0]!.signal('SIGTERM');
    }
    const first = await until(() => cap.find('vrrp', { src: R.r2, after: tk, prioAbove: 0 })[0], 10_000 + 5000 * intervalS, 'r2 advert')
      .catch((e: Error) => { throw new Error(`${e.message}\n${logsOf(dir, impl)}`); });
    const garp = await until(() => cap.find('garp', { after: tk }).find((g) => g.srcMac === lab.node('r2').mac && g.src === VIP), 5000, 'r2 GARP');
    sampler.stop();
    await sleep(Math.max(1000, 2000 * intervalS));
    const origin = kind === 'crash'
      ? cap.find('vrrp', { src: R.r1, prioAbove: 0 }).filter((p) => p.t < first.t).at(-1)!.t
      : (cap.find('vrrp', { src: R.r1, after: tk }).find((p) => p.prio === 0)?.t ?? Number.NaN);
    const replies = cap.find('reply', { src: VIP }).filter((p) => p.t >= tk - 0.2 && p.t <= first.t + 0.5);
    let gap = 0;
    for (let i = 1; i < replies.length; i++) gap = Math.max(gap, replies[i]!.t - replies[i - 1]!.t);
    const seqs = replies.map((p) => p.seq!);
    const lost = seqs.length ? Math.max(...seqs) - Math.min(...seqs) + 1 - new Set(seqs).size : Number.NaN;
    const stale = cap.find('reply', { src: VIP, after: garp.t }).filter((p) => p.srcMac === lab.node('r1').mac).length;
    return {
      impl, intervalMs: intervalS * 1000, kind,
      takeoverMs: (first.t - origin) * 1000, garpMs: (garp.t - origin) * 1000,
      killToAdvertMs: kind === 'term' ? (first.t - tk) * 1000 : null,
      repliesLost: lost, largestGapMs: gap * 1000, staleReplies: stale, stall: sampler.around(origin, first.t, (first.t - origin) * 1000),
    };
  } finally {
    ping.kill('SIGINT');
    for (const d of ds) await d.signal('SIGTERM');
    await cap.stop();
    for (const n of ['r1', 'r2', 'r3']) lab.exec(lab.node(n).ns, ['ip', 'addr', 'del', `${VIP}/24`, 'dev', 'eth0'], { allowFail: true });
  }
}

export interface JitterResult {
  impl: Impl;
  seconds: number;
  adverts: number;
  p50: number;
  p99: number;
  max: number;
  spurious: number;
  /** the 5 largest gaps with the master's run-queue wait and the machine's steal around each */
  worst: StallInfo[];
  /** over the whole run: the master's run-queue wait, the largest of one of its other threads, the machine's steal (ms) */
  runDelayMs: number;
  otherDelayMs: number;
  stealMs: number;
}

/**
 * 10 ms adverts for `seconds` with two CPU hogs; interval statistics of the master on the
 * wire. `globals`: extra global_defs for both daemons (e.g. vrrp_priority).
 */
export async function jitter(lab: NetnsLab, dir: string, impl: Impl, seconds: number, globals: string[] = []): Promise<JitterResult> {
  const cap = new Capture(lab, 'client');
  await cap.ready();
  const a = new LabDaemon(lab, impl, 'r1', dir);
  const b = new LabDaemon(lab, impl, 'r2', dir);
  const inst = (p: number): LabInstance => ({ vrid: 52, priority: p, advertInt: 0.01, version: 3, vips: ['192.0.2.201/24'] });
  a.start(conf(impl, 'r1', lab.prefix, [inst(150)], globals));
  b.start(conf(impl, 'r2', lab.prefix, [inst(100)], globals));
  const hogs = [0, 1].map(() => spawn('sh', ['-c', 'while :; do :; done'], { stdio: 'ignore' }));
  try {
    await until(() => cap.find('vrrp', { src: R.r1, vrid: 52 }).length >= 10, 20_000, 'r1 master');
    const sampler = new StallSampler(a.vrrpPid()!);
    const t0 = Date.now() / 1000;
    await sleep(seconds * 1000);
    const t1 = Date.now() / 1000;
    sampler.stop();
    const ads = cap.find('vrrp', { vrid: 52, after: t0 }).filter((p) => p.t <= t1);
    const own = ads.filter((p) => p.src === R.r1);
    const spans = own.slice(1).map((p, i) => ({ from: own[i]!.t, to: p.t, ms: (p.t - own[i]!.t) * 1000 }));
    const gaps = spans.map((g) => g.ms).sort((x, y) => x - y);
    const q = (f: number): number => gaps[Math.min(gaps.length - 1, Math.floor(f * gaps.length))] ?? Number.NaN;
    const worst = [...spans].sort((x, y) => y.ms - x.ms).slice(0, 5).map((g) => sampler.around(g.from, g.to, g.ms));
    return {
      impl, seconds, adverts: own.length, p50: q(0.5), p99: q(0.99), max: gaps.at(-1) ?? Number.NaN,
      spurious: ads.filter((p) => p.src !== R.r1).length, worst, ...sampler.totals(),
    };
  } finally {
    for (const h of hogs) h.kill('SIGKILL');
    await a.signal('SIGTERM');
    await b.signal('SIGTERM');
    await cap.stop();
  }
}

export interface ScaleResult {
  impl: Impl;
  vrids: number;
  lans: number;
  /** VRIDs seen mastered by r1 (all of them unless convergence timed out: convergeMs NaN) */
  mastered: number;
  convergeLimitMs: number;
  intervalMs: number;
  convergeMs: number;
  masterCpuPct: number;
  backupCpuPct: number;
  masterRssMb: number;
  backupRssMb: number;
  /** RSS once start-up has settled: the largest of 3 samples from SETTLED_S after the start */
  masterSettledMb: number;
  backupSettledMb: number;
  /** The private part of the settled figure (RssAnon: no pages of the binary or libraries) */
  masterSettledAnonMb: number;
  backupSettledAnonMb: number;
}

/**
 * When RSS counts as settled: V8's memory reducer gives back the start-up heap about 8 s
 * after the last full collection of start-up (at 1000 instances, ~4 s in).
 */
export const SETTLED_S = 20;

/** Instances for a scale run: one interface, or `lans` interfaces (eth0/eth1 IPv4, eth2/eth3 IPv6). */
function scaleInstances(vrids: number, lans: number, intervalS: number, p: number): LabInstance[] {
  const per = Math.ceil(vrids / lans);
  return Array.from({ length: vrids }, (_, i) => {
    const lan = Math.floor(i / per);
    const k = i % per; // VRIDs are per interface: 1..per on each
    // 255 VRIDs on one interface need more than 254 host addresses: two documentation ranges
    const vip = lan >= 2 ? `2001:db8:${lan}::${(k + 1).toString(16)}/128` : lans === 1 ? (k < 254 ? `198.51.100.${k + 1}/32` : `203.0.113.${k - 253}/32`) : `${lan === 0 ? '198.51.100' : '203.0.113'}.${k + 1}/32`;
    return { name: `VI_${lan}_${k + 1}`, vrid: k + 1, interface: `eth${lan}`, priority: p, advertInt: intervalS, version: 3 as const, vips: [vip] };
  });
}

/**
 * `vrids` instances, r1 master of all, r2 backup of all; `lans` 1 (captured in the client) or
 * 4 (the lab must have eth1..eth3 on r1 and r2; captured in r2 on each interface).
 */
export async function scale(lab: NetnsLab, dir: string, impl: Impl, vrids: number, intervalS: number, windowS: number, lans = 1): Promise<ScaleResult> {
  const caps = lans === 1 ? [new Capture(lab, 'client')] : Array.from({ length: lans }, (_, k) => new Capture(lab, 'r2', `eth${k}`));
  for (const c of caps) await c.ready();
  const a = new LabDaemon(lab, impl, 'r1', dir);
  const b = new LabDaemon(lab, impl, 'r2', dir);
  b.start(conf(impl, 'r2', lab.prefix, scaleInstances(vrids, lans, intervalS, 100)));
  a.start(conf(impl, 'r1', lab.prefix, scaleInstances(vrids, lans, intervalS, 150)));
  // r1's adverts on LAN k come from its MAC there (IPv6 sources are link-local)
  const fromR1 = (k: number): Pkt[] => caps[k]!.find('vrrp', { srcMac: lans === 1 ? lab.node('r1').mac : `02:00:00:00:0${k}:01`, after: a.startedAt });
  const mastered = (): number => caps.reduce((n, _c, k) => n + new Set(fromR1(k).map((p) => p.vrid)).size, 0);
  try {
    // keepalived with 1000 instances on 2 vCPUs may not get there: reported, not fatal
    const limitMs = 60_000 + 4000 * intervalS;
    const all = await until(() => mastered() >= vrids, limitMs, '').then(() => true, () => false);
    const masteredCount = mastered();
    let last = 0;
    for (let k = 0; k < caps.length; k++) {
      const firsts = new Map<number, number>();
      for (const p of fromR1(k)) if (!firsts.has(p.vrid!)) firsts.set(p.vrid!, p.t);
      last = Math.max(last, ...firsts.values());
    }
    const convergeMs = all ? (last - a.startedAt) * 1000 : Number.NaN;
    for (const c of caps) await c.stop(); // tcpdump would compete for the CPU being measured
    await sleep(1000);
    const c0 = [a.cpuSeconds(), b.cpuSeconds()];
    // RSS is the peak of one sample a second: V8's heap grows and shrinks between collections
    const rss = [0, 0];
    for (let t = 0; t < windowS; t++) {
      await sleep(1000);
      rss[0] = Math.max(rss[0]!, a.rssKb());
      rss[1] = Math.max(rss[1]!, b.rssKb());
    }
    const c1 = [a.cpuSeconds(), b.cpuSeconds()];
    const settled = [0, 0, 0, 0];
    await sleep(Math.max(0, (a.startedAt + SETTLED_S) * 1000 - Date.now()));
    for (let t = 0; t < 3; t++) {
      settled[0] = Math.max(settled[0]!, a.rssKb());
      settled[1] = Math.max(settled[1]!, b.rssKb());
      settled[2] = Math.max(settled[2]!, a.rssKb('RssAnon'));
      settled[3] = Math.max(settled[3]!, b.rssKb('RssAnon'));
      if (t < 2) await sleep(1000);
    }
    return {
      impl, vrids, lans, intervalMs: intervalS * 1000, convergeMs, mastered: masteredCount, convergeLimitMs: limitMs,
      masterCpuPct: ((c1[0]! - c0[0]!) / windowS) * 100, backupCpuPct: ((c1[1]! - c0[1]!) / windowS) * 100,
      masterRssMb: rss[0]! / 1024, backupRssMb: rss[1]! / 1024, masterSettledMb: settled[0]! / 1024, backupSettledMb: settled[1]! / 1024,
      masterSettledAnonMb: settled[2]! / 1024, backupSettledAnonMb: settled[3]! / 1024,
    };
  } finally {
    await a.signal('SIGTERM');
    await b.signal('SIGTERM');
    for (const c of caps) await c.stop();
  }
}

export interface StartupResult {
  impl: Impl;
  role: 'owner' | 'backup-start';
  ms: number;
}

/** exec -> first gratuitous ARP for the VIP, alone on the LAN. */
export async function startup(lab: NetnsLab, dir: string, impl: Impl, role: 'owner' | 'backup-start'): Promise<StartupResult> {
  const cap = new Capture(lab, 'client');
  await cap.ready();
  const a = new LabDaemon(lab, impl, 'r1', dir);
  a.start(conf(impl, 'r1', lab.prefix, [{ vrid: 53, priority: role === 'owner' ? 255 : 100, advertInt: 0.1, version: 3, vips: ['192.0.2.202/24'] }]));
  try {
    const g = await until(() => cap.find('garp', { after: a.startedAt }).find((p) => p.src === '192.0.2.202'), 20_000, 'GARP');
    return { impl, role, ms: (g.t - a.startedAt) * 1000 };
  } finally {
    await a.signal('SIGTERM');
    await cap.stop();
    lab.exec(lab.node('r1').ns, ['ip', 'addr', 'del', '192.0.2.202/24', 'dev', 'eth0'], { allowFail: true });
  }
}
