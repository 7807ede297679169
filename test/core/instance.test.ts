import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ActionLog } from '../../src/core/actions.js';
import { VrrpInstance, type Action, type InstanceConfig } from '../../src/core/instance.js';
import { effectivePriority, trackerEffect, type TrackerLevel } from '../../src/core/priority.js';

const eff = (w: number, up: boolean) => trackerEffect(w, false, { kind: 'bool', up });
const trk = (name: string) => ({ name, delta: 0, fault: false });
import { masterDownIntervalCs, masterDownIntervalUs, skewTimeCs, skewTimeUs } from '../../src/core/timers.js';
import { parseIP } from '../../src/protocol/addr.js';

const ip = (t: string): Uint8Array => parseIP(t)!.bytes;
const S = 1_000_000;
/** The sink of each instance mk made: an ActionLog of its own. */
const logs = new WeakMap<VrrpInstance, ActionLog>();
const mk = (o: Partial<InstanceConfig> = {}): VrrpInstance => {
  const log = new ActionLog();
  const i = new VrrpInstance({ name: 'VI_1', vrid: 51, version: 3, priority: 100, advertIntervalUs: S, primaryAddress: ip('192.0.2.2'), ...o }, log);
  logs.set(i, log);
  return i;
};
/** What `event` asked of `i`'s sink, in order (what earlier events asked is dropped first). */
const asked = (i: VrrpInstance, event: () => void): readonly Action[] => {
  const log = logs.get(i)!;
  log.take();
  event();
  return log.take();
};
const types = (a: readonly Action[]): string[] => a.map((x) => (x.type === 'transition' ? `${x.from}->${x.to}` : x.type === 'send' ? `send(${x.priority})` : x.type));

describe('timer arithmetic (RFC 9568 6.1, RFC 3768 6.1)', () => {
  it('priority 100 at 100 cs: skew 60 cs, down interval 360 cs (integer centiseconds)', () => {
    expect(skewTimeCs(100, 100)).toBe(60);
    expect(masterDownIntervalCs(100, 100)).toBe(360);
  });
  it('in microseconds, as keepalived times it: 609 375 us and 3 609 375 us', () => {
    expect(skewTimeUs(3, 100, S)).toBe(609_375);
    expect(masterDownIntervalUs(3, 100, S)).toBe(3_609_375);
    expect(masterDownIntervalUs(3, 100, 10_000)).toBe(36_093);
    expect(masterDownIntervalUs(3, 254, 100_000)).toBe(300_781);
  });
  it('v2 skew is (256 - priority)/256 seconds whatever the interval', () => {
    expect(skewTimeUs(2, 100, 5 * S)).toBe(609_375);
    expect(masterDownIntervalUs(2, 100, 5 * S)).toBe(15_609_375);
  });
});

