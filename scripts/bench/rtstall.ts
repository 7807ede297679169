/**
 * `--only rt`: does a master under SCHED_RR keep advertising beside busy processes when only
 * its main thread is real-time (what vipd's vrrp_rt_priority did before the sixth round)
 * and when every thread is? Both daemons start without vrrp_rt_priority and the bench sets
 * SCHED_RR 50 from outside with chrt, on the main thread or on all of them (what
 * `src/os/sched.ts` does now). 100 VRIDs at 10 ms, two busy loops; the largest gap between
 * adverts of VRID 1 as r2 receives them (tcpdump's kernel timestamps), and the run-queue
 * wait of the master's main thread and the largest of its other threads.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { labConfig } from '../../src/lab/conf.js';
import { LabDaemon } from '../../src/lab/daemon-proc.js';
import type { NetnsLab } from '../../src/lab/netns.js';
import { mainWaitMs, otherWaitMs, threadWaits } from './stalls.js';

export type RtMode = 'main thread' | 'every thread';

export interface RtStallResult {
  mode: RtMode;
  seconds: number;
  adverts: number;
  maxGapMs: number;
  /** gaps longer than Master_Down_Interval at priority 100 (36.1 ms) */
  over36: number;
  mainWaitMs: number;
  otherWaitMs: number;
}

const N = 100;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function rtStall(lab: NetnsLab, dir: string, mode: RtMode, seconds: number): Promise<RtStallResult> {
  const insts = (p: number) => Array.from({ length: N }, (_, k) => ({ name: `VI_${k + 1}`, vrid: k + 1, priority: p, advertInt: 0.01, version: 3 as const, vips: [`198.51.100.${k + 1}/32`] }));
  const a = new LabDaemon(lab, 'vipd', 'r1', dir);
  const b = new LabDaemon(lab, 'vipd', 'r2', dir);
  const started: ChildProcess[] = [];
  try {
    a.start(labConfig('r1', insts(150), ['vrrp_version 3']));
    b.start(labConfig('r2', insts(100), ['vrrp_version 3']));
    await sleep(4000); // every instance of r1 master, r2 backup; start-up's collections done
    for (const d of [a, b]) execFileSync('chrt', [...(mode === 'every thread' ? ['--all-tasks'] : []), '--rr', '--pid', '50', String(d.vrrpPid())]);
    // VRID 1 from r1 (192.0.2.1) as r2 receives it; the VRRP header follows a 20-byte IPv4 header
    const dump = lab.spawn(lab.node('r2').ns, ['tcpdump', '-tt', '-n', '-l', '-i', 'eth0', 'ip proto 112 and ip[21] = 1 and src host 192.0.2.1'], { stdio: ['ignore', 'pipe', 'ignore'] });
    started.push(dump);
    const times: number[] = [];
    createInterface({ input: dump.stdout! }).on('line', (l) => {
      const t = Number(l.split(' ')[0]);
      if (t > 0) times.push(t);
    });
    await sleep(1000);
    const from = times.length;
    const pid = a.vrrpPid()!;
    const w0 = threadWaits(pid);
    for (let i = 0; i < 2; i++) started.push(spawn('sh', ['-c', 'while :; do :; done'], { stdio: 'ignore' }));
    await sleep(seconds * 1000);
    const w1 = threadWaits(pid);
    const seen = times.slice(from);
    const gaps = seen.slice(1).map((t, i) => (t - seen[i]!) * 1000);
    return {
      mode, seconds, adverts: seen.length, maxGapMs: Math.max(0, ...gaps), over36: gaps.filter((g) => g > 36.1).length,
      mainWaitMs: mainWaitMs(w0, w1, pid), otherWaitMs: otherWaitMs(w0, w1, pid),
    };
  } finally {
    for (const p of started) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    await a.signal('SIGTERM');
    await b.signal('SIGTERM');
  }
}
