import type { Logger } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { DaemonConfig, InstanceModel } from '../../src/config/model.js';
import { LinkDebounce, linkDelays } from '../../src/daemon/link-debounce.js';
import { srcIpEffect, staticTrackers } from '../../src/daemon/trackers/static.js';

const msgs: string[] = [];
const log = { info: (_o: unknown, m: string) => msgs.push(m), warn: (_o: unknown, m: string) => msgs.push(m) } as unknown as Logger;
const inst = (o: Partial<InstanceModel>): InstanceModel => ({ name: 'VI_1', interface: 'eth0', advertIntervalUs: 1e6, downTimerAdverts: 3, other: {}, unicastPeers: [], unicastSrc: null, mcastSrc: null, ...o }) as InstanceModel;
const cfg = (delays: DaemonConfig['ifDelays'], instances: InstanceModel[]): DaemonConfig => ({ ifDelays: delays, instances }) as unknown as DaemonConfig;
const pos = { file: 'k.conf', line: 1, col: 1 };

describe('interface_up_down_delays (keepalived_netlink.c, vrrp.c check_debounce_timers)', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    msgs.length = 0;
  });
  afterEach(() => vi.useRealTimers());

  it('a change counts after its delay; a change back within it cancels it; a link never seen up comes up at once', () => {
    const applied: string[] = [];
    const d = new LinkDebounce(new Map([['eth0', { downUs: 1e6, upUs: 2e6 }]]), log, (i, up) => applied.push(`${i} ${up ? 'up' : 'down'}`));
    d.onLink(2, 'eth0', true, false); // never seen up: at once
    expect(applied).toEqual(['2 up']);
    d.onLink(2, 'eth0', false, true);
    vi.advanceTimersByTime(900);
    expect(applied).toEqual(['2 up']);
    d.onLink(2, 'eth0', true, true); // back within the delay
    vi.advanceTimersByTime(5000);
    expect(applied).toEqual(['2 up']);
    expect(msgs).toContain('Delay timer for eth0 cancelled');
    d.onLink(2, 'eth0', false, true);
    vi.advanceTimersByTime(1000);
    expect(applied).toEqual(['2 up', '2 down']);
    d.onLink(2, 'eth0', true, false);
    vi.advanceTimersByTime(1999);
    expect(applied).toHaveLength(2);
    vi.advanceTimersByTime(1);
    expect(applied).toEqual(['2 up', '2 down', '2 up']);
    d.onLink(3, 'eth1', false, true); // no delay configured
    expect(applied.at(-1)).toBe('3 down');
    d.close();
  });

  it('delays are cut below (down_timer_adverts - 1) x advert_int of the instances on the interface, 0 with down_timer_adverts 1', () => {
    const c = cfg([{ name: 'eth0', downUs: 5e6, upUs: 1e6, pos }, { name: 'eth1', downUs: 1e6, upUs: 1e6, pos }], [inst({}), inst({ name: 'VI_2', interface: 'eth1', downTimerAdverts: 1 })]);
    const m = linkDelays(c, log);
    expect(m.get('eth0')).toEqual({ downUs: 2e6 - 3906, upUs: 1e6 });
    expect(m.get('eth1')).toEqual({ downUs: 0, upUs: 0 });
    expect(msgs.some((x) => x.includes('debounce timer(s) not less than 2 * advert_int - resetting'))).toBe(true);
    expect(msgs.some((x) => x.includes('cannot use debounce timers with down_timer_adverts = 1'))).toBe(true);
  });
});

describe('unicast_fault_no_peer and track_src_ip', () => {
  it('unicast_fault_no_peer without peers is a FAULT for good; with peers, nothing', () => {
    expect(staticTrackers(inst({ other: { unicast_fault_no_peer: [] } }), log)).toEqual([{ name: 'unicast_fault_no_peer', delta: 0, fault: true }]);
    expect(staticTrackers(inst({ other: { unicast_fault_no_peer: [] }, unicastPeers: [{ address: '192.0.2.2' }] as InstanceModel['unicastPeers'] }), log)).toEqual([]);
  });
  it('track_src_ip follows the configured source on the instance\'s interface only', () => {
    const m = inst({ other: { track_src_ip: [] }, unicastSrc: '192.0.2.1' });
    expect(staticTrackers(m, log)).toEqual([{ name: 'track_src_ip', delta: 0, fault: false }]);
    expect(srcIpEffect(m, true, '192.0.2.1', false)).toEqual({ delta: 0, fault: true });
    expect(srcIpEffect(m, true, '192.0.2.1', true)).toEqual({ delta: 0, fault: false });
    expect(srcIpEffect(m, false, '192.0.2.1', false)).toBeNull();
    expect(srcIpEffect(m, true, '192.0.2.9', false)).toBeNull();
    expect(srcIpEffect(inst({ other: { track_src_ip: [] } }), true, '192.0.2.1', false)).toBeNull(); // no configured source: keepalived clears it
  });
});
