/**
 * Issue #26's side-by-side in the plain lab: what a client pinging a VIP every 10 ms sees when
 * the VIP is moved on purpose, vipd's ways against keepalived 2.2.7's usual ones.
 *
 * reload.ts's Pair: r1 150 / r2 100 (+10 each from the always-passing `vrrp_script chk`: 160 /
 * 110), VRRPv3, VRID 51, advert_int 1, preemption, VIPs 192.0.2.11-13, tcpdump in the client
 * namespace; besides, `ip monitor address` in r1 and r2 (src/lab/openstack/watch.ts's Holders)
 * for the time both kernels hold 192.0.2.11. Methods, each on the master r1 with the client
 * pinging from 1 s before the action to WINDOW_S after it, then restored and settled:
 * (a) `vipctl handover` (restore: `vipctl handover` on r2); (b) `vipctl maintenance on`, whose
 * restore (b′) `vipctl maintenance off` (r1 preempts back) is measured as a method of its own;
 * (c) SIGTERM (restore: r1 started again); (d) r1's priority 150 -> 90 in its file and SIGHUP
 * (reload.ts's kind 6; restore: 150 back and SIGHUP). keepalived has (c) and (d) only.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { HANDOVER_GRACE_MS } from '../../src/daemon/runner.js';
import { stopChild } from '../../src/lab/child.js';
import { cliCommand } from '../../src/lab/cli-command.js';
import type { Impl } from '../../src/lab/daemon-proc.js';
import type { NetnsLab } from '../../src/lab/netns.js';
import { Holders } from '../../src/lab/openstack/watch.js';
import { Pair, size, startPing, VIPS } from './reload.js';

export const HANDOVER_METHODS = ['handover', 'maintenance', 'maint-off', 'term', 'reload'] as const;
export type HandoverMethod = (typeof HANDOVER_METHODS)[number];
const METHODS_OF: Record<Impl, HandoverMethod[]> = { vipd: [...HANDOVER_METHODS], keepalived: ['term', 'reload'] };
const METHOD_TEXT: Record<HandoverMethod, string> = {
  handover: '(a) `vipctl handover` on r1',
  maintenance: '(b) `vipctl maintenance on` on r1',
  'maint-off': '(b′) `vipctl maintenance off` on r1 after (b) (docs/handover.md: r1 preempts back)',
  term: '(c) SIGTERM of r1 (priority 0)',
  reload: '(d) r1 150 -> 90 in its file, SIGHUP',
};
/** The methods issue #26's target is about (--check: no reply lost). */
const TARGETED: HandoverMethod[] = ['handover', 'maintenance'];
const VRID = 51;
const WINDOW_S = 5;
/** Both kernels may hold the VIP from the new master's add to the old one's delete (as test/netns/handover.test.ts). */
const OVERLAP_MS = HANDOVER_GRACE_MS + 50;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface HandoverRun {
  impl: Impl;
  method: HandoverMethod;
  rep: number;
  /** ping's replies lost and longest time without one (ms), duplicate replies */
  lost: number;
  gapMs: number;
  dups: number;
  /** adverts with priority 0 in the window (any router) */
  prio0: number;
  /** changes of VRID 51's advertising router (priority > 0) in the window */
  changes: number;
  /** action -> the first advert (priority > 0) of a router other than the one advertising before; null: none in the window */
  newMasterMs: number | null;
  /** the longest time both kernels held 192.0.2.11 in the window, ms */
  overlapMs: number;
  /** who holds 192.0.2.11 at the window's end (ip monitor) */
  endHolders: string[];
  /** the action's time (epoch s) */
  t: number;
  /** the action done as asked (vipctl exit 0; the others: true) and what it said */
  ok: boolean;
  note: string;
}

export interface HandoverFailure {
  impl: Impl;
  method: HandoverMethod;
  rep: number;
  error: string;
}