describe('effective priority (keepalived tracker semantics)', () => {
  it('adds positive weights while up, negative while down, clamps 1..254', () => {
    const st = (name: string, w: number, up: boolean) => ({ name, ...eff(w, up) });
    expect(effectivePriority(100, [st('a', 20, true), st('b', -30, false)]).priority).toBe(90);
    expect(effectivePriority(250, [st('a', 20, true)]).priority).toBe(254);
    expect(effectivePriority(10, [st('a', -50, false)]).priority).toBe(1);
    expect(effectivePriority(255, [st('a', -50, false)]).priority).toBe(255);
  });
  it('a weight-0 tracker down is a fault', () => {
    expect(effectivePriority(100, [{ name: 'chk', ...eff(0, false) }]).faults).toEqual(['chk']);
  });
  // keepalived 2.2.7 vrrp_track.c: weight multiplier -1 with reverse; a script not yet run
  // (up null) adds nothing and holds weight 0 in FAULT; track_file: value x weight, <= -254 FAULT
  const table: [number, boolean, TrackerLevel, number, boolean][] = [
    [20, false, { kind: 'bool', up: true }, 20, false],
    [20, false, { kind: 'bool', up: false }, 0, false],
    [20, true, { kind: 'bool', up: true }, -20, false],
    [20, true, { kind: 'bool', up: false }, 0, false],
    [-20, false, { kind: 'bool', up: false }, -20, false],
    [-20, false, { kind: 'bool', up: true }, 0, false],
    [-20, true, { kind: 'bool', up: false }, 20, false],
    [0, false, { kind: 'bool', up: false }, 0, true],
    [0, false, { kind: 'bool', up: true }, 0, false],
    [0, true, { kind: 'bool', up: true }, 0, true],
    [0, true, { kind: 'bool', up: false }, 0, false],
    [0, false, { kind: 'bool', up: null }, 0, true],
    [20, false, { kind: 'bool', up: null }, 0, false],
    [-20, false, { kind: 'bool', up: null }, 0, false],
    [1, false, { kind: 'value', value: 30 }, 30, false],
    [2, true, { kind: 'value', value: 30 }, -60, false],
    [-10, false, { kind: 'value', value: 30 }, 0, true],
    [10, false, { kind: 'value', value: 30 }, 253, false],
    [0, false, { kind: 'value', value: 3 }, 0, true],
    [0, false, { kind: 'value', value: 0 }, 0, false],
    [0, true, { kind: 'value', value: 0 }, 0, true],
  ];
  for (const [w, rev, level, delta, fault] of table) {
    it(`weight ${w}${rev ? ' reverse' : ''}, ${JSON.stringify(level)}: ${fault ? 'FAULT' : `delta ${delta}`}`, () => {
      // a weight-0 tracker that has not reported holds FAULT as "pending" (no news at start)
      expect(trackerEffect(w, rev, level)).toEqual({ delta, fault, ...(w === 0 && level.kind === 'bool' && level.up === null ? { pending: true } : {}) });
    });
  }
});

