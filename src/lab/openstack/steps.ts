/**
 * The steps of the OpenStack scenario, in order. Each acts on the controller that is master
 * when it begins (the notify script's record), waits until the cluster has settled (a new
 * master, the old one in FAULT or BACKUP again), and is measured by the client over the
 * whole step: failed requests, longest gap between answers, who answered before and after.
 */
import { cliCommand } from '../cli-command.js';
import type { Impl } from '../daemon-proc.js';
import type { Controller } from './controller.js';
import type { ClientLoop, Holders, WindowStats, Wire } from './watch.js';

export interface Timings {
  /** check_alive's interval, fall, rise (s, counts) */
  interval: number;
  fall: number;
  rise: number;
  /**
   * measured before each action, ms; a random further wait of up to max(interval, advert_int)
   * follows, so that actions fall at random phases of the check's and the adverts' schedules
   * (a fixed phase would favour whichever implementation started at a luckier moment)
   */
  preMs: number;
  /** measured after the cluster settled, ms */
  postMs: number;
  steadyMs: number;
}

/** Kolla's check timings; --short: a check every second, fall 2, rise 2 (CI). */
export const KOLLA: Timings = { interval: 2, fall: 2, rise: 10, preMs: 500, postMs: 1500, steadyMs: 3000 };
export const SHORT: Timings = { interval: 1, fall: 2, rise: 2, preMs: 300, postMs: 1000, steadyMs: 2000 };

export interface StepResult extends WindowStats {
  step: string;
  /** what was done, in words */
  action: string;
  impl: Impl;
  /** epoch ms */
  start: number;
  end: number;
  masterBefore: string | null;
  masterAfter: string | null;
  /** the longest time two controllers held the VIP at once (kernel), ms, and who */
  twoHoldersMs: number;
  twoHolders: string[];
  /** adverts sent while another router went on advertising as master (wire) */
  dualMasterAdverts: number;
  /** controllers other than the master holding the VIP at the end of the step */
  staleVip: string[];
  /** kill-9: requests started after the new master's first answer that the dead master's HAProxy answered */
  deadAnswers?: number;
  /** reload: the priority the master advertises afterwards */
  advertised?: number;
  /** failures of the master: from the action to the new master's MASTER record, ms */
  takeoverMs?: number;
  /** haproxy-kill, link-down: from the action to the old master's FAULT record, ms */
  faultMs?: number;
}

