/**
 * keepalived 2.2.7's vrrp_sync_group rules (vrrp_sync.c, try_up_instance, down_instance) on
 * the sans-I/O core: two members on two VRIDs, driven by events with explicit times.
 */
import { describe, expect, it } from 'vitest';
import { ActionLog } from '../../src/core/actions.js';
import { VrrpInstance, type Action, type InstanceConfig } from '../../src/core/instance.js';
import { trackerEffect } from '../../src/core/priority.js';
import { SyncGroup, type GroupState } from '../../src/core/sync-group.js';
import { parseIP } from '../../src/protocol/addr.js';

const S = 1_000_000;
const ip = (t: string): Uint8Array => parseIP(t)!.bytes;
/** Each member records into a log of its own (`logs`): forced actions are recorded there too. */
const logs = new Map<string, ActionLog>();
const mk = (name: string, vrid: number, o: Partial<InstanceConfig> = {}): VrrpInstance => {
  const log = new ActionLog();
  logs.set(name, log);
  return new VrrpInstance({ name, vrid, version: 3, priority: 100, advertIntervalUs: S, primaryAddress: ip('192.0.2.2'), trackers: [{ name: 'chk', delta: 0, fault: false }], ...o }, log);
};
const down = trackerEffect(0, false, { kind: 'bool', up: false });
const up = trackerEffect(0, false, { kind: 'bool', up: true });
const higher = { priority: 200, intervalUs: S, src: ip('192.0.2.9') };
const sends = (a: readonly Action[]): number[] => a.flatMap((x) => (x.type === 'send' ? [x.priority] : []));

function pair(o: Partial<InstanceConfig> = {}) {
  const a = mk('A', 51, o);
  const b = mk('B', 52, o);
  const states: string[] = [];
  const g = new SyncGroup('G', [a, b], (from: GroupState, to: GroupState) => states.push(`${from}->${to}`));
  g.init();
  a.start(0);
  b.start(0);
  return { a, b, g, states };
}

