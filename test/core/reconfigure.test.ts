import { describe, expect, it } from 'vitest';
import { ActionLog } from '../../src/core/actions.js';
import { VrrpInstance, type Action, type InstanceConfig, type Reconfigurable } from '../../src/core/instance.js';
import { masterDownIntervalUs } from '../../src/core/timers.js';
import { parseIP } from '../../src/protocol/addr.js';
import { instanceChanges, planReload } from '../../src/daemon/reload-plan.js';
import { loadKeepalivedConfig } from '../../src/config/keepalived.js';
import type { InstanceModel } from '../../src/config/model.js';

const S = 1_000_000;
const ip = (t: string): Uint8Array => parseIP(t)!.bytes;
const mk = (o: Partial<InstanceConfig> = {}): { i: VrrpInstance; log: ActionLog } => {
  const log = new ActionLog();
  const i = new VrrpInstance({ name: 'VI_1', vrid: 51, version: 3, priority: 150, advertIntervalUs: S, primaryAddress: ip('192.0.2.2'), ...o }, log);
  return { i, log };
};
const types = (a: readonly Action[]): string[] => a.map((x) => (x.type === 'transition' ? `${x.from}->${x.to}` : x.type === 'send' ? `send(${x.priority})` : x.type));
const settings = (i: VrrpInstance, o: Partial<Reconfigurable>): Reconfigurable => ({
  priority: i.config.priority, advertIntervalUs: i.config.advertIntervalUs, preempt: true, preemptDelayUs: 0, acceptMode: false,
  lowerPrioNoAdvert: false, higherPrioSendAdvert: false, downTimerAdverts: 3, ...o,
});
const master = (o: Partial<InstanceConfig> = {}): { i: VrrpInstance; log: ActionLog } => {
  const m = mk({ priority: 255, ...o });
  m.i.start(0);
  m.log.take();
  return m;
};

describe('VrrpInstance.reconfigure (an in-place reload)', () => {
  it('a MASTER whose priority changes keeps its state and its addresses: no priority 0, no removal, the next advert carries the new priority', () => {
    const { i, log } = master();
    i.reconfigure(100, settings(i, { priority: 240 }), []);
    expect(types(log.take())).toEqual([]); // nothing now: no advert, no VIP change, no transition
    expect(i.state).toBe('MASTER');
    expect(i.effective).toBe(240);
    expect(i.master?.priority).toBe(240);
    i.timerFired(S);
    expect(log.take()).toContainEqual({ type: 'send', priority: 240 });
  });

  it('a MASTER lowered below a backup stays MASTER until that backup preempts it (one handover, as a tracker would)', () => {
    const { i, log } = master();
    i.reconfigure(100, settings(i, { priority: 90 }), []);
    i.advert(200, { priority: 120, intervalUs: S, src: ip('192.0.2.3') });
    expect(types(log.take())).toEqual(['removeVips', 'arm', 'MASTER->BACKUP']);
  });

  it('a shorter Adver_Int takes effect at once on a MASTER (the armed advert moves nearer); a longer one from the next advert', () => {
    const { i, log } = master();
    i.reconfigure(100_000, settings(i, { advertIntervalUs: S / 10 }), []);
    expect(i.deadline).toBe(200_000);
    expect(i.masterAdverIntervalUs).toBe(S / 10);
    log.take();
    i.timerFired(200_000);
    expect(i.deadline).toBe(300_000);
    i.reconfigure(250_000, settings(i, { advertIntervalUs: 2 * S }), []);
    expect(i.deadline).toBe(300_000);
    i.timerFired(300_000);
    expect(i.deadline).toBe(2_300_000);
  });

  it("a VRRPv3 BACKUP keeps the master's interval it learned; its Master_Down timer follows a new priority's Skew_Time", () => {
    const { i } = mk({ priority: 100 });
    i.start(0);
    i.advert(1000, { priority: 200, intervalUs: S, src: ip('192.0.2.9') });
    const due = i.deadline!;
    i.reconfigure(2000, settings(i, { priority: 50, advertIntervalUs: S / 2 }), []);
    expect(i.masterAdverIntervalUs).toBe(S);
    expect(i.deadline).toBe(due - masterDownIntervalUs(3, 100, S) + masterDownIntervalUs(3, 50, S));
    expect(i.state).toBe('BACKUP');
  });

  it('trackers: a new tracker counts, a dropped one stops counting, one that has not reported since the reload keeps its effect', () => {
    const { i } = mk({ priority: 100, trackers: [{ name: 'script:a', delta: -20, fault: false }, { name: 'script:b', delta: 10, fault: false }] });
    i.start(0);
    expect(i.effective).toBe(90);
    i.reconfigure(10, settings(i, { priority: 100 }), [{ name: 'script:a', delta: 0, fault: false }, { name: 'script:c', delta: 5, fault: false }], (n) => n === 'script:a');
    expect(i.effective).toBe(85); // a kept (-20), b gone, c new (+5)
    i.reconfigure(20, settings(i, { priority: 100 }), [{ name: 'script:a', delta: 0, fault: true }], () => false);
    expect(i.state).toBe('FAULT');
  });
});

const conf = (inst: string, extra = ''): string => `
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 51
    priority 150
    advert_int 1
    virtual_ipaddress {
        192.0.2.11/24
        192.0.2.12/24
    }
${inst}
}
${extra}`;

/** The instances of keepalived.conf text, through the real loader. */
async function models(text: string): Promise<InstanceModel[]> {
  return (await loadKeepalivedConfig('/mem/keepalived.conf', { read: async () => text, glob: async () => [], resolve: (_f, p) => p })).instances;
}

describe('planReload (what a reload does to each instance)', () => {
  const one = models;
  it('priority, addresses, interval and preemption change in place; each change is named', async () => {
    const { res, inPlace } = planReload(await one(conf('')), await one(conf('    advert_int 2\n    nopreempt\n    virtual_ipaddress {\n        192.0.2.13/24\n    }').replace('priority 150', 'priority 140')));
    expect(res.inPlace).toEqual(['VI_1']);
    expect(res.restarted).toEqual([]);
    expect(inPlace[0]!.priority).toBe(140);
    expect(res.changes.VI_1).toEqual(expect.arrayContaining(['priority 150 -> 140', 'advert_int 1 -> 2', 'nopreempt']));
  });

  it('VRID, interface, version, unicast peers and entering priority 255 restart, and say why', async () => {
    const base = (await one(conf('')))[0]!;
    const c = async (s: string): Promise<string[]> => instanceChanges(base, (await one(s))[0]!).restart;
    expect(await c(conf('').replace('virtual_router_id 51', 'virtual_router_id 52'))).toEqual(['virtual_router_id']);
    expect(await c(conf('').replace('interface eth0', 'interface eth1'))).toEqual(['interface']);
    expect(await c(conf('    version 3'))).toEqual(['version']);
    expect(await c(conf('    unicast_peer {\n        192.0.2.3\n    }'))).toEqual(['unicast_peer']);
    expect(await c(conf('').replace('priority 150', 'priority 255'))).toEqual(['priority 255 (address owner)']);
  });

  it('a comment above moves every line: nothing changes', async () => {
    const { res } = planReload(await one(conf('')), await one(`# managed\n\n${conf('')}`));
    expect(res).toMatchObject({ added: [], removed: [], restarted: [], inPlace: [], changes: {} });
  });
});
