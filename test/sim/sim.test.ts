import { describe, expect, it } from 'vitest';
import { VrrpInstance, type Action, type AdvertIn } from '../../src/core/instance.js';
import { runMany, runScenario, type ScenarioResult } from '../../src/sim/scenario.js';

const SEEDS = Number(process.env.SIM_SEEDS ?? 10_000);
const FIRST = Number(process.env.SIM_FIRST_SEED ?? 1);

function report(f: ScenarioResult): string {
  return `${f.summary}\n${f.error}\nreplay: npm run sim -- --seed ${f.seed}\n${f.trace.slice(-40).join('\n')}`;
}

describe('deterministic LAN simulation', () => {
  it(`${SEEDS} seeded scenarios converge to exactly one right master with no VIP held elsewhere`, () => {
    const t0 = performance.now();
    const { ran, failures } = runMany(FIRST, SEEDS);
    expect(ran).toBe(SEEDS);
    if (failures.length) throw new Error(`${failures.length} of ${SEEDS} scenarios failed; first:\n${report(failures[0]!)}`);
    expect(performance.now() - t0).toBeLessThan(60_000);
  });

  it('a seed replays the same run', () => {
    const a = runScenario(4242);
    const b = runScenario(4242);
    expect(a.trace).toEqual(b.trace);
    expect(a.transitions).toBeGreaterThan(0);
  });

  it('catches a core that ignores the address tie-break', () => {
    class NoTieBreak extends VrrpInstance {
      protected override senderWins(a: AdvertIn): boolean {
        return a.priority > this.effective;
      }
    }
    const { failures } = runMany(1, 300, { factory: (c) => new NoTieBreak(c) });
    expect(failures.length).toBeGreaterThan(0);
    expect(failures[0]!.error).toMatch(/exactly one master|event storm/);
  });

  it('catches a core whose master stops without priority 0', () => {
    class Silent extends VrrpInstance {
      override shutdown(now: number): Action[] {
        return super.shutdown(now).filter((a) => !(a.type === 'send' && a.priority === 0));
      }
    }
    const { failures } = runMany(1, 500, { factory: (c) => new Silent(c) });
    expect(failures.some((f) => /without sending priority 0/.test(f.error ?? ''))).toBe(true);
  });

  it('catches a core that keeps its VIPs after losing an election', () => {
    class Sticky extends VrrpInstance {
      override advert(now: number, adv: AdvertIn): Action[] {
        const acts = super.advert(now, adv).filter((a) => a.type !== 'removeVips');
        if (acts.some((a) => a.type === 'transition')) this.holdsVips = true;
        return acts;
      }
    }
    const { failures } = runMany(1, 500, { factory: (c) => new Sticky(c) });
    expect(failures.some((f) => /holds VIPs|disagree/.test(f.error ?? ''))).toBe(true);
  });
});