describe('vrrp_sync_group (keepalived 2.2.7 rules)', () => {
  it('starts BACKUP, one group transition', () => {
    const { a, b, g, states } = pair();
    expect([a.state, b.state, g.state]).toEqual(['BACKUP', 'BACKUP', 'BACKUP']);
    expect(states).toEqual(['INIT->BACKUP']);
  });

  it('goes MASTER only when every member wants it: the first timer waits for the other', () => {
    const { a, b, g, states } = pair();
    const t = a.deadline!;
    b.advert(t - 1000, higher); // B still hears a master
    a.timerFired(t);
    expect(a.state).toBe('BACKUP'); // held: B does not want MASTER
    expect(a.wantMaster).toBe(true);
    expect(a.deadline).toBe(t + a.masterDownIntervalUs); // re-armed (vrrp_sync_can_goto_master)
    // B's master goes silent: B's timer fires, B is the last to want it, both go MASTER
    b.timerFired(b.deadline!);
    expect([a.state, b.state, g.state]).toEqual(['MASTER', 'MASTER', 'MASTER']);
    expect(states).toEqual(['INIT->BACKUP', 'BACKUP->MASTER']);
  });

  it('a member that hears a master again no longer wants MASTER', () => {
    const { a, b } = pair();
    a.timerFired(a.deadline!);
    // a's timer fired first; a wants MASTER, b does not yet
    expect(a.state).toBe('BACKUP');
    a.advert(a.deadline! - 1, higher);
    expect(a.wantMaster).toBe(false);
    b.timerFired(b.deadline!);
    expect([a.state, b.state]).toEqual(['BACKUP', 'BACKUP']); // b now waits for a
  });

  it('one MASTER member hearing a higher priority takes the other to BACKUP, without priority 0', () => {
    const { a, b, g, states } = pair();
    a.timerFired(a.deadline!);
    b.timerFired(b.deadline!);
    expect(g.state).toBe('MASTER');
    a.advert(5 * S, higher);
    expect([a.state, b.state, g.state]).toEqual(['BACKUP', 'BACKUP', 'BACKUP']);
    expect(states.at(-1)).toBe('MASTER->BACKUP');
    expect(sends(logs.get('B')!.take()).filter((p) => p === 0)).toEqual([]);
  });

  it('one member in FAULT: the group is FAULT, a MASTER member resigns with priority 0; back when no member has a fault', () => {
    const { a, b, g, states } = pair();
    a.timerFired(a.deadline!);
    b.timerFired(b.deadline!);
    b.setTracker(6 * S, 'chk', down);
    expect([a.state, b.state, g.state]).toEqual(['FAULT', 'FAULT', 'FAULT']);
    // a was forced: its resignation is in its own log
    expect(sends(logs.get('A')!.take())).toContain(0);
    // a's own fault too, then b clears: the group stays FAULT while a has one
    a.setTracker(7 * S, 'chk', down);
    b.setTracker(8 * S, 'chk', up);
    expect([a.state, b.state, g.state]).toEqual(['FAULT', 'FAULT', 'FAULT']);
    a.setTracker(9 * S, 'chk', up);
    expect([a.state, b.state, g.state]).toEqual(['BACKUP', 'BACKUP', 'BACKUP']);
    expect(states).toEqual(['INIT->BACKUP', 'BACKUP->MASTER', 'MASTER->FAULT', 'FAULT->BACKUP']);
  });

  it('a member whose link is down at start puts the group in FAULT', () => {
    const a = mk('A', 51);
    const b = mk('B', 52);
    const g = new SyncGroup('G', [a, b]);
    b.setLink(0, false);
    g.init();
    a.start(0);
    b.start(0);
    expect([a.state, b.state, g.state]).toEqual(['FAULT', 'FAULT', 'FAULT']);
    b.setLink(S, true);
    expect([a.state, b.state, g.state]).toEqual(['BACKUP', 'BACKUP', 'BACKUP']);
  });

  it('address owners all: MASTER at start', () => {
    const { a, b, g } = pair({ priority: 255 });
    expect([a.state, b.state, g.state]).toEqual(['MASTER', 'MASTER', 'MASTER']);
  });

  it('never one member MASTER and one BACKUP after any event settles (random events)', async () => {
    const fc = (await import('fast-check')).default;
    const ev = fc.oneof(
      fc.record({ k: fc.constant('timer' as const), who: fc.nat(1) }),
      fc.record({ k: fc.constant('advert' as const), who: fc.nat(1), prio: fc.integer({ min: 0, max: 255 }) }),
      fc.record({ k: fc.constant('tracker' as const), who: fc.nat(1), up: fc.boolean() }),
      fc.record({ k: fc.constant('link' as const), who: fc.nat(1), up: fc.boolean() }),
    );
    fc.assert(fc.property(fc.array(ev, { maxLength: 60 }), (events) => {
      const { a, b, g } = pair();
      const m = [a, b];
      let now = 0;
      for (const e of events) {
        const i = m[e.who]!;
        now += 100_000;
        if (e.k === 'timer') { if (i.deadline !== null) { now = Math.max(now, i.deadline); i.timerFired(now); } }
        else if (e.k === 'advert') i.advert(now, { priority: e.prio, intervalUs: S, src: ip('192.0.2.9') });
        else if (e.k === 'tracker') i.setTracker(now, 'chk', e.up ? up : down);
        else i.setLink(now, e.up);
        const st = new Set(m.map((x) => x.state));
        expect(st.has('MASTER') && st.size > 1).toBe(false);
        if (g.state === 'FAULT') expect([...st]).toEqual(['FAULT']);
        if (m.some((x) => x.hasOwnFault)) expect([...st]).toEqual(['FAULT']);
      }
    }), { numRuns: 300 });
  });
});
