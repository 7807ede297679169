/**
 * Seeded random scenarios on the simulated LAN: faults during a chaotic phase, then heal and
 * a quiet period of Master_Down_Interval + one advert interval, then the convergence invariant:
 * exactly one master, with the highest effective priority (preempt) or unchanged (no preempt).
 */
import { masterDownIntervalUs } from '../core/timers.js';
import { InvariantError, Lan, type InstanceFactory } from './lan.js';
import { Prng } from './prng.js';

export interface ScenarioResult {
  seed: number;
  ok: boolean;
  error?: string;
  trace: string[];
  transitions: number;
  summary: string;
}

export interface ScenarioOptions {
  factory?: InstanceFactory;
}

export function runScenario(seed: number, o: ScenarioOptions = {}): ScenarioResult {
  const g = new Prng(seed ^ 0x5eed);
  const version = g.chance(0.25) ? 2 : 3;
  const advertIntervalUs = version === 2 ? 1_000_000 : g.pick([10_000, 100_000, 1_000_000]);
  const n = g.int(2, 5);
  // Few distinct priorities, so that ties (and the tie-break) are common.
  const prios = Array.from({ length: n }, () => (g.chance(0.1) ? 255 : g.pick([50, 100, 100, 150, 200])));
  if (prios.filter((p) => p === 255).length > 1) prios[prios.lastIndexOf(255)] = 200; // one owner at most
  const preempt = g.chance(0.75);
  const lowerPrioNoAdvert = g.chance(0.2);
  const lan = new Lan({ seed, routers: prios.map((p) => ({ priority: p })), version, advertIntervalUs, preempt, lowerPrioNoAdvert, factory: o.factory });
  const summary = `seed ${seed}: v${version} ${n} routers prios [${prios.join(',')}] interval ${advertIntervalUs / 1000} ms preempt ${preempt} lower_prio_no_advert ${lowerPrioNoAdvert}`;
  lan.log(summary);
  try {
    for (const r of lan.routers) {
      lan.runUntil(lan.now + g.int(0, advertIntervalUs));
      lan.start(r);
    }
    const chaosEnd = lan.now + advertIntervalUs * g.int(5, 40);
    while (lan.now < chaosEnd) {
      lan.runUntil(lan.now + g.int(1, advertIntervalUs * 4));
      const r = g.pick(lan.routers);
      const other = g.pick(lan.routers);
      switch (g.int(0, 8)) {
        case 0: lan.crash(r); break;
        case 1: lan.stop(r); break;
        case 2: lan.start(r); break;
        case 3: if (r.basePriority !== 255) lan.setPriority(r, g.pick([1, 50, 100, 150, 200, 254])); break;
        case 4: lan.setLink(r, !r.linkUp); break;
        case 5: if (other !== r) lan.block(r, other, g.chance(0.5)); break;
        case 6: lan.loss = g.pick([0, 0.05, 0.2, 0.5]); lan.log(`loss ${lan.loss}`); break;
        case 7: lan.blocked.clear(); lan.log('partitions removed'); break;
        default: break;
      }
    }
    lan.heal();
    // Quiet: the longest Master_Down_Interval of any router + one advert interval (+ delivery slack).
    const mdi = Math.max(...lan.routers.map((r) => masterDownIntervalUs(version, r.inst!.effective, advertIntervalUs)));
    lan.runUntil(lan.now + mdi + advertIntervalUs + 1000);
    const before = lan.masters().map((r) => r.name).join(',');
    const t0 = lan.transitions;
    // One more interval of observation: the result must be stable, not just momentarily right.
    lan.runUntil(lan.now + advertIntervalUs);
    const masters = lan.masters();
    if (masters.length !== 1)
      throw new InvariantError(`expected exactly one master after convergence, got ${masters.length}: ${masters.map((m) => lan.describe(m)).join('; ') || 'none'}`);
    if (lan.transitions !== t0 || masters[0]!.name !== before) throw new InvariantError('master changed during the quiet period');
    const top = Math.max(...lan.routers.map((r) => r.inst!.effective));
    const m = masters[0]!;
    if (preempt && m.inst!.effective !== top)
      throw new InvariantError(`master ${lan.describe(m)} does not have the highest priority ${top} (preempt on)`);
    return { seed, ok: true, trace: lan.trace, transitions: lan.transitions, summary };
  } catch (e) {
    if (!(e instanceof InvariantError)) throw e;
    lan.log(`INVARIANT VIOLATED: ${e.message}`);
    return { seed, ok: false, error: e.message, trace: lan.trace, transitions: lan.transitions, summary };
  }
}

export function runMany(first: number, count: number, o: ScenarioOptions = {}): { ran: number; failures: ScenarioResult[] } {
  const failures: ScenarioResult[] = [];
  for (let s = first; s < first + count; s++) {
    const r = runScenario(s, o);
    if (!r.ok) failures.push(r);
  }
  return { ran: count, failures };
}
