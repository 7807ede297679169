/**
 * Issue #21's side-by-side: what a client sees while the master reloads its configuration,
 * vipd against keepalived 2.2.7 running the same keepalived.conf text (only router_id differs,
 * as in the other scenarios).
 *
 * Two routers, VRRPv3 IPv4, VI_51 = VRID 51, advert_int 1 s: r1 priority 150, r2 priority 100,
 * preemption on, three VIPs 192.0.2.11-13/24, and on each router a `vrrp_script chk`
 * (`/usr/bin/test -e FLAG`, FLAG a file of that router in the run's temp dir, always present)
 * tracked with weight 10: r1 advertises 160, r2 would 110. Each kind rewrites r1's file and
 * sends its daemon SIGHUP; the client pings the first VIP every 10 ms (`ping -i 0.01 -W 0.2`)
 * from 1 s before the signal to 4 s after it. Then the base file is written back, SIGHUP
 * again, and the pair must settle (r1 alone advertising 160 on VRID 51 for three adverts, the
 * three VIPs on r1 and nowhere else) before the next kind; if it does not within 40 s the pair
 * is started afresh. Per run, from ping's icmp_seq: replies lost, the longest gap between two
 * replies; from tcpdump in the client namespace (t - 1 s .. t + 4 s): adverts with priority 0,
 * changes of VRID 51's advertising router, gratuitous ARPs for the VIPs the kind did not
 * change; from the daemons' logs: transitions, and vipd's own account of the reload.
 */
import { closeSync, openSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cliCommand } from '../../src/lab/cli-command.js';
import { labConfig, type LabInstance } from '../../src/lab/conf.js';
import { LabDaemon, type Impl } from '../../src/lab/daemon-proc.js';
import type { NetnsLab } from '../../src/lab/netns.js';
import { Capture } from './capture.js';

export const RELOAD_KINDS = ['none', 'priority', 'vips', 'script', 'advert_int', 'handover', 'instance'] as const;
export type ReloadKind = (typeof RELOAD_KINDS)[number];

/** What each kind changes in r1's file (the table's first column). */
const KIND_TEXT: Record<ReloadKind, string> = {
  none: '1. nothing (a comment added at the top)',
  priority: '2. priority 150 -> 140 (still highest)',
  vips: '3. VIP .14 added, .13 removed',
  script: '4. chk: `test -f`, interval 2',
  advert_int: '5. advert_int 1 -> 0.5',
  handover: '6. priority 150 -> 90 (below r2: handover)',
  instance: '7. VI_52 (VRID 52, VIP .21) added',
};

const VRID = 51;
export const VIPS = ['192.0.2.11', '192.0.2.12', '192.0.2.13'];
const ADDED = '192.0.2.14';
const VIP2 = '192.0.2.21';
const R1 = '192.0.2.1';
const R1_MAC = '02:00:00:00:00:01';
const R2_MAC = '02:00:00:00:00:02';
const WEIGHT = 10;
const SETTLE_MS = 40_000;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
/** Bytes in `f` so far (0: not there yet): where a daemon's log had got to. */
export const size = (f: string): number => {
  try {
    return statSync(f).size;
  } catch {
    return 0;
  }
};

/** One run of one kind. */
export interface ReloadRun {
  impl: Impl;
  kind: ReloadKind;
  /** echo requests without a reply (ping's icmp_seq; the last one sent, in flight at the end, not counted) */
  lost: number;
  /** longest time without a reply, ms (between two replies, or from the last one to ping's end) */
  gapMs: number;
  /** duplicate replies (two hosts answering) */
  dups: number;
  /** adverts with priority 0 in the window, any router, any VRID */
  prio0: number;
  /** changes of the router advertising VRID 51 (priority > 0) in the window */
  masterChanges: number;
  /** gratuitous ARPs from the signal on for the VIPs the kind did not change, from r1 / from r2 */
  garpsUnchanged: [number, number];
  /** kind 3: gratuitous ARPs for the added VIP */
  garpsAdded: number;
  /** the priorities r1 advertised on VRID 51 in the window, each change once */
  r1Prios: number[];
  /** transitions in both daemons' logs after the signal, and vipd's account of the reload */
  logLines: string[];
}

