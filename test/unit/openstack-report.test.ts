/**
 * The OpenStack scenario's measurements and verdicts on made-up observations: a check that
 * cannot fail would make the CI scenario test meaningless.
 */
import { describe, expect, it } from 'vitest';
import { checks } from '../../src/lab/openstack/report.js';
import type { StepResult } from '../../src/lab/openstack/steps.js';
import { ClientLoop, Holders, Wire } from '../../src/lab/openstack/watch.js';

const lab = {} as ConstructorParameters<typeof ClientLoop>[0]; // the watchers only use the lab when started

function step(name: string, over: Partial<StepResult> = {}): StepResult {
  return {
    step: name, action: '', impl: 'vipd', start: 0, end: 1000, requests: 100, failed: 0, maxGapMs: 10, outages: 0, before: 'ctl3', after: 'ctl3', via: {},
    masterBefore: 'ctl3', masterAfter: 'ctl3', twoHoldersMs: 0, twoHolders: [], dualMasterAdverts: 0, staleVip: [], ...over,
  };
}

const good = (): StepResult[] => [
  step('steady'), step('migrate', { failed: 100, outages: 1, masterAfter: 'ctl2', after: 'ctl2' }),
  step('haproxy-kill', { failed: 200, masterBefore: 'ctl2', masterAfter: 'ctl3', before: 'ctl2', after: 'ctl3' }),
  step('haproxy-back'), step('kill-9', { failed: 5, masterAfter: 'ctl1', after: 'ctl1', deadAnswers: 0 }), step('daemon-back'),
  step('link-down', { failed: 300 }), step('link-up'), step('sigterm', { failed: 100 }), step('reload', { advertised: 100 }),
  step('handover', { masterBefore: 'ctl2', masterAfter: 'ctl3' }), step('maintenance', { masterBefore: 'ctl3', masterAfter: 'ctl2' }),
];

describe('openstack scenario checks', () => {
  it('all hold for a good run', () => {
    expect(checks(good()).filter((c) => !c.ok)).toEqual([]);
  });

  it.each([
    ['the VIP leaves a master whose HAProxy died', 'haproxy-kill', { masterAfter: 'ctl2', after: 'ctl2' }],
    ['the VIP leaves a master whose HAProxy died', 'haproxy-kill', { after: 'ctl2' }],
    ['no stale VIP after kill -9', 'kill-9', { staleVip: ['ctl3'] }],
    ['no stale VIP after kill -9', 'kill-9', { deadAnswers: 3 }],
    ['no loss on reload', 'reload', { failed: 1 }],
    ['no loss on reload', 'reload', { advertised: 3 }],
    ['no loss on reload', 'reload', { masterAfter: 'ctl1' }],
    ['no loss in steps that leave the master alone', 'link-up', { failed: 2 }],
    ['the migration never has two masters, at most one outage', 'migrate', { outages: 2 }],
    ['the migration never has two masters, at most one outage', 'migrate', { dualMasterAdverts: 1 }],
    ['the migration never has two masters, at most one outage', 'migrate', { twoHoldersMs: 101, twoHolders: ['ctl1', 'ctl2'] }],
    ['a planned handover loses no request', 'handover', { failed: 99 }],
    ['a planned handover loses no request', 'handover', { masterAfter: 'ctl2' }],
    ['maintenance of the master loses no request', 'maintenance', { failed: 3 }],
    ['never two holders of the VIP beyond a takeover race or a handover\'s make-before-break (100 ms)', 'daemon-back', { twoHoldersMs: 450, twoHolders: ['ctl2', 'ctl3'] }],
  ] as [string, string, Partial<StepResult>][])('%s fails on %s %j', (check, name, over) => {
    const steps = good().map((s) => (s.step === name ? { ...s, ...over } : s));
    const failed = checks(steps).filter((c) => !c.ok).map((c) => c.name);
    expect(failed).toContain(check);
  });

  it('a takeover race (two backups reaching MASTER within their Skew_Time difference) is reported, not a failure', () => {
    const steps = good().map((s) => (s.step === 'sigterm' ? { ...s, twoHoldersMs: 23, twoHolders: ['ctl1', 'ctl2'] } : s));
    const c = checks(steps);
    expect(c.filter((x) => !x.ok)).toEqual([]);
    expect(c.at(-1)!.detail).toBe('sigterm: ctl1+ctl2 23 ms');
  });

  it('a missing step fails its checks', () => {
    const failed = checks(good().filter((s) => s.step !== 'kill-9')).filter((c) => !c.ok).map((c) => c.name);
    expect(failed).toEqual(['no stale VIP after kill -9']);
  });
});

