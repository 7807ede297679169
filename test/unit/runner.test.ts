/**
 * The instance runner's VIP operations and announcements, on fakes (logic only; the real path
 * is in test/netns): gratuitous ARPs wait for the kernel's ack of the VIP operations, so no
 * neighbour is pointed at an address that is not on the interface yet.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { fsSource } from '../../src/config/fs-source.js';
import { loadKeepalivedConfig } from '../../src/config/keepalived.js';
import type { InstanceModel } from '../../src/config/model.js';
import type { Announcer } from '../../src/daemon/announcer.js';
import { InstanceRunner, type RunnerDeps } from '../../src/daemon/runner.js';
import type { Scheduler } from '../../src/daemon/scheduler.js';
import { Reconciler } from '../../src/daemon/reconciler/reconciler.js';
import type { Interface } from '../../src/os/iface.js';
import type { VrrpSocket } from '../../src/os/vrrp-socket.js';

const dir = mkdtempSync(join(tmpdir(), 'vipd-runner-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function ownerModel(extra = ''): Promise<InstanceModel> {
  const f = join(dir, 'keepalived.conf');
  // priority 255: the address owner is MASTER as soon as it starts (RFC 9568 6.4.1)
  writeFileSync(f, `vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 7\n priority 255\n advert_int 1\n${extra} virtual_ipaddress {\n 192.0.2.7/32\n 192.0.2.8/32\n }\n}\n`);
  return (await loadKeepalivedConfig(f, fsSource)).instances[0]!;
}

type Ack = (errno: number) => void;

/** A reconciler over a fake kernel that records each request and acks when the test says. */
function fakes(): { deps: RunnerDeps; acks: Array<{ op: string; done: Ack }>; log: string[]; ifaces: Map<string, Interface>; own: (m: InstanceModel) => void } {
  const acks: Array<{ op: string; done: Ack }> = [];
  const log: string[] = [];
  const ifaces = new Map<string, Interface>();
  const holder = new Reconciler({ apply: (op, _o, done) => { acks.push({ op, done }); log.push(`vip ${op}`); } }, pino({ level: 'silent' }));
  const own = (m: InstanceModel): void => holder.configure(new Map([[m.name, m.vips.map((v) => ({ kind: 'addr' as const, key: v.address, family: v.family, text: v.address, request: () => Buffer.alloc(0), delLine: '', vip: v, ifname: 'eth0', noTrack: false }))]]), []);
  const deps: RunnerDeps = {
    holder,
    scheduler: { set: () => undefined, clear: () => undefined, release: () => undefined } as unknown as Scheduler,
    log: pino({ level: 'silent' }),
    iface: { name: 'eth0', index: 2, mac: new Uint8Array(6), macText: '00:00:00:00:00:00', up: true, primaryV4: '192.0.2.1', linkLocalV6: null },
    ifaceOf: (n) => ifaces.get(n),
    socket: { destinations: () => ['224.0.0.18'], sendTo: () => undefined } as unknown as VrrpSocket,
    announcer: { announce: () => log.push('announce'), cancel: () => log.push('cancel') } as unknown as Announcer,
    emit: () => undefined,
  };
  return { deps, acks, log, ifaces, own };
}

describe('InstanceRunner', () => {
  it('announces a new master\'s VIPs once the kernel has acknowledged adding them', async () => {
    const { deps, acks, log, own } = fakes();
    const m = await ownerModel();
    own(m);
    const r = new InstanceRunner(m, deps);
    r.start();
    expect(r.core.state).toBe('MASTER');
    expect(log).toEqual(['vip add', 'vip add']);
    acks[0]!.done(0);
    expect(log).toEqual(['vip add', 'vip add']);
    acks[1]!.done(17); // EEXIST: the address is there all the same
    expect(log).toEqual(['vip add', 'vip add', 'announce']);
  });

  it('announces nothing if it leaves MASTER before the acks; stop() resolves once they are in', async () => {
    const { deps, acks, log, own } = fakes();
    const m = await ownerModel();
    own(m);
    const r = new InstanceRunner(m, deps);
    r.start();
    let stopped = false;
    const stopping = r.stop().then(() => (stopped = true));
    // MASTER, re-announce and reload-added bursts cancelled, on leaving MASTER and at stop;
    // the deletes go out once the adds are acked (one request per address in flight)
    expect(log).toEqual(['vip add', 'vip add', ...Array<string>(6).fill('cancel')]);
    for (const a of acks.slice(0, 2)) a.done(0);
    expect(log.slice(8)).toEqual(['vip del', 'vip del']);
    expect(stopped).toBe(false);
    for (const a of acks.slice(2)) a.done(0);
    await stopping;
    expect(stopped).toBe(true);
    expect(log).not.toContain('announce');
  });
});