/** The keepalived.conf text of `node` after `kind` (null: the base file). */
export function reloadConfig(routerId: string, node: 'r1' | 'r2', dir: string, kind: ReloadKind | null): string {
  const k = node === 'r1' ? kind : null;
  const flag = join(dir, `reload-ok-${node}`);
  const blocks = ['vrrp_script chk {', `    script "/usr/bin/test ${k === 'script' ? '-f' : '-e'} ${flag}"`, `    interval ${k === 'script' ? 2 : 1}`, `    weight ${WEIGHT}`, '}', ''];
  const prio = node === 'r2' ? 100 : k === 'priority' ? 140 : k === 'handover' ? 90 : 150;
  const vips = k === 'vips' ? [VIPS[0]!, VIPS[1]!, ADDED] : VIPS;
  const insts: LabInstance[] = [{ vrid: VRID, priority: prio, advertInt: k === 'advert_int' ? 0.5 : 1, version: 3, vips: vips.map((v) => `${v}/24`), extra: ['track_script {', '    chk', '}'] }];
  if (k === 'instance') insts.push({ vrid: 52, priority: 150, advertInt: 1, version: 3, vips: [`${VIP2}/24`] });
  const text = labConfig(routerId, insts, ['vrrp_version 3'], blocks);
  return k === 'none' ? `# reloaded: nothing changed\n${text}` : text;
}

/** LabDaemon with vipd at info level in JSON (its transitions and its reload account); SIGHUP without waiting for an exit. */
export class ReloadDaemon extends LabDaemon {
  /** Further arguments of `vipd run` (none here; the handover benchmark gives each its maintenance file). */
  vipdArgs: string[] = [];

  get logFile(): string {
    return join(this.dir, `${this.impl}-${this.node}.log`);
  }

