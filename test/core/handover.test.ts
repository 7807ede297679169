/**
 * vipd's handover and maintenance in the core (src/core/instance.ts handover/cancelHandover/
 * setMaintenance): make-before-break, and every router involved within RFC 9568 6.4.
 */
import { describe, expect, it } from 'vitest';
import { ActionLog } from '../../src/core/actions.js';
import { VrrpInstance, type Action, type InstanceConfig } from '../../src/core/instance.js';
import { masterDownIntervalUs, skewTimeUs } from '../../src/core/timers.js';
import { parseIP } from '../../src/protocol/addr.js';

const S = 1_000_000;
const ip = (t: string): Uint8Array => parseIP(t)!.bytes;
const types = (a: readonly Action[]): string[] => a.map((x) => (x.type === 'transition' ? `${x.from}->${x.to}` : x.type === 'send' ? `send(${x.priority})` : x.type));
const mk = (o: Partial<InstanceConfig> = {}): { i: VrrpInstance; log: ActionLog } => {
  const log = new ActionLog();
  const i = new VrrpInstance({ name: 'VI_1', vrid: 51, version: 3, priority: 150, advertIntervalUs: S, primaryAddress: ip('192.0.2.2'), ...o }, log);
  return { i, log };
};
/** A MASTER at priority 150 (it became master when its Master_Down_Timer fired). */
const master = (o: Partial<InstanceConfig> = {}): { i: VrrpInstance; log: ActionLog } => {
  const m = mk(o);
  m.i.start(0);
  m.i.timerFired(m.i.deadline!);
  expect(m.i.state).toBe('MASTER');
  m.log.take();
  return m;
};
const from = (src: string, priority: number) => ({ priority, intervalUs: S, src: ip(src) });

describe('handover: resign (priority 0, VIPs kept until the new master is heard)', () => {
  it('sends priority 0, stops advertising, keeps the VIPs; the new master\'s first advert makes it BACKUP and it lets go then', () => {
    const { i, log } = master();
    const t = 10 * S;
    expect(i.handover(t, 'resign')).toBe(true);
    expect(types(log.take())).toEqual(['send(0)', 'cancel']);
    expect(i.holdsVips).toBe(true);
    expect(i.state).toBe('MASTER');
    expect(i.deadline).toBeNull(); // silent: no advert can reset the backups' Skew_Time
    // a backup of priority 100 takes over after its Skew_Time; even a lower priority wins now
    i.advert(t + skewTimeUs(3, 100, S), from('192.0.2.3', 100));
    expect(types(log.take())).toEqual(['removeVips', 'arm', 'MASTER->BACKUP']);
    expect(i.holdsVips).toBe(false);
    expect(i.effective).toBe(150);
    expect(i.handingOver).toBeNull();
  });

  it('with higher_prio_send_advert (vipd\'s default) it sends no advert on letting go: its own priority would beat the new master', () => {
    const { i, log } = master({ higherPrioSendAdvert: true });
    i.handover(S, 'resign');
    log.take();
    i.advert(2 * S, from('192.0.2.3', 100));
    expect(types(log.take())).toEqual(['removeVips', 'arm', 'MASTER->BACKUP']);
  });

  it('afterwards it does not preempt the new master although its priority is higher (yield), until that master goes silent', () => {
    const { i, log } = master();
    i.handover(S, 'resign');
    i.advert(2 * S, from('192.0.2.3', 100));
    log.take();
    for (let k = 3; k < 10; k++) i.advert(k * S, from('192.0.2.3', 100)); // lower, but the new master's: accepted
    expect(i.state).toBe('BACKUP');
    expect(i.deadline).toBe(9 * S + masterDownIntervalUs(3, 150, S));
    i.timerFired(i.deadline!); // it went silent: the election is the normal one again
    expect(i.state).toBe('MASTER');
    expect(i.yieldTo).toBeNull();
  });

  it('the new master advertising another priority than it took over with (a handover --to this router, its trackers) ends the yield', () => {
    const { i } = master();
    i.handover(S, 'resign');
    i.advert(2 * S, from('192.0.2.3', 100));
    i.advert(3 * S, from('192.0.2.3', 100));
    expect(i.yieldTo).not.toBeNull();
    const due = i.deadline;
    i.advert(4 * S, from('192.0.2.3', 149)); // below 150: preempted as usual now (the advert is discarded)
    expect(i.yieldTo).toBeNull();
    expect(i.deadline).toBe(due);
  });

  it('another master heard ends the yield: a lower one is preempted as usual', () => {
    const { i, log } = master();
    i.handover(S, 'resign');
    i.advert(2 * S, from('192.0.2.3', 100));
    i.advert(3 * S, from('192.0.2.4', 90)); // someone else now: not the one handed over to
    expect(i.yieldTo).toBeNull();
    const due = i.deadline;
    i.advert(4 * S, from('192.0.2.4', 90));
    expect(i.deadline).toBe(due); // lower and preempt on: discarded (RFC 9568 6.4.2)
    log.take();
  });

  it('a sync group member forced to BACKUP during a handover yields to the first master it hears', () => {
    const { i } = master();
    i.handover(S, 'resign');
    i.forceBackup(2 * S, 'sync group');
    expect(i.state).toBe('BACKUP');
    expect(i.yieldTo).toBeNull();
    i.advert(2.5 * S, from('192.0.2.3', 100));
    expect(Buffer.from(i.yieldTo!).equals(Buffer.from(ip('192.0.2.3')))).toBe(true);
    expect(i.deadline).toBe(2.5 * S + masterDownIntervalUs(3, 150, S)); // accepted, not preempted
  });

  it('maintenance off ends the yield: back in service, the normal election (it preempts where it outranks)', () => {
    const { i } = master();
    i.setMaintenance(S, true);
    i.handover(S, 'resign');
    i.advert(2 * S, from('192.0.2.3', 100));
    expect(i.yieldTo).not.toBeNull();
    i.setMaintenance(3 * S, false);
    expect(i.yieldTo).toBeNull();
    const due = i.deadline;
    i.advert(4 * S, from('192.0.2.3', 100));
    expect(i.deadline).toBe(due); // lower than 150, preempt on: discarded, it will take over
  });

  it('cancelled (nobody took over): advertises at once at its priority again, VIPs never left', () => {
    const { i, log } = master();
    i.handover(S, 'resign');
    log.take();
    i.cancelHandover(4 * S);
    expect(types(log.take())).toEqual(['send(150)', 'arm']);
    expect(i.deadline).toBe(5 * S);
    expect(i.holdsVips).toBe(true);
    expect(i.handingOver).toBeNull();
  });

  it('refused unless MASTER, for an address owner, and while one is in progress', () => {
    const b = mk();
    b.i.start(0);
    expect(b.i.handover(S, 'resign')).toBe(false);
    const o = mk({ priority: 255 });
    o.i.start(0);
    expect(o.i.state).toBe('MASTER');
    expect(o.i.handover(S, 'resign')).toBe(false);
    const { i } = master();
    expect(i.handover(S, 99)).toBe(true);
    expect(i.handover(S, 'resign')).toBe(false);
  });

  it('SIGTERM while resigned sends no second priority 0 and releases the VIPs', () => {
    const { i, log } = master();
    i.handover(S, 'resign');
    log.take();
    i.shutdown(2 * S);
    expect(types(log.take())).toEqual(['removeVips', 'cancel', 'MASTER->INIT']);
  });
});