describe('InstanceRunner: announcing again', () => {
  /** The announcer's calls as [owner is the runner, repeat, delay]. */
  async function runner(extra: string): Promise<{ r: InstanceRunner; calls: [boolean, number, number][] }> {
    const { deps, acks, own } = fakes();
    const calls: [boolean, number, number][] = [];
    deps.announcer = { announce: (o: unknown, _v: unknown, repeat: number, delay: number) => calls.push([o === r, repeat, delay]), cancel: () => undefined } as unknown as Announcer;
    const m = await ownerModel(extra);
    own(m);
    const r = new InstanceRunner(m, deps);
    r.start();
    for (const a of acks) a.done(0);
    return { r, calls };
  }
  const lower = { priority: 100, intervalUs: 1_000_000, src: Uint8Array.from([192, 0, 2, 9]) };

  it('a MASTER that hears a lower-priority master: garp_lower_prio_repeat now, again after garp_lower_prio_delay', async () => {
    const { r, calls } = await runner(' garp_master_repeat 3\n garp_master_delay 2\n');
    r.core.advert(1, lower);
    // keepalived 2.2.7: the defaults are the global vrrp_garp_master_repeat/_delay (5, 5), not
    // the instance's garp_master_*; the MASTER burst keeps its own key (not cancelled)
    expect(calls).toEqual([[true, 3, 2], [false, 5, 5]]);
    expect(r.stats.reannounced).toBe(1);
    const t = await runner(' garp_lower_prio_repeat 2\n garp_lower_prio_delay 0\n');
    t.r.core.advert(1, lower);
    expect(t.calls).toEqual([[true, 5, 5], [false, 2, 0]]);
  });
  it('a flood of lower-priority adverts (a peer that cannot hear us): one re-announcement per own advert interval', async () => {
    const { r, calls } = await runner('');
    for (let k = 0; k < 50; k++) r.core.advert(k, lower);
    expect(calls).toEqual([[true, 5, 5], [false, 5, 5]]);
    expect(r.stats.reannounced).toBe(1);
  });
  it('garp_lower_prio_repeat 0: no re-announcement', async () => {
    const { r, calls } = await runner(' garp_lower_prio_repeat 0\n');
    r.core.advert(1, lower);
    expect(calls).toEqual([[true, 5, 5]]);
  });
  it('garp_master_refresh: garp_master_refresh_repeat more as the first advert after the refresh interval goes out', async () => {
    const { r, calls } = await runner(' garp_master_refresh 1\n garp_master_refresh_repeat 2\n');
    r.send(255);
    expect(calls).toHaveLength(1);
    await new Promise((res) => setTimeout(res, 1050));
    r.send(255);
    r.send(255);
    expect(calls).toEqual([[true, 5, 5], [false, 2, 0]]);
  });
});

describe('InstanceRunner: VIPs on another device', () => {
  it('announces a VIP with its own dev on that interface\'s announcer, the others on the instance\'s', async () => {
    const f = join(dir, 'dev.conf');
    writeFileSync(f, 'vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 7\n priority 255\n virtual_ipaddress {\n 192.0.2.7/32\n 198.51.100.7/32 dev eth1\n }\n}\n');
    const model = (await loadKeepalivedConfig(f, fsSource)).instances[0]!;
    const { deps, acks, ifaces, own } = fakes();
    own(model);
    const eth1 = { ...deps.iface, name: 'eth1', index: 3 };
    ifaces.set('eth1', eth1);
    const sent: string[] = [];
    const fake = (name: string): Announcer => ({ announce: (_o: unknown, vips: { address: string }[]) => sent.push(`${name}: ${vips.map((v) => v.address).join(' ')}`), cancel: () => sent.push(`${name} cancel`) }) as unknown as Announcer;
    deps.announcer = fake('eth0');
    const others = new Map<string, Announcer>();
    deps.announcerOf = (i) => others.get(i.name) ?? others.set(i.name, fake(i.name)).get(i.name)!;
    const r = new InstanceRunner(model, deps);
    r.start();
    for (const a of acks) a.done(0);
    expect(sent).toEqual(['eth0: 192.0.2.7', 'eth1: 198.51.100.7']);
    const stopping = r.stop();
    for (const a of acks.slice(2)) a.done(0);
    await stopping;
    expect([...new Set(sent.slice(2))].sort()).toEqual(['eth0 cancel', 'eth1 cancel']);
  });
});