describe('state machine (RFC 9568 6.4)', () => {
  it('a non-owner starts as Backup with Master_Down_Interval armed', () => {
    const i = mk();
    expect(types(asked(i, () => i.start(0)))).toEqual(['arm', 'INIT->BACKUP']);
    expect(i.deadline).toBe(3_609_375);
  });
  it('the owner (255) becomes master at once and announces', () => {
    const i = mk({ priority: 255 });
    expect(types(asked(i, () => i.start(0)))).toEqual(['send(255)', 'addVips', 'announce', 'arm', 'INIT->MASTER']);
  });
  it('a Master_Down_Timer judged a master interval or more late waits one interval more, once (vipd)', () => {
    const ten = { advertIntervalUs: 10_000 };
    const master = { priority: 150, intervalUs: 10_000, src: ip('192.0.2.1') };
    const i = mk(ten);
    i.start(0);
    const due = i.deadline!;
    // this router was stopped: judged 50 ms late, it listens one interval more
    expect(types(asked(i, () => i.timerFired(due + 50_000)))).toEqual(['arm']);
    expect(i.state).toBe('BACKUP');
    expect(i.deadline).toBe(due + 60_000);
    // the master's advert comes in the meantime: backup, with a fresh Master_Down_Interval
    i.advert(due + 55_000, master);
    expect(i.deadline).toBe(due + 55_000 + masterDownIntervalUs(3, 100, 10_000));
    // and the grace is there again for the next late timer
    expect(types(asked(i, () => i.timerFired(i.deadline! + 20_000)))).toEqual(['arm']);
    // nothing in the interval: master when it ends
    const j = mk(ten);
    j.start(0);
    j.timerFired(due + 50_000);
    expect(types(asked(j, () => j.timerFired(due + 60_000)))).toContain('BACKUP->MASTER');
    // once: late again at the end of the grace -> master
    const k = mk(ten);
    k.start(0);
    k.timerFired(due + 50_000);
    expect(types(asked(k, () => k.timerFired(due + 200_000)))).toContain('BACKUP->MASTER');
    // less than an interval late: at once (RFC 9568 6.4.2)
    const m = mk(ten);
    m.start(0);
    expect(types(asked(m, () => m.timerFired(due + 9_999)))).toContain('BACKUP->MASTER');
  });
  it('master down timer -> Active; adver timer repeats without drift', () => {
    const i = mk();
    i.start(0);
    expect(types(asked(i, () => i.timerFired(3_609_375)))).toEqual(['send(100)', 'addVips', 'announce', 'arm', 'BACKUP->MASTER']);
    expect(i.deadline).toBe(4_609_375);
    i.timerFired(4_609_900); // fired 525 us late
    expect(i.deadline).toBe(5_609_375);
  });
  it('backup adopts the master interval (v3) and resets its timer', () => {
    const i = mk();
    i.start(0);
    i.advert(1000, { priority: 150, intervalUs: 100_000, src: ip('192.0.2.1') });
    expect(i.masterAdverIntervalUs).toBe(100_000);
    expect(i.deadline).toBe(1000 + 360_937);
  });
  it('backup with preempt ignores a lower-priority master; nopreempt follows it', () => {
    const a = mk();
    a.start(0);
    expect(asked(a, () => a.advert(1000, { priority: 50, intervalUs: S, src: ip('192.0.2.1') }))).toEqual([]);
    const b = mk({ preempt: false });
    b.start(0);
    expect(types(asked(b, () => b.advert(1000, { priority: 50, intervalUs: S, src: ip('192.0.2.1') })))).toEqual(['arm']);
  });
  it('preempt_delay tolerates a lower-priority master for the delay, then preempts', () => {
    const a = mk({ preemptDelayUs: 5 * S });
    a.start(0);
    expect(types(asked(a, () => a.advert(1 * S, { priority: 50, intervalUs: S, src: ip('192.0.2.1') })))).toEqual(['arm']);
    expect(asked(a, () => a.advert(6 * S, { priority: 50, intervalUs: S, src: ip('192.0.2.1') }))).toEqual([]);
  });
  // keepalived 2.2.7: every entry into BACKUP clears the delay; the first lower-priority advert
  // heard afterwards starts it. Each path into BACKUP, then a lower-priority master (50) heard
  // at t0 and again every second: the instance (100, delay 5 s) obeys it until t0 + 5 s.
  const intoBackup: Record<string, (i: VrrpInstance) => number> = {
    start: (i) => (i.start(0), 0),
    'FAULT -> BACKUP (link back)': (i) => (i.start(0), i.setLink(S, false), i.setLink(20 * S, true), 20 * S),
    'FAULT -> BACKUP (tracker back)': (i) => (i.start(0), i.setTracker(S, 'chk', eff(0, false)), i.setTracker(20 * S, 'chk', eff(0, true)), 20 * S),
    'MASTER -> BACKUP (higher priority heard)': (i) => {
      i.start(0);
      i.timerFired(i.deadline!); // master; the delay armed at start has long expired
      i.advert(20 * S, { priority: 200, intervalUs: S, src: ip('192.0.2.9') });
      i.advert(21 * S, { priority: 0, intervalUs: S, src: ip('192.0.2.9') }); // it resigns
      return 21 * S;
    },
    'reload (base priority raised above the master)': (i) => {
      i.start(0);
      i.advert(S, { priority: 150, intervalUs: S, src: ip('192.0.2.1') }); // higher master
      i.advert(25 * S, { priority: 150, intervalUs: S, src: ip('192.0.2.1') });
      i.setBasePriority(25 * S, 200); // the same master is now lower (150 < 200)
      return 25 * S;
    },
  };
  for (const [path, enter] of Object.entries(intoBackup)) {
    it(`preempt_delay applies after every path into BACKUP: ${path}`, () => {
      const i = mk({ preemptDelayUs: 5 * S, trackers: [trk('chk')] });
      const t0 = enter(i) + 1000;
      const prio = path.startsWith('reload') ? 150 : 50;
      expect(i.state).toBe('BACKUP');
      for (let k = 0; k < 5; k++) {
        i.advert(t0 + k * S, { priority: prio, intervalUs: S, src: ip('192.0.2.1') });
        expect(i.timerKind).toBe('masterDown'); // obeyed: the Master_Down_Timer restarts
        expect(i.deadline).toBe(t0 + k * S + i.masterDownIntervalUs);
      }
      i.advert(t0 + 5 * S, { priority: prio, intervalUs: S, src: ip('192.0.2.1') }); // discarded
      expect(i.deadline).toBe(t0 + 4 * S + i.masterDownIntervalUs);
      i.timerFired(i.deadline!);
      expect(i.state).toBe('MASTER');
    });
  }
  it('down_timer_adverts N: Master_Down_Interval is N adverts plus Skew_Time (keepalived)', () => {
    const i = mk({ downTimerAdverts: 5 });
    i.start(0);
    expect(i.deadline).toBe(5 * S + 609_375);
    i.advert(S, { priority: 150, intervalUs: 200_000, src: ip('192.0.2.1') });
    expect(i.deadline).toBe(S + 5 * 200_000 + 121_875);
  });
  it('higher_prio_send_advert: a MASTER sends one advert before it yields', () => {
    for (const [on, want] of [[false, ['removeVips', 'arm', 'MASTER->BACKUP']], [true, ['send(100)', 'removeVips', 'arm', 'MASTER->BACKUP']]] as const) {
      const i = mk({ higherPrioSendAdvert: on });
      i.start(0);
      i.timerFired(i.deadline!);
      expect(types(asked(i, () => i.advert(5 * S, { priority: 150, intervalUs: S, src: ip('192.0.2.1') })))).toEqual(want);
    }
  });
  it('priority 0 from the master: backup waits only Skew_Time', () => {
    const i = mk();
    i.start(0);
    i.advert(S, { priority: 0, intervalUs: S, src: ip('192.0.2.1') });
    expect(i.deadline).toBe(S + 609_375);
  });
  it('master yields to higher priority and to equal priority with a higher address', () => {
    for (const [prio, src, yields] of [[150, '192.0.2.1', true], [100, '192.0.2.3', true], [100, '192.0.2.1', false], [50, '192.0.2.9', false]] as const) {
      const i = mk();
      i.start(0);
      i.timerFired(i.deadline!);
      const acts = types(asked(i, () => i.advert(5 * S, { priority: prio, intervalUs: S, src: ip(src) })));
      if (yields) expect(acts).toEqual(['removeVips', 'arm', 'MASTER->BACKUP']);
      else expect(acts).toEqual(['send(100)', 'announce']); // RFC 9568: answer the lower advert at once; keepalived: GARPs
      expect(i.holdsVips).toBe(!yields);
    }
  });
  it('lower_prio_no_advert silences the answer, not the re-announcement', () => {
    const i = mk({ lowerPrioNoAdvert: true });
    i.start(0);
    i.timerFired(i.deadline!);
    expect(asked(i, () => i.advert(5 * S, { priority: 50, intervalUs: S, src: ip('192.0.2.1') }))).toEqual([{ type: 'announce', why: 'lowerPrio' }]);
  });
  it('a master hearing a lower-priority advert stays the master it reports; a higher one replaces it', () => {
    const i = mk({ priority: 200 });
    i.start(0);
    i.timerFired(i.deadline!);
    const lower = { priority: 100, intervalUs: S, src: ip('192.0.2.3') };
    expect(types(asked(i, () => i.advert(4 * S, lower)))).toEqual(['send(200)', 'announce']);
    expect(i.master).toMatchObject({ self: true, priority: 200 });
    i.advert(5 * S, { ...lower, priority: 250 });
    expect(i.state).toBe('BACKUP');
    expect(i.master).toMatchObject({ self: false, priority: 250, address: ip('192.0.2.3'), lastAdvertAt: 5 * S });
    // the record of the master is kept up to date by later adverts
    i.advert(6 * S, { ...lower, priority: 250 });
    expect(i.master).toMatchObject({ self: false, lastAdvertAt: 6 * S });
  });

  it('shutdown of a master sends priority 0 before releasing the VIPs', () => {
    const i = mk();
    i.start(0);
    i.timerFired(i.deadline!);
    expect(types(asked(i, () => i.shutdown(9 * S)))).toEqual(['send(0)', 'removeVips', 'cancel', 'MASTER->INIT']);
  });
  it('a weight-0 tracker failing sends priority 0, releases VIPs, FAULT; clearing returns to BACKUP', () => {
    const i = mk({ trackers: [trk('haproxy')] });
    i.start(0);
    i.timerFired(i.deadline!);
    expect(types(asked(i, () => i.setTracker(5 * S, 'haproxy', eff(0, false))))).toEqual(['send(0)', 'removeVips', 'cancel', 'MASTER->FAULT']);
    expect(asked(i, () => i.advert(6 * S, { priority: 50, intervalUs: S, src: ip('192.0.2.1') }))).toEqual([]);
    expect(types(asked(i, () => i.setTracker(7 * S, 'haproxy', eff(0, true))))).toEqual(['arm', 'FAULT->BACKUP']);
  });
  it('link down is a FAULT without a send; weights move the effective priority', () => {
    const i = mk({ trackers: [trk('eth1')] });
    i.start(0);
    i.timerFired(i.deadline!);
    i.setTracker(S * 5, 'eth1', eff(-60, false));
    expect(i.effective).toBe(40);
    expect(types(asked(i, () => i.setLink(S * 6, false)))).toEqual(['removeVips', 'cancel', 'MASTER->FAULT']);
  });
  it('a backup whose priority changes moves its running Master_Down_Timer by the change of Skew_Time (keepalived)', () => {
    const i = mk({ trackers: [trk('chk')] });
    i.start(0);
    i.advert(S, { priority: 200, intervalUs: S, src: ip('192.0.2.1') });
    const before = i.deadline!;
    const skew = i.skewTimeUs;
    i.setTracker(2 * S, 'chk', { delta: -50, fault: false });
    expect(i.effective).toBe(50);
    expect(i.deadline).toBe(before + i.skewTimeUs - skew);
    expect(i.deadline).toBeGreaterThan(before);
  });
  it('VRRPv2 keeps its own interval', () => {
    const i = mk({ version: 2 });
    i.start(0);
    i.advert(1000, { priority: 150, intervalUs: 3 * S, src: ip('192.0.2.1') });
    expect(i.masterAdverIntervalUs).toBe(S);
  });
});

