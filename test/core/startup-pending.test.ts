/**
 * A start held in FAULT only by weight-0 trackers that have not reported yet is no news, as in
 * keepalived 2.2.7 (vrrp_scheduler.c vrrp_init_state: "Entering FAULT STATE (init)" without
 * notifies unless num_script_if_fault): the transition says AWAITING_TRACKERS, which the notify
 * hub does not send; the first report brings BACKUP, or a FAULT that is news.
 */
import { describe, expect, it } from 'vitest';
import { ActionLog } from '../../src/core/actions.js';
import { AWAITING_TRACKERS, VrrpInstance, type Action } from '../../src/core/instance.js';
import { trackerEffect } from '../../src/core/priority.js';
import { SyncGroup } from '../../src/core/sync-group.js';
import { parseIP } from '../../src/protocol/addr.js';

const S = 1_000_000;
const reasons = (a: readonly Action[]): string[] => a.flatMap((x) => (x.type === 'transition' ? [`${x.from}->${x.to} (${x.reason})`] : []));
const mk = (trackers: { name: string; delta: number; fault: boolean; pending?: boolean }[]): { i: VrrpInstance; log: ActionLog } => {
  const log = new ActionLog();
  const i = new VrrpInstance({ name: 'VI_1', vrid: 51, version: 2, priority: 100, advertIntervalUs: S, primaryAddress: parseIP('192.0.2.2')!.bytes, trackers }, log);
  return { i, log };
};

describe('start with weight-0 trackers that have not reported', () => {
  it('FAULT with AWAITING_TRACKERS; the first success brings BACKUP', () => {
    const { i, log } = mk([{ name: 'script:chk', ...trackerEffect(0, false, { kind: 'bool', up: null }) }]);
    i.start(0);
    expect(reasons(log.take())).toEqual([`INIT->FAULT (${AWAITING_TRACKERS})`]);
    i.setTracker(S, 'script:chk', trackerEffect(0, false, { kind: 'bool', up: true }));
    expect(reasons(log.take())).toEqual(['FAULT->BACKUP (tracker script:chk up)']);
  });

  it('a first failure is news: FAULT stays, now reported as down', () => {
    const { i, log } = mk([{ name: 'script:chk', ...trackerEffect(0, false, { kind: 'bool', up: null }) }]);
    i.start(0);
    log.take();
    i.setTracker(S, 'script:chk', trackerEffect(0, false, { kind: 'bool', up: false }));
    expect(i.state).toBe('FAULT');
    expect(i.faults).toEqual(['script:chk']);
  });

  it('a fault that has reported (or the link) at start is news: "startup with fault"', () => {
    const a = mk([{ name: 'script:a', ...trackerEffect(0, false, { kind: 'bool', up: null }) }, { name: 'file:b', ...trackerEffect(0, false, { kind: 'value', value: 1 }) }]);
    a.i.start(0);
    expect(reasons(a.log.take())).toEqual(['INIT->FAULT (startup with fault)']);
  });

  it('a sync group whose FAULT is only members awaiting their trackers starts without news; a real fault is news', () => {
    const pend = { name: 'script:chk', ...trackerEffect(0, false, { kind: 'bool', up: null }) };
    const seen: string[] = [];
    const a = mk([pend]);
    const b = mk([]);
    const g = new SyncGroup('G', [a.i, b.i], (from, to, why) => seen.push(`${from}->${to} (${why})`));
    g.init();
    expect(seen).toEqual([`INIT->FAULT (${AWAITING_TRACKERS})`]);
    const c = mk([{ name: 'file:f', ...trackerEffect(0, false, { kind: 'value', value: 1 }) }]);
    const seen2: string[] = [];
    new SyncGroup('H', [c.i, mk([]).i], (from, to, why) => seen2.push(`${from}->${to} (${why})`)).init();
    expect(seen2).toEqual(['INIT->FAULT (startup)']);
  });
});