describe('handover to a chosen router: a lower advertised priority, ordinary preemption', () => {
  it('advertises the given priority; a router above it preempts; a router below it is answered as usual', () => {
    const { i, log } = master();
    expect(i.handover(S, 119)).toBe(true);
    expect(i.effective).toBe(119);
    i.timerFired(i.deadline!);
    expect(log.take()).toContainEqual({ type: 'send', priority: 119 });
    i.advert(2.5 * S, from('192.0.2.4', 100)); // below 119: not a new master
    expect(i.state).toBe('MASTER');
    log.take();
    i.advert(3 * S, from('192.0.2.3', 120)); // the target preempted
    expect(types(log.take())).toEqual(['removeVips', 'arm', 'MASTER->BACKUP']);
    expect(i.effective).toBe(150);
    expect(Buffer.from(i.yieldTo!).equals(Buffer.from(ip('192.0.2.3')))).toBe(true);
  });

  it('cancelled: the effective priority comes back into the next advert', () => {
    const { i } = master();
    i.handover(S, 119);
    i.cancelHandover(2 * S);
    expect(i.effective).toBe(150);
  });
});

describe('maintenance', () => {
  it('priority 1 while on, whatever the trackers say; off gives the effective priority back', () => {
    const { i } = master({ trackers: [{ name: 't', delta: 20, fault: false }] });
    expect(i.effective).toBe(170);
    i.setMaintenance(S, true);
    expect(i.effective).toBe(1);
    i.setTracker(2 * S, 't', { delta: 30, fault: false });
    expect(i.effective).toBe(1);
    i.setMaintenance(3 * S, false);
    expect(i.effective).toBe(180);
  });

  it('a backup in maintenance never preempts, and still becomes master when no other router is left', () => {
    const { i } = mk();
    i.setMaintenance(0, true);
    i.start(0);
    i.advert(S, from('192.0.2.3', 50));
    expect(i.deadline).toBe(S + masterDownIntervalUs(3, 1, S)); // 50 > 1: accepted, no preemption
    i.timerFired(i.deadline!);
    expect(i.state).toBe('MASTER');
    expect(i.effective).toBe(1);
  });

  it('an address owner keeps 255', () => {
    const { i } = mk({ priority: 255 });
    i.setMaintenance(0, true);
    expect(i.effective).toBe(255);
  });
});