describe('action sink', () => {
  it("the actions an instance gives its sink tell its state, deadline and VIPs at every step", () => {
    const ev = fc.oneof(
      fc.record({ k: fc.constant('advert' as const), dt: fc.nat(2 * S), prio: fc.integer({ min: 0, max: 255 }), src: fc.constantFrom('192.0.2.1', '192.0.2.9') }),
      fc.record({ k: fc.constant('timer' as const), dt: fc.nat(2 * S) }),
      fc.record({ k: fc.constant('tracker' as const), dt: fc.nat(S), up: fc.boolean() }),
      fc.record({ k: fc.constant('link' as const), dt: fc.nat(S), up: fc.boolean() }),
      fc.record({ k: fc.constant('shutdown' as const), dt: fc.nat(S) }),
    );
    fc.assert(
      fc.property(fc.array(ev, { maxLength: 40 }), fc.integer({ min: 1, max: 255 }), (events, priority) => {
        const i = mk({ priority, trackers: [trk('chk')] });
        // what a daemon knows from the actions alone
        let state = 'INIT';
        let timer: { kind: string; at: number } | null = null;
        let vips = false;
        const follow = (event: () => void): void => {
          for (const a of asked(i, event)) {
            if (a.type === 'transition') {
              expect(a.from).toBe(state);
              expect(a.to).not.toBe(a.from);
              state = a.to;
            } else if (a.type === 'arm') timer = { kind: a.timer, at: a.at };
            else if (a.type === 'cancel') timer = null;
            else if (a.type === 'addVips' || a.type === 'removeVips') {
              expect(vips).toBe(a.type === 'removeVips'); // never added twice nor removed unheld
              vips = a.type === 'addVips';
            }
          }
          expect(state).toBe(i.state);
          expect(timer).toEqual(i.timerKind === null ? null : { kind: i.timerKind, at: i.deadline });
          expect(vips).toBe(i.holdsVips);
          expect(vips).toBe(i.state === 'MASTER');
        };
        let now = 0;
        follow(() => i.start(now));
        for (const e of events) {
          now += e.dt;
          if (e.k === 'advert') follow(() => i.advert(now, { priority: e.prio, intervalUs: S, src: ip(e.src) }));
          else if (e.k === 'timer') {
            if (i.deadline !== null && i.deadline <= now) follow(() => i.timerFired(now));
          }
          else if (e.k === 'tracker') follow(() => i.setTracker(now, 'chk', eff(-60, e.up)));
          else if (e.k === 'link') follow(() => i.setLink(now, e.up));
          else follow(() => i.shutdown(now));
        }
      }),
    );
  });
});