describe('what the watchers compute', () => {
  it('client: failures, outages as runs, the longest gap between answers, who answered', () => {
    const c = new ClientLoop(lab, 'client', 'http://192.0.2.250:5000/');
    c.requests.push({ t: 900, ms: 5, via: 'ctl3' });
    for (let t = 1000; t < 1100; t += 10) c.requests.push({ t, ms: 3, via: 'ctl3' });
    for (let t = 1100; t < 1400; t += 10) c.requests.push({ t, ms: 500, err: 'timeout' });
    for (let t = 1400; t < 1500; t += 10) c.requests.push({ t, ms: 3, via: 'ctl2' });
    c.requests.push({ t: 1450, ms: 500, err: 'timeout' });
    const s = c.stats(1000, 1500);
    expect(s).toMatchObject({ requests: 51, failed: 31, outages: 2, before: 'ctl3', after: 'ctl2', via: { ctl3: 10, ctl2: 10 } });
    expect(s.maxGapMs).toBe(1403 - 1093);
  });

  it('holders: the longest time two controllers held the VIP at once, within the window', () => {
    const h = new Holders(lab, ['ctl1', 'ctl2'], '192.0.2.250');
    h.holds.push({ node: 'ctl1', from: 0, to: 1000 }, { node: 'ctl2', from: 990, to: null }, { node: 'ctl1', from: 5000, to: 5400 });
    expect(h.overlap(0, 2000)).toEqual({ ms: 10, who: ['ctl1', 'ctl2'] });
    expect(h.overlap(3000, 6000)).toEqual({ ms: 400, who: ['ctl1', 'ctl2'] });
    expect(h.now()).toEqual(['ctl2']);
  });

  it('holders: events are stamped by `ip -tshort` (when ip read them), not when this process got to them', () => {
    const h = new Holders(lab, ['ctl1', 'ctl2'], '192.0.2.250');
    const feed = (node: string, line: string): void => (h as unknown as { event(n: string, l: string): void }).event(node, line);
    feed('ctl2', '[2026-11-30T02:52:02.004474] 2: eth0    inet 192.0.2.250/32 scope global eth0\\       valid_lft forever preferred_lft forever');
    feed('ctl1', '[2026-11-30T02:52:02.054474] Deleted 2: eth0    inet 192.0.2.250/32 scope global eth0\\       valid_lft forever preferred_lft forever');
    feed('ctl1', '[2026-11-30T02:52:02.060000] 2: eth0    inet 192.0.2.25/32 scope global eth0'); // another address
    expect(h.holds).toEqual([{ node: 'ctl2', from: new Date('2026-11-30T02:52:02.004').getTime(), to: null }]);
    h.holds.unshift({ node: 'ctl1', from: 0, to: null });
    feed('ctl1', '[2026-11-30T02:52:02.054474] Deleted 2: eth0    inet 192.0.2.250/32 scope global eth0');
    expect(h.overlap(0, Date.now()).ms).toBe(50);
  });

  it('wire: a takeover and a preemption are one master; two that keep advertising are two', () => {
    const w = new Wire(lab, 'client', 51);
    const ad = (time: number, src: string, priority = 100) => w.adverts.push({ time, src, priority, type: 'vrrp', vrid: 51 });
    for (let t = 0; t < 5; t++) ad(t, 'a'); // a is master
    ad(5, 'a', 0); // a resigns
    for (let t = 6; t < 9; t++) ad(t, 'b'); // b takes over
    ad(9.2, 'c', 200); // c preempts: b stops
    ad(10.2, 'c', 200);
    expect(w.dualMaster(0, 20_000, 1)).toBe(0);
    for (let t = 11.2; t < 14; t++) ad(t, 'c', 200);
    for (let t = 11.5; t < 14; t++) ad(t, 'b'); // b comes back and keeps advertising beside c
    expect(w.dualMaster(0, 20_000, 1)).toBeGreaterThanOrEqual(4);
  });
});
