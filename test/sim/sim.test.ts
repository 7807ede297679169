import { describe, expect, it } from 'vitest';
import { VrrpInstance, type Action, type ActionSink, type AdvertIn, type AnnounceWhy, type InstanceConfig, type State, type TimerKind } from '../../src/core/instance.js';
import { runMany, runScenario, type ScenarioResult } from '../../src/sim/scenario.js';

/** Passes every action on to `to`, but those `drop` picks while it is set: a core that forgets one. */
class Dropping implements ActionSink {
  drop: ((a: Action) => boolean) | null = null;
  constructor(private readonly to: ActionSink) {}
  private keeps(a: Action): boolean {
    return !this.drop?.(a);
  }
  send(priority: number): void {
    if (this.keeps({ type: 'send', priority })) this.to.send(priority);
  }
  addVips(): void {
    if (this.keeps({ type: 'addVips' })) this.to.addVips();
  }
  removeVips(): void {
    if (this.keeps({ type: 'removeVips' })) this.to.removeVips();
  }
  announce(why: AnnounceWhy): void {
    if (this.keeps({ type: 'announce', why })) this.to.announce(why);
  }
  arm(timer: TimerKind, at: number): void {
    if (this.keeps({ type: 'arm', timer, at })) this.to.arm(timer, at);
  }
  cancel(): void {
    if (this.keeps({ type: 'cancel' })) this.to.cancel();
  }
  transition(from: State, to: State, reason: string): void {
    if (this.keeps({ type: 'transition', from, to, reason })) this.to.transition(from, to, reason);
  }
}

/** A core that runs some of its events with `drop` set on its sink (Dropping). */
class Forgetful extends VrrpInstance {
  constructor(c: InstanceConfig, private readonly tap: Dropping) {
    super(c, tap);
  }
  protected forgetting(drop: (a: Action) => boolean, event: () => void): void {
    this.tap.drop = drop;
    try {
      event();
    } finally {
      this.tap.drop = null;
    }
  }
}

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
    const { failures } = runMany(1, 300, { factory: (c, sink) => new NoTieBreak(c, sink) });
    expect(failures.length).toBeGreaterThan(0);
    expect(failures[0]!.error).toMatch(/exactly one master|event storm/);
  });

  it('catches a core whose master stops without priority 0', () => {
    class Silent extends Forgetful {
      override shutdown(now: number): void {
        this.forgetting((a) => a.type === 'send' && a.priority === 0, () => super.shutdown(now));
      }
    }
    const { failures } = runMany(1, 500, { factory: (c, sink) => new Silent(c, new Dropping(sink)) });
    expect(failures.some((f) => /without sending priority 0/.test(f.error ?? ''))).toBe(true);
  });

  it('catches a core that keeps its VIPs after losing an election', () => {
    class Sticky extends Forgetful {
      override advert(now: number, adv: AdvertIn): void {
        const before = this.state;
        this.forgetting((a) => a.type === 'removeVips', () => super.advert(now, adv));
        if (this.state !== before) this.holdsVips = true;
      }
    }
    const { failures } = runMany(1, 500, { factory: (c, sink) => new Sticky(c, new Dropping(sink)) });
    expect(failures.some((f) => /holds VIPs|disagree/.test(f.error ?? ''))).toBe(true);
  });
});