/** vipctl ARGS --json in r1's (0) or r2's (1) namespace against its daemon, asynchronously; SIGKILLed by handle after 15 s. */
async function vipctl(pair: Pair, i: 0 | 1, args: string[]): Promise<{ code: number | null; text: string }> {
  const d = pair.ds[i];
  const p = pair.lab.spawn(pair.lab.node(d.node).ns, [...cliCommand('vipctl'), ...args, '--json', '--socket', d.controlSocket!], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  p.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  p.stderr!.on('data', (b: Buffer) => (out += b.toString()));
  const timer = setTimeout(() => void stopChild(p, 'SIGKILL'), 15_000);
  const code = await new Promise<number | null>((r) => {
    p.once('error', (e) => ((out += e.message), r(null)));
    p.once('close', (c) => r(c));
  });
  clearTimeout(timer);
  let text = out.trim().slice(0, 300);
  try {
    const j = JSON.parse(out) as { ok: boolean; error?: string; result?: { instance: string; ok: boolean; kind?: string; error?: string; master?: string | null; priority?: number | null; ms?: number; method?: string; state?: string }[] };
    text = j.ok ? j.result!.map((o) => (!o.ok ? `${o.kind}: ${o.error}` : o.master !== undefined ? `new master ${o.master} (${o.priority}) in ${o.ms} ms by ${o.method}` : `${o.instance} ${o.state ?? ''}`.trim())).join('; ') : `error: ${j.error}`;
  } catch {
    // not JSON (a usage error): the raw output
  }
  return { code, text: `${d.node}: vipctl ${args.join(' ')}: exit ${code}, ${text}` };
}

/** One method on a settled pair (r1 master): the client pinging from 1 s before the action to WINDOW_S after it. */
async function measure(pair: Pair, holders: Holders, method: HandoverMethod, rep: number): Promise<HandoverRun> {
  const logAt = pair.ds.map((d) => size(d.logFile));
  const ping = startPing(pair.lab);
  let t: number;
  let action: Promise<{ ok: boolean; text: string }>;
  try {
    await sleep(1000);
    t = Date.now() / 1000;
    if (method === 'term') action = pair.ds[0].signal('SIGTERM').then(() => ({ ok: true, text: '' }));
    else if (method === 'reload') {
      pair.ds[0].reloadWith(pair.conf('r1', 'handover'));
      action = Promise.resolve({ ok: true, text: '' });
    } else {
      const args = method === 'handover' ? ['handover'] : ['maintenance', method === 'maintenance' ? 'on' : 'off'];
      action = vipctl(pair, 0, args).then((x) => ({ ok: x.code === 0, text: x.text }));
    }
    await sleep(WINDOW_S * 1000);
  } catch (e) {
    ping.kill();
    throw e;
  }
  const p = await ping.stop();
  const act = await action;
  await sleep(300); // tcpdump's and ip monitor's last lines
  const [w0, w1] = [t - 1, t + WINDOW_S];
  const vr = pair.cap.find('vrrp', { vrid: VRID }).filter((x) => (x.prio ?? 0) > 0 && x.t <= w1);
  const before = vr.filter((x) => x.t < w0).at(-1)?.src;
  let changes = 0;
  let cur = before;
  for (const x of vr.filter((y) => y.t >= w0)) {
    if (cur !== undefined && x.src !== cur) changes++;
    cur = x.src;
  }
  const first = vr.find((x) => x.t >= t && x.src !== before);
  const logLines = pair.ds.flatMap((d, i) => d.linesSince(logAt[i]!));
  return {
    impl: pair.impl, method, rep, t, lost: p.lost, gapMs: p.gapMs, dups: p.dups,
    prio0: pair.cap.find('vrrp', { after: w0 }).filter((x) => x.t <= w1 && x.prio === 0).length, changes,
    newMasterMs: first ? (first.t - t) * 1000 : null, overlapMs: holders.overlap(w0 * 1000, w1 * 1000).ms, endHolders: holders.now().sort(),
    ok: act.ok, note: [act.text, ...logLines].filter(Boolean).join(' | '),
  };
}

/** r2 alone advertising (three adverts since `from`) and 6 s without a gratuitous ARP (its second burst). */
async function settledOnR2(pair: Pair, from: number): Promise<void> {
  const end = Date.now() + 40_000;
  for (;;) {
    let good = 0;
    for (const x of pair.cap.find('vrrp', { vrid: VRID, after: from })) good = x.src === '192.0.2.2' && (x.prio ?? 0) > 0 ? good + 1 : 0;
    if (good >= 3 && Date.now() / 1000 - Math.max(from, pair.cap.find('garp', { after: from }).at(-1)?.t ?? 0) >= 6) return;
    if (Date.now() > end) throw new Error(`${pair.impl}: r2 not settled as the only master 40 s after maintenance on\n${pair.ds.map((d) => `--- ${d.node}\n${d.logTail(15)}`).join('\n')}`);
    await sleep(100);
  }
}

/**
 * Back to r1 master, settled; after (b) the VIP stays on r2 for (b′), which is the restore.
 * Returns a note when (b′) did not give the VIP back and `vipctl handover` on r2 had to.
 */
async function restore(pair: Pair, method: HandoverMethod, since: number): Promise<string | undefined> {
  const r = Date.now() / 1000;
  if (method === 'maintenance') return void (await settledOnR2(pair, r));
  if (method === 'reload') return void (await pair.restore('handover'));
  let note: string | undefined;
  if (method === 'maint-off' && pair.cap.find('vrrp', { vrid: VRID, after: since, prioAbove: 0 }).at(-1)?.src === '192.0.2.2') {
    const x = await vipctl(pair, 1, ['handover']);
    if (x.code !== 0) throw new Error(`giving the VIP back after maintenance off: ${x.text}`);
    note = `r1 had not taken the VIP back ${(r - since).toFixed(1)} s after maintenance off: given back by \`vipctl handover\` on r2`;
  }
  if (method === 'term') pair.ds[0].start(pair.conf('r1', null));
  if (method === 'handover') {
    const x = await vipctl(pair, 1, ['handover']);
    if (x.code !== 0) throw new Error(`giving the VIP back: ${x.text}`);
  }
  await pair.settled(r, `restoring after ${method}`);
  return note;
}

interface Rig {
  pair: Pair;
  holders: Holders | null;
}

async function rig(lab: NetnsLab, dir: string, impl: Impl): Promise<Rig> {
  const pair = new Pair(lab, dir, impl);
  const rg: Rig = { pair, holders: null };
  for (const d of pair.ds) {
    // in the run's dir (the default is under /var/lib/vipd); none left from an earlier pair
    const f = join(dir, `vipd-${d.node}.maintenance.json`);
    rmSync(f, { force: true });
    d.vipdArgs = ['--maintenance-file', f];
  }
  try {
    await pair.start();
    rg.holders = new Holders(lab, ['r1', 'r2'], VIPS[0]!);
    rg.holders.start();
  } catch (e) {
    await unrig(rg);
    throw e;
  }
  return rg;
}

async function unrig(rg: Rig): Promise<void> {
  await rg.holders?.stop();
  await rg.pair.stop();
}

/**
 * `reps` rounds; in each, every implementation in turn: a pair started, its methods measured
 * in order, the pair stopped. A method that cannot be measured or restored is a failure (kept,
 * reported) and the pair is started afresh; (b′) is skipped when (b) failed.
 */
export async function handoverBench(lab: NetnsLab, dir: string, impls: Impl[], reps: number, log: (m: string) => void): Promise<{ runs: HandoverRun[]; failures: HandoverFailure[] }> {
  const runs: HandoverRun[] = [];
  const failures: HandoverFailure[] = [];
  for (let rep = 1; rep <= reps; rep++) {
    for (const impl of impls) {
      let rg = await rig(lab, dir, impl);
      let skipOff = false;
      try {
        for (const method of METHODS_OF[impl]) {
          if (method === 'maint-off' && skipOff) {
            failures.push({ impl, method, rep, error: 'not run: (b) failed' });
            continue;
          }
          let step = 'measuring';
          try {
            const x = await measure(rg.pair, rg.holders!, method, rep);
            runs.push(x);
            log(`handover ${impl} ${method}: lost ${x.lost}, gap ${x.gapMs.toFixed(1)} ms, dups ${x.dups}, prio-0 ${x.prio0}, changes ${x.changes}, new master ${x.newMasterMs?.toFixed(1) ?? '-'} ms, two holders ${x.overlapMs} ms, at the end [${x.endHolders.join(', ')}]${x.note ? `; ${x.note}` : ''}`);
            if (!x.ok) throw new Error(`not done as asked: ${x.note}`);
            step = 'restoring';
            const note = await restore(rg.pair, method, x.t);
            if (note) {
              x.note = [x.note, note].join(' | ');
              log(`handover ${impl} ${method}: ${note}`);
            }
          } catch (e) {
            const msg = (e as Error).message;
            failures.push({ impl, method, rep, error: `${step}: ${msg.split('\n')[0]}` });
            log(`handover ${impl} ${method}: ${step} failed: ${msg}; starting the pair afresh`);
            skipOff ||= method === 'maintenance';
            await unrig(rg);
            rg = await rig(lab, dir, impl);
          }
        }
      } finally {
        await unrig(rg);
      }
    }
  }
  return { runs, failures };
}

/** What --check counts against vipd: a handover or maintenance run that lost a reply or was not done. */
export function handoverProblems(runs: HandoverRun[], failures: HandoverFailure[]): string[] {
  const mine = (x: { impl: Impl; method: HandoverMethod }): boolean => x.impl === 'vipd' && TARGETED.includes(x.method);
  return [
    ...runs.filter((x) => mine(x) && x.lost > 0).map((x) => `vipd ${x.method} run ${x.rep}: ${x.lost} replies lost`),
    ...runs.filter((x) => mine(x) && !x.ok).map((x) => `vipd ${x.method} run ${x.rep}: ${x.note}`),
    ...failures.filter(mine).map((f) => `vipd ${f.method} run ${f.rep}: ${f.error}`),
  ];
}

const med = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;
const mmm = (xs: number[], d = 0): string => (xs.length ? `${med(xs).toFixed(d)} (${Math.min(...xs).toFixed(d)}–${Math.max(...xs).toFixed(d)})` : '-');
const cell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** The report: one table, methods × implementations, then the issue's target. */
export function handoverSection(runs: HandoverRun[], failures: HandoverFailure[], impls: Impl[], reps: number): string[] {
  const md = ['### Moving the VIP on purpose (issue #26, plain lab) with the client pinging it every 10 ms', ''];
  md.push(`reload.ts's pair: r1 (150) master, r2 (100) backup, VRRPv3 IPv4, VRID 51, advert_int 1, preemption, VIPs 192.0.2.11-13/24, both with an always-passing \`vrrp_script chk\` of weight 10 (they advertise 160 / 110), the same keepalived.conf text for both implementations. Each method acts on r1, then the pair is restored (r1 master, 6 s without a gratuitous ARP) before the next: after (a) \`vipctl handover\` on r2, after (c) r1 started again, after (d) 150 back and SIGHUP; (b′), the restore of (b), is measured (not a target: ordinary preemption, docs/handover.md). ${reps} run(s) per method, median (min–max). Window: 1 s before the action to ${WINDOW_S} s after it. Lost replies and the longest gap between replies: \`ping -D -i 0.01 -W 0.2 192.0.2.11\` in the client. From tcpdump in the client: adverts with priority 0 (any router), changes of VRID 51's advertising router (priority > 0), and the time from the action to the first advert of the router that was not advertising before (for vipctl it includes the start of vipctl's Node process; the daemon's own figure, from the command's arrival, is in the notes). Two holders: the longest time both kernels held 192.0.2.11 (\`ip monitor address\` in r1 and r2), and who held it at the window's end.`, '');
  md.push('| method | impl | runs | lost replies | longest gap ms | priority-0 adverts | advertising-router changes | action → new master\'s first advert ms | both kernels held the VIP ms | duplicate replies | holder at the end | notes |');
  md.push(`| ${Array(12).fill('---').join(' | ')} |`);
  for (const method of HANDOVER_METHODS) {
    for (const impl of impls.filter((i) => METHODS_OF[i].includes(method))) {
      const xs = runs.filter((x) => x.impl === impl && x.method === method);
      const fs = failures.filter((f) => f.impl === impl && f.method === method);
      const ms = xs.map((x) => x.newMasterMs).filter((v): v is number => v !== null);
      const notes = new Set<string>(fs.map((f) => `run ${f.rep} failed: ${f.error}`));
      for (const x of xs) if (x.note) notes.add(x.note.replace(/ in \d+ ms /, ' in … ms ')); // vipctl's times listed below
      const vipctlMs = xs.map((x) => /in (\d+) ms by/.exec(x.note)?.[1]).filter(Boolean);
      if (vipctlMs.length) notes.add(`vipctl's handover times: ${vipctlMs.join(', ')} ms`);
      if (ms.length < xs.length) notes.add(`no new master in the window in ${xs.length - ms.length} run(s)`);
      md.push(`| ${METHOD_TEXT[method]} | ${impl} | ${xs.length}${fs.length ? ` (+${fs.length} failed)` : ''} | ${mmm(xs.map((x) => x.lost))} | ${mmm(xs.map((x) => x.gapMs), 1)} | ${mmm(xs.map((x) => x.prio0))} | ${mmm(xs.map((x) => x.changes))} | ${mmm(ms, 1)} | ${mmm(xs.map((x) => x.overlapMs))} | ${mmm(xs.map((x) => x.dups))} | ${xs.map((x) => x.endHolders.join('+') || 'none').join(', ')} | ${cell([...notes].join('; '))} |`);
    }
  }
  md.push('');
  const t = runs.filter((x) => x.impl === 'vipd' && TARGETED.includes(x.method));
  const tf = failures.filter((f) => f.impl === 'vipd' && TARGETED.includes(f.method));
  const bad = t.filter((x) => x.lost > 0 || x.dups > 0 || !x.ok || x.overlapMs > OVERLAP_MS || x.endHolders.join() !== 'r2');
  const verdict = !t.length ? 'Not measured (no vipd run)' : bad.length || tf.length
    ? `**Not met** in ${bad.length + tf.length} of ${t.length + tf.length} runs: ${cell([...bad.map((x) => `${x.method} run ${x.rep}: lost ${x.lost}, dups ${x.dups}, both held ${x.overlapMs} ms, end [${x.endHolders.join(', ')}]${x.ok ? '' : ', not done'}`), ...tf.map((f) => `${f.method} run ${f.rep}: ${f.error}`)].join('; '))}`
    : `Met in all ${t.length} runs`;
  md.push(`Target of issue #26: vipd's handover — (a) and (b) — loses no reply and leaves no second holder: no duplicate reply, both kernels hold the VIP no longer than make-before-break's grace (HANDOVER_GRACE_MS ${HANDOVER_GRACE_MS} ms + 50 ms for the advert's way and the delete), and only r2 holds it at the window's end. ${verdict}.`, '');
  return md;
}