  override start(config: string): void {
    if (this.impl !== 'vipd') return super.start(config);
    writeFileSync(this.confFile, config);
    const argv = [...cliCommand('vipd'), 'run', '-f', this.confFile, '--control-socket', this.controlSocket!, '--log-level', 'info', '--log-format', 'json', ...this.vipdArgs];
    this.startedAt = Date.now() / 1000;
    const log = openSync(this.logFile, 'w');
    const env = { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8' };
    this.proc = this.lab.spawn(this.lab.node(this.node).ns, argv, { stdio: ['ignore', log, log], env });
    closeSync(log);
  }

  /** Write `config` and send SIGHUP (keepalived: to the parent, which reloads its VRRP child). */
  reloadWith(config: string): void {
    writeFileSync(this.confFile, config);
    if (!this.running()) throw new Error(`${this.impl} on ${this.node} is not running\n${this.logTail(20)}`);
    this.proc!.kill('SIGHUP');
  }

  /** Transitions (both) and reload results (vipd) logged from byte `from` on, prefixed with the node. */
  linesSince(from: number): string[] {
    let text = '';
    try {
      text = readFileSync(this.logFile).subarray(from).toString('utf8');
    } catch {
      return [];
    }
    const out: string[] = [];
    for (const l of text.split('\n')) {
      if (this.impl === 'keepalived') {
        const m = /\((\w+)\) Entering (\w+) STATE/.exec(l);
        if (m) out.push(`${this.node} ${m[1]} ${m[2]}`);
        // keepalived drops an advert whose address list is not its own (unless skip_check_adv_addr)
        const a = /\((\w+)\) ip address associated with VRID \d+ not present in MASTER advert: (\S+)/.exec(l);
        if (a) out.push(`${this.node} ${a[1]}: ${a[2]} not in the master's advert (advert dropped)`);
        continue;
      }
      let o: { msg?: string; level?: number; to?: string; instance?: string; inPlace?: string[]; restarted?: string[]; added?: string[]; removed?: string[]; changes?: Record<string, string[]>; trackers?: { started?: string[] }; err?: unknown };
      try {
        o = JSON.parse(l) as typeof o;
      } catch {
        continue;
      }
      if (o.to && o.instance && o.msg?.includes('Entering')) out.push(`${this.node} ${o.instance} ${o.to}`);
      else if (o.msg === 'configuration reloaded') {
        const ch = (n: string): string => (o.changes?.[n]?.length ? ` (${o.changes[n]!.join(', ')})` : '');
        const part = (what: string, ns: string[] | undefined): string[] => (ns ?? []).map((n) => `${what} ${n}${ch(n)}`);
        const tr = o.trackers?.started?.length ? [`trackers started ${o.trackers.started.join(', ')}`] : [];
        const parts = [...part('in place', o.inPlace), ...part('restarted', o.restarted), ...part('added', o.added), ...part('removed', o.removed), ...tr];
        out.push(`${this.node} reloaded: ${parts.join('; ') || 'no change'}`);
      } else if ((o.level ?? 0) >= 50) out.push(`${this.node} error: ${o.msg}${o.err ? ` ${JSON.stringify(o.err)}` : ''}`);
    }
    return out;
  }
}

/** The client's ping of the first VIP: started now, stopped (SIGINT) by `stop`, which parses its output. */
export function startPing(lab: NetnsLab): { stop: () => Promise<{ lost: number; gapMs: number; dups: number }>; kill: () => void } {
  const p = lab.spawn(lab.node('client').ns, ['ping', '-n', '-D', '-i', '0.01', '-W', '0.2', VIPS[0]!], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  p.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  const exited = new Promise((r) => p.once('exit', r));
  // by its handle only: a no-op once Node has reaped it
  const kill = (): void => void (p.exitCode === null && p.signalCode === null && p.kill('SIGKILL'));
  return {
    kill,
    stop: async () => {
      const end = Date.now() / 1000;
      p.kill('SIGINT');
      await Promise.race([exited, sleep(3000)]);
      kill();
      const sent = Number(/(\d+) packets transmitted/.exec(out)?.[1]);
      if (!Number.isFinite(sent)) throw new Error(`ping printed no summary:\n${out.slice(-500)}`);
      const seen = new Set<number>();
      const times: number[] = [];
      let dups = 0;
      for (const m of out.matchAll(/^\[(\d+\.\d+)\] \d+ bytes from [\d.]+: icmp_seq=(\d+) .*$/gm)) {
        if (m[0].includes('(DUP!)')) dups++;
        else {
          seen.add(Number(m[2]));
          times.push(Number(m[1]));
        }
      }
      const base = seen.has(0) ? 0 : 1; // iputils numbers from 1 (older versions from 0)
      let lost = 0;
      for (let s = base; s < base + sent - 1; s++) if (!seen.has(s)) lost++;
      let gap = times.length ? end - times.at(-1)! : end;
      for (let i = 1; i < times.length; i++) gap = Math.max(gap, times[i]! - times[i - 1]!);
      return { lost, gapMs: gap * 1000, dups };
    },
  };
}

/** One implementation's pair of routers, its capture and its temp files. */
export class Pair {
  cap!: Capture;
  ds: [ReloadDaemon, ReloadDaemon];
  constructor(readonly lab: NetnsLab, readonly dir: string, readonly impl: Impl) {
    this.ds = [new ReloadDaemon(lab, impl, 'r1', dir), new ReloadDaemon(lab, impl, 'r2', dir)];
  }

  id(node: string): string {
    return this.impl === 'keepalived' ? `${this.lab.prefix}-${node}` : node;
  }

  conf(node: 'r1' | 'r2', kind: ReloadKind | null): string {
    return reloadConfig(this.id(node), node, this.dir, kind);
  }

  async start(): Promise<void> {
    for (const n of ['r1', 'r2']) writeFileSync(join(this.dir, `reload-ok-${n}`), '');
    this.cap = new Capture(this.lab, 'client');
    await this.cap.ready();
    const t = Date.now() / 1000;
    this.ds[1].start(this.conf('r2', null));
    this.ds[0].start(this.conf('r1', null));
    await this.settled(t, 'start');
  }

  async stop(): Promise<void> {
    for (const d of this.ds) await d.signal('SIGTERM');
    await this.cap?.stop();
    for (const n of ['r1', 'r2']) {
      for (const a of [...VIPS, ADDED, VIP2]) this.lab.exec(this.lab.node(n).ns, ['ip', 'addr', 'del', `${a}/24`, 'dev', 'eth0'], { allowFail: true });
    }
  }

  /**
   * Wait until, after `from`, r1 alone has advertised VRID 51 at 150 + WEIGHT three times and
   * holds the three VIPs (r2 none), with no gratuitous ARP on the LAN for 6 s.
   */
  async settled(from: number, what: string): Promise<void> {
    const want = 150 + WEIGHT;
    const end = Date.now() + SETTLE_MS;
    for (;;) {
      const ads = this.cap.find('vrrp', { after: from });
      let good = 0; // r1's adverts at `want` since the last other one
      for (const p of ads) good = p.src === R1 && p.vrid === VRID && p.prio === want ? good + 1 : 0;
      // and 6 s without a gratuitous ARP: a new master's second burst comes garp_master_delay (5 s) after its first
      const quiet = Date.now() / 1000 - Math.max(from, this.cap.find('garp', { after: from }).at(-1)?.t ?? 0) >= 6;
      if (good >= 3 && quiet) {
        const on1 = this.lab.addresses('r1').map((a) => a.split('/')[0]!);
        const on2 = this.lab.addresses('r2').map((a) => a.split('/')[0]!);
        const extra = [ADDED, VIP2].some((a) => on1.includes(a)) || [...VIPS, ADDED, VIP2].some((a) => on2.includes(a));
        if (VIPS.every((a) => on1.includes(a)) && !extra) return;
      }
      if (Date.now() > end) {
        const tails = this.ds.map((d) => `--- ${this.impl} ${d.node}\n${d.logTail(15)}`).join('\n');
        throw new Error(`${this.impl}: not settled ${SETTLE_MS / 1000} s after ${what}\n${tails}`);
      }
      await sleep(100);
    }
  }

  /** One kind: r1's file rewritten and SIGHUP, the client pinging from 1 s before to 4 s after it (restore() puts the base file back). */
  async measure(kind: ReloadKind): Promise<ReloadRun> {
    const logAt = this.ds.map((d) => size(d.logFile));
    const ping = startPing(this.lab);
    let t: number;
    try {
      await sleep(1000);
      t = Date.now() / 1000;
      this.ds[0].reloadWith(this.conf('r1', kind));
      await sleep(4000);
    } catch (e) {
      ping.kill();
      throw e;
    }
    const p = await ping.stop();
    await sleep(300); // tcpdump's last lines
    const w0 = t - 1;
    const w1 = t + 4;
    const inWin = this.cap.find('vrrp', { after: w0 }).filter((x) => x.t <= w1);
    const vr = this.cap.find('vrrp', { vrid: VRID }).filter((x) => (x.prio ?? 0) > 0 && x.t <= w1);
    const before = vr.filter((x) => x.t < w0).at(-1);
    let changes = 0;
    let cur = before?.src;
    for (const x of vr.filter((y) => y.t >= w0)) {
      if (cur !== undefined && x.src !== cur) changes++;
      cur = x.src;
    }
    const r1Prios: number[] = [];
    for (const x of inWin) if (x.src === R1 && x.vrid === VRID && r1Prios.at(-1) !== x.prio) r1Prios.push(x.prio!);
    const garps = this.cap.find('garp', { after: t }).filter((g) => g.t <= w1);
    const unchanged = kind === 'vips' ? VIPS.slice(0, 2) : VIPS;
    const logLines = this.ds.flatMap((d, i) => d.linesSince(logAt[i]!));
    return {
      impl: this.impl, kind, lost: p.lost, gapMs: p.gapMs, dups: p.dups, prio0: inWin.filter((x) => x.prio === 0).length, masterChanges: changes,
      garpsUnchanged: [R1_MAC, R2_MAC].map((mac) => garps.filter((g) => g.srcMac === mac && unchanged.includes(g.src)).length) as [number, number], garpsAdded: garps.filter((g) => g.src === ADDED).length, r1Prios, logLines,
    };
  }

  /** The base file back on r1 (SIGHUP), settled. */
  async restore(kind: ReloadKind): Promise<void> {
    const r = Date.now() / 1000;
    this.ds[0].reloadWith(this.conf('r1', null));
    await this.settled(r, `restoring the base file after kind ${kind}`);
  }
}

/**
 * `reps` rounds; in each, every implementation of `impls` in turn: its pair started, every
 * kind measured, the pair stopped. A pair that does not settle after a restore is started
 * afresh (said in `log`); one that does not settle from a fresh start fails the benchmark.
 */
export async function reloadBench(lab: NetnsLab, dir: string, impls: Impl[], reps: number, log: (m: string) => void): Promise<ReloadRun[]> {
  const runs: ReloadRun[] = [];
  for (let rep = 0; rep < reps; rep++) {
    for (const impl of impls) {
      let pair = new Pair(lab, dir, impl);
      try {
        await pair.start();
        for (const kind of RELOAD_KINDS) {
          let step = 'measuring';
          try {
            const x = await pair.measure(kind);
            log(`reload ${impl} ${kind}: lost ${x.lost}, gap ${x.gapMs.toFixed(1)} ms, dups ${x.dups}, prio-0 ${x.prio0}, master changes ${x.masterChanges}, GARPs unchanged ${x.garpsUnchanged.join('+')} / added ${x.garpsAdded}, r1 prio ${x.r1Prios.join('>')}${x.logLines.length ? `; ${x.logLines.join(' | ')}` : ''}`);
            runs.push(x);
            step = 'restoring';
            await pair.restore(kind);
          } catch (e) {
            // measured figures are kept; a pair that could not be measured or restored is started afresh
            log(`reload ${impl} ${kind}: ${step} failed: ${(e as Error).message}; starting the pair afresh`);
            await pair.stop();
            pair = new Pair(lab, dir, impl);
            await pair.start();
          }
        }
      } finally {
        await pair.stop();
      }
    }
  }
  return runs;
}

const cell = (s: string): string => s.replace(/\|/g, '\\|');

/** The report: one table per implementation, then what the kinds mean. */
export function reloadSection(runs: ReloadRun[], impls: Impl[], reps: number): string[] {
  const md = ['### Reload (SIGHUP on the master) with the client pinging a VIP every 10 ms', ''];
  md.push(`r1 (priority 150) master and r2 (100) backup, VRRPv3 IPv4, VI_51 = VRID 51, advert_int 1, preemption, VIPs 192.0.2.11-13/24; on each router \`vrrp_script chk\` (\`/usr/bin/test -e FLAG\`, FLAG always present, interval 1) tracked with weight ${WEIGHT}: r1 advertises ${150 + WEIGHT}, r2 would ${100 + WEIGHT}. The same keepalived.conf text for both implementations (router_id aside). Each kind rewrites r1's file and sends SIGHUP; the base file is put back (SIGHUP) and the pair settles (r1 alone advertising ${150 + WEIGHT} three times, the VIPs on r1 only, 6 s without a gratuitous ARP: none of a restore's left for the next kind) before the next kind. ${reps} run(s) per kind. Lost replies and the longest gap between two replies: \`ping -D -i 0.01 -W 0.2 192.0.2.11\` in the client from 1 s before the signal to 4 s after it (icmp_seq). From tcpdump in the client namespace over the same window: adverts with priority 0 (any router, any VRID), changes of VRID 51's advertising router, gratuitous ARPs from the signal on for the VIPs the kind did not change (kind 3: .11 and .12; kind 6 is a handover: r2's GARPs are expected). Only r1's file changes, so in kind 3 the backup's file still lists .13 (keepalived checks an advert's address list against its own unless skip_check_adv_addr). Master changes count every change of the source on the wire: a master's one advert before yielding (higher_prio_send_advert: vipd's default on, keepalived's off) counts twice more. Counts are per run. Notes: the priorities r1 advertised in the window, the new VIP's GARPs, duplicate replies, transitions in either daemon's log and vipd's own account of the reload (\`configuration reloaded\`), each distinct line once.`, '');
  for (const impl of impls) {
    md.push(`#### ${impl}`, '');
    md.push('| kind | lost replies med / min / max | longest gap ms med / max | priority-0 adverts | master changes | GARPs for unchanged VIPs, r1 / r2 | notes |', '| --- | --- | --- | --- | --- | --- | --- |');
    for (const kind of RELOAD_KINDS) {
      const xs = runs.filter((x) => x.impl === impl && x.kind === kind);
      if (!xs.length) {
        md.push(`| ${KIND_TEXT[kind]} | no run | | | | | |`);
        continue;
      }
      const sorted = (f: (x: ReloadRun) => number): number[] => xs.map(f).sort((a, b) => a - b);
      const lost = sorted((x) => x.lost);
      const gap = sorted((x) => x.gapMs);
      const med = (s: number[]): number => s[Math.floor((s.length - 1) / 2)]!;
      const each = (f: (x: ReloadRun) => number): string => xs.map(f).join(', ');
      const notes = new Set<string>();
      for (const x of xs) {
        notes.add(`r1 advertised ${x.r1Prios.join(' > ') || 'nothing'}`);
        if (kind === 'vips') notes.add(`GARPs for .14: ${each((y) => y.garpsAdded)}`);
        if (x.dups) notes.add(`${x.dups} duplicate replies`);
        for (const l of x.logLines) notes.add(l);
      }
      md.push(`| ${KIND_TEXT[kind]} | ${med(lost)} / ${lost[0]} / ${lost.at(-1)} | ${med(gap).toFixed(1)} / ${gap.at(-1)!.toFixed(1)} | ${each((x) => x.prio0)} | ${each((x) => x.masterChanges)} | ${xs.map((x) => x.garpsUnchanged.join(' / ')).join(', ')} | ${cell([...notes].join('; '))} |`);
    }
    md.push('');
  }
  return md;
}