export interface Ctx {
  ctls: Controller[];
  impl: Impl;
  client: ClientLoop;
  holders: Holders;
  wire: Wire;
  t: Timings;
  say: (m: string) => void;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const now = (): number => Date.now() / 1000;

export async function waitFor<T>(what: string, timeoutMs: number, probe: () => T | null | undefined | false): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${(timeoutMs / 1000).toFixed(0)} s waiting for ${what}`);
    await sleep(50);
  }
}

/** The controller whose daemon runs and whose last recorded state is MASTER (null: none or several). */
export function master(ctls: Controller[]): Controller | null {
  const m = ctls.filter((c) => c.daemon?.running() && c.transitions().at(-1)?.state === 'MASTER');
  return m.length === 1 ? m[0]! : null;
}

/** Master_Down_Interval of VRRPv2 at priority 1 and advert_int 1 s, plus the check and a margin, ms. */
const takeoverMs = (t: Timings): number => t.interval * (t.fall + 1) * 1000 + 4000 + 6000;

/** Wait until a controller other than `old` is MASTER (recorded at or after `since`). */
function newMaster(c: Ctx, old: Controller, since: number, timeoutMs = takeoverMs(c.t)): Promise<Controller> {
  return waitFor(`a new master after ${old.name}`, timeoutMs, () => {
    const m = master(c.ctls);
    return m && m !== old && m.stateSince(since) === 'MASTER' ? m : null;
  });
}

/** ms from `since` (epoch s) to the first `state` record of `ctl` at or after it */
function recordMs(ctl: Controller, state: string, since: number): number | undefined {
  const t = ctl.transitions().find((x) => x.t >= since && x.state === state)?.t;
  return t === undefined ? undefined : Math.round((t - since) * 1000);
}

function stateOf(ctl: Controller, state: string, since: number, timeoutMs: number): Promise<true> {
  return waitFor(`${ctl.name} in ${state}`, timeoutMs, () => ctl.stateSince(since) === state);
}

async function measure(c: Ctx, step: string, body: (m: Controller) => Promise<{ action: string; extra?: Partial<StepResult> }>): Promise<StepResult> {
  const start = Date.now();
  const before = master(c.ctls);
  if (!before) throw new Error(`${step}: no single master at the start`);
  await sleep(c.t.preMs + Math.random() * Math.max(c.t.interval, 1) * 1000);
  const { action, extra } = await body(before);
  await sleep(c.t.postMs);
  const end = Date.now();
  const after = master(c.ctls);
  const overlap = c.holders.overlap(start, end);
  return {
    step, action, impl: c.impl, start, end, ...c.client.stats(start, end),
    masterBefore: before.name, masterAfter: after?.name ?? null,
    twoHoldersMs: overlap.ms, twoHolders: overlap.who,
    dualMasterAdverts: c.wire.dualMaster(start, end, 1),
    staleVip: c.holders.now().filter((n) => n !== after?.name),
    ...extra,
  };
}

const others = (c: Ctx, m: Controller): Controller[] => c.ctls.filter((x) => x !== m);

export const STEPS: Record<string, (c: Ctx) => Promise<StepResult>> = {
  steady: (c) => measure(c, 'steady', async () => {
    await sleep(c.t.steadyMs);
    return { action: 'nothing: the client alone' };
  }),

  /** keepalived 2.2.7 → c.impl, one controller at a time, backups first, same file. */
  migrate: (c) => measure(c, 'migrate', async (m) => {
    const from = m.daemon!.impl;
    for (const b of [...others(c, m), m]) {
      const since = now();
      await b.daemon!.signal('SIGTERM');
      if (b === m) await newMaster(c, m, since);
      b.startDaemon(c.impl);
      await stateOf(b, 'BACKUP', since, 15_000);
      c.say(`  ${b.name}: ${from} -> ${c.impl}${b === m ? ' (was master)' : ''}, BACKUP`);
    }
    return { action: `${from} -> ${c.impl} one controller at a time, backups first, then the master ${m.name}` };
  }),

  'haproxy-kill': (c) => measure(c, 'haproxy-kill', async (m) => {
    const since = now();
    await m.killHaproxy();
    const n = await newMaster(c, m, since);
    await stateOf(m, 'FAULT', since, 5000);
    return { action: `kill -9 HAProxy on the master ${m.name} (track_script check_alive)`, extra: { takeoverMs: recordMs(n, 'MASTER', since), faultMs: recordMs(m, 'FAULT', since) } };
  }),

  'haproxy-back': (c) => measure(c, 'haproxy-back', async () => {
    const f = c.ctls.find((x) => x.transitions().at(-1)?.state === 'FAULT');
    if (!f) throw new Error('haproxy-back: no controller in FAULT');
    const since = now();
    await f.startHaproxy();
    await stateOf(f, 'BACKUP', since, (c.t.rise + 2) * c.t.interval * 1000 + 5000);
    return { action: `HAProxy back on ${f.name}: BACKUP after rise ${c.t.rise} (nopreempt)` };
  }),

  'kill-9': (c) => measure(c, 'kill-9', async (m) => {
    const since = now();
    const impl = m.daemon!.impl;
    await m.daemon!.crash();
    const n = await newMaster(c, m, since);
    // requests answered by the new master's HAProxy mark the takeover on the client's side
    const firstNew = await waitFor(`an answer through ${n.name}`, 5000, () => c.client.requests.find((r) => r.t >= since * 1000 && r.via === n.name));
    await sleep(c.t.postMs);
    const deadAnswers = c.client.requests.filter((r) => r.t > firstNew.t && r.via === m.name).length;
    return { action: `kill -9 ${impl} on the master ${m.name} (its HAProxy runs on)`, extra: { deadAnswers, takeoverMs: recordMs(n, 'MASTER', since) } };
  }),

  'daemon-back': (c) => measure(c, 'daemon-back', async () => {
    const d = c.ctls.find((x) => !x.daemon?.running());
    if (!d) throw new Error('daemon-back: every daemon runs');
    const since = now();
    d.startDaemon(c.impl);
    await stateOf(d, 'BACKUP', since, 15_000);
    return { action: `${c.impl} started again on ${d.name}: BACKUP` };
  }),

  'link-down': (c) => measure(c, 'link-down', async (m) => {
    const since = now();
    m.lab.exec(m.lab.node(m.name).ns, ['ip', 'link', 'set', 'eth0', 'down']);
    const n = await newMaster(c, m, since);
    await stateOf(m, 'FAULT', since, 5000);
    return { action: `ip link set eth0 down on the master ${m.name}`, extra: { takeoverMs: recordMs(n, 'MASTER', since), faultMs: recordMs(m, 'FAULT', since) } };
  }),

  'link-up': (c) => measure(c, 'link-up', async () => {
    const f = c.ctls.find((x) => x.transitions().at(-1)?.state === 'FAULT');
    if (!f) throw new Error('link-up: no controller in FAULT');
    const since = now();
    f.lab.exec(f.lab.node(f.name).ns, ['ip', 'link', 'set', 'eth0', 'up']);
    await stateOf(f, 'BACKUP', since, 15_000);
    return { action: `ip link set eth0 up on ${f.name}: BACKUP` };
  }),

  sigterm: (c) => measure(c, 'sigterm', async (m) => {
    const since = now();
    await m.daemon!.signal('SIGTERM');
    const n = await newMaster(c, m, since);
    const again = now();
    m.startDaemon(c.impl);
    await stateOf(m, 'BACKUP', again, 15_000);
    return { action: `SIGTERM ${c.impl} on the master ${m.name}, then start it again`, extra: { takeoverMs: recordMs(n, 'MASTER', since) } };
  }),

  reload: (c) => measure(c, 'reload', async (m) => {
    const since = Date.now() / 1000;
    m.priority = 100;
    m.reload();
    // the master's adverts carry the new priority once the reload is applied
    const ad = await waitFor(`${m.name} advertising priority 100`, 10_000, () => c.wire.adverts.find((a) => a.time >= since && a.src === m.address && a.priority === 100));
    await sleep(2000);
    return { action: `priority ${m.name} (master) -> 100 in its file, SIGHUP`, extra: { advertised: ad.priority } };
  }),

  /**
   * A planned move of the VIP off the master: vipd's `vipctl handover` (make-before-break);
   * keepalived has no such command, and in a nopreempt cluster its usual way is to stop the
   * master's daemon (priority 0) and start it again.
   */
  handover: (c) => measure(c, 'handover', async (m) => {
    const since = now();
    if (m.daemon!.impl === 'vipd') {
      await vipctl(m, ['handover', '--json']);
    } else await m.daemon!.signal('SIGTERM');
    const n = await newMaster(c, m, since);
    if (!m.daemon!.running()) {
      const again = now();
      m.startDaemon(c.impl);
      await stateOf(m, 'BACKUP', again, 15_000);
    }
    return { action: m.daemon!.impl === 'vipd' ? `vipctl handover on the master ${m.name}` : `SIGTERM keepalived on the master ${m.name}, then start it (keepalived has no handover)`, extra: { takeoverMs: recordMs(n, 'MASTER', since) } };
  }),

  /** Maintenance of the master and back: vipd's `vipctl maintenance on|off`; keepalived: stopped meanwhile. */
  maintenance: (c) => measure(c, 'maintenance', async (m) => {
    const since = now();
    const vipd = m.daemon!.impl === 'vipd';
    if (vipd) await vipctl(m, ['maintenance', 'on', '--json']);
    else await m.daemon!.signal('SIGTERM');
    const n = await newMaster(c, m, since);
    await sleep(2000); // the maintenance itself
    const back = now();
    if (vipd) await vipctl(m, ['maintenance', 'off', '--json']);
    else m.startDaemon(c.impl);
    if (!vipd) await stateOf(m, 'BACKUP', back, 15_000);
    return { action: vipd ? `vipctl maintenance on, 2 s, off on the master ${m.name}` : `keepalived stopped on the master ${m.name} for 2 s, then started`, extra: { takeoverMs: recordMs(n, 'MASTER', since) } };
  }),
};

/** vipctl in the controller's namespace, on its daemon's socket, without blocking the observers; its stdout (exit ≠ 0 throws with its output). */
async function vipctl(m: Controller, args: string[]): Promise<string> {
  const p = m.lab.spawn(m.lab.node(m.name).ns, [...cliCommand('vipctl'), ...args, '--socket', m.daemon!.controlSocket!], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  p.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  p.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((r) => p.once('close', r));
  if (code !== 0) throw new Error(`vipctl ${args.join(' ')} on ${m.name} exited ${code}: ${out.trim()}`);
  return out;
}

/** The steps in the order the scenario runs them. */
export const ORDER = ['steady', 'migrate', 'haproxy-kill', 'haproxy-back', 'kill-9', 'daemon-back', 'link-down', 'link-up', 'sigterm', 'reload', 'handover', 'maintenance'] as const;
