/**
 * VMAC (keepalived's use_vmac) on a real kernel: createVmac's macvlan, MAC, mode and sysctls,
 * ARP for a VIP on it, adverts sent through it (source MAC = RFC 9568 7.3 virtual MAC) and
 * where a peer's adverts arrive, leftovers, deleteVmac, the crash guardian's `ip -batch` line.
 * Two routers on a bridge in namespaces of this run; documentation addresses only.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { NetnsLab } from '../../src/lab/netns.js';
import { defaultVmacName, vmacDelLine, vmacMac } from '../../src/os/vmac.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const lab = new NetnsLab('vt', 'm');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * In-namespace driver (plain ESM, run by `node --import tsx -e`): the OS layer's calls on
 * request, JSON lines in and out, state (Rtnl, VmacHostSysctls, sockets, capture) kept between calls.
 */
const DRIVER = `
import { pathToFileURL } from 'node:url';
import { createInterface } from 'node:readline';
const imp = (p) => import(pathToFileURL(process.env.VIPD_ROOT + p).href);
const { createVmac, deleteVmac, VmacHostSysctls } = await imp('src/os/vmac.ts');
const { Rtnl } = await imp('src/os/rtnl.ts');
const { VrrpSocket } = await imp('src/os/vrrp-socket.ts');
const { PacketSocket } = await imp('src/os/packet-socket.ts');
const { encodeVrrp, receiveVrrp } = await imp('src/protocol/vrrp.ts');
const rtnl = new Rtnl();
const host = new VmacHostSysctls();
const socks = new Map();
const frames = [];
let cap = null;
const hex = (b) => [...b].map((x) => x.toString(16).padStart(2, '0')).join(':');
const ops = {
  async create(a) {
    const parent = await rtnl.link(a.parent);
    const v = await createVmac(rtnl, { name: a.name, parentIndex: parent.index, vrid: a.vrid, family: a.family, linkLocal: a.linkLocal, host });
    return { ...v, mac: hex(v.mac) };
  },
  del: (a) => deleteVmac(rtnl, a.index, host),
  restore: () => host.restore(),
  changes: () => host.changes(),
  async open(a) {
    const l = await rtnl.link(a.ifname);
    const sock = new VrrpSocket({ ifname: a.ifname, ifindex: l.index, family: a.family, source: a.source });
    const got = [];
    sock.on('packet', (p) => { const r = receiveVrrp(p); got.push({ src: p.srcText, ttl: p.ttl, ifindex: p.ifindex, valid: r.valid, vrid: r.valid ? r.advert.vrid : -1 }); });
    socks.set(a.id, { sock, got });
    return { ifindex: l.index };
  },
  send(a) {
    const { sock } = socks.get(a.id);
    for (const dst of sock.destinations()) sock.sendTo(encodeVrrp(a.advert, { src: a.source, dst }), dst);
    return null;
  },
  async recv(a) {
    await new Promise((r) => setTimeout(r, a.waitMs));
    return socks.get(a.id).got.splice(0);
  },
  async capture(a) {
    const l = await rtnl.link(a.ifname);
    cap = new PacketSocket(l.index, true);
    cap.on('frame', (f) => {
      const d = f.data, type = d.readUInt16BE(12);
      const proto = type === 0x0800 ? d[23] : type === 0x86dd ? d[20] : -1;
      if ((proto === 112 || proto === 2) && !f.outgoing) frames.push({ dst: hex(d.subarray(0, 6)), src: hex(d.subarray(6, 12)), type, proto, ipSrc: type === 0x0800 ? [...d.subarray(26, 30)].join('.') : d.subarray(22, 38).toString('hex') });
    });
    return null;
  },
  async frames(a) {
    await new Promise((r) => setTimeout(r, a.waitMs));
    return frames.splice(0);
  },
};
createInterface({ input: process.stdin }).on('line', async (line) => {
  const m = JSON.parse(line);
  if (m.op === 'exit') { for (const s of socks.values()) s.sock.close(); cap?.close(); rtnl.close(); process.exit(0); }
  try { process.stdout.write(JSON.stringify({ id: m.id, ok: true, result: (await ops[m.op](m.args)) ?? null }) + '\\n'); }
  catch (e) { process.stdout.write(JSON.stringify({ id: m.id, ok: false, error: String(e && e.stack || e) }) + '\\n'); }
});
process.stdout.write(JSON.stringify({ ready: true }) + '\\n');
`;

class Driver {
  private seq = 0;
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private stderr = '';
  private constructor(private readonly proc: ChildProcess, ready: () => void) {
    proc.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString()));
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      const m = JSON.parse(line) as { ready?: boolean; id: number; ok: boolean; result?: unknown; error?: string };
      if (m.ready) return ready();
      const w = this.waiting.get(m.id);
      this.waiting.delete(m.id);
      if (m.ok) w?.resolve(m.result);
      else w?.reject(new Error(m.error));
    });
    proc.on('exit', (code) => {
      for (const w of this.waiting.values()) w.reject(new Error(`driver exited (${code}): ${this.stderr}`));
      this.waiting.clear();
    });
  }

  static async start(node: string): Promise<Driver> {
    let ready!: () => void;
    const started = new Promise<void>((r) => (ready = r));
    const proc = lab.spawn(lab.node(node).ns, [process.execPath, '--import', 'tsx', '--input-type=module', '-e', DRIVER], { cwd: ROOT, env: { ...process.env, VIPD_ROOT: ROOT } });
    const d = new Driver(proc, ready);
    await Promise.race([started, new Promise((_r, j) => setTimeout(() => j(new Error(`driver in ${node} did not start: ${d.stderr}`)), 15000))]);
    return d;
  }

  call<T = unknown>(op: string, args: Record<string, unknown> = {}): Promise<T> {
    const id = ++this.seq;
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.proc.stdin!.write(`${JSON.stringify({ id, op, args })}\n`);
    });
  }

  async stop(): Promise<void> {
    if (this.proc.exitCode !== null) return;
    const exited = new Promise((r) => this.proc.once('exit', r));
    this.proc.stdin!.write(`${JSON.stringify({ op: 'exit' })}\n`);
    await Promise.race([exited, sleep(3000)]);
    if (this.proc.exitCode === null && this.proc.pid) this.proc.kill('SIGKILL');
  }
}

type Vmac = { index: number; name: string; mac: string; adopted: boolean };
type Got = { src: string; ttl: number; ifindex: number; valid: boolean; vrid: number };
type Frame = { dst: string; src: string; type: number; proto: number; ipSrc: string };

const drivers: Record<string, Driver> = {};
const ns = (r: string): string => lab.node(r).ns;
const sh = (r: string, ...argv: string[]): string => lab.exec(ns(r), argv).trim();
const sysctl = (r: string, path: string): string => sh(r, 'cat', `/proc/sys/${path}`);
const linkJson = (r: string, name: string): { address: string; link: string; operstate: string; flags: string[]; linkinfo: { info_kind: string; info_data: { mode: string } } } =>
  JSON.parse(sh(r, 'ip', '-d', '-j', 'link', 'show', 'dev', name))[0];
const hasLink = (r: string, name: string): boolean => lab.exec(ns(r), ['ip', '-o', 'link', 'show', 'dev', name], { allowFail: true }).includes(name);
const adv4 = { version: 3, family: 4, vrid: 51, priority: 150, interval: 100, addresses: ['192.0.2.100'] };

beforeAll(async () => {
  NetnsLab.requireRoot();
  NetnsLab.cleanStale();
  lab.build([{ name: 'r1', n: 1 }, { name: 'r2', n: 2 }]);
  // a host where rp_filter is on (Debian's systemd sets 2): keepalived clears all.rp_filter for IPv4 VMACs
  sh('r1', 'sysctl', '-qw', 'net.ipv4.conf.all.rp_filter=2');
  for (const r of ['r1', 'r2']) drivers[r] = await Driver.start(r);
}, 60_000);

afterAll(async () => {
  for (const d of Object.values(drivers)) await d.stop();
  lab.destroy();
});

describe('names and MACs (keepalived 2.2.7)', () => {
  it('virtual MAC per RFC 9568 7.3, keepalived default names and their fallbacks, the guardian line', () => {
    expect([...vmacMac(51, 4)]).toEqual([0, 0, 0x5e, 0, 1, 51]);
    expect([...vmacMac(255, 6)]).toEqual([0, 0, 0x5e, 0, 2, 255]);
    expect(() => vmacMac(0, 4)).toThrow(RangeError);
    expect(defaultVmacName(51, 4)).toBe('vrrp.51');
    expect(defaultVmacName(51, 6)).toBe('vrrp.51');
    const taken = (n: string): boolean => ['vrrp.51', 'vrrp6.51', 'vrrp1.51'].includes(n);
    expect(defaultVmacName(51, 6, taken)).toBe('vrrp2.51');
    expect(defaultVmacName(51, 4, taken)).toBe('vrrp2.51');
    expect(defaultVmacName(51, 4, (n) => n === 'vrrp.51')).toBe('vrrp1.51');
    expect(defaultVmacName(51, 6, (n) => n === 'vrrp.51')).toBe('vrrp6.51');
    expect(defaultVmacName(200, 4, () => false, 'averylongprefix')).toBe('averylongpr.200');
    expect(vmacDelLine('vrrp.51')).toBe('link del vrrp.51');
    expect(() => vmacDelLine('a b')).toThrow(/invalid link name/);
  });
});

describe('IPv4 VMAC', () => {
  let v: Vmac;

  it('createVmac: private macvlan on eth0, 00:00:5e:00:01:33, up; sysctls on it, on eth0 and all.rp_filter', async () => {
    const before = { arpIgnore: sysctl('r1', 'net/ipv4/conf/eth0/arp_ignore'), arpFilter: sysctl('r1', 'net/ipv4/conf/eth0/arp_filter'), rp: sysctl('r1', 'net/ipv4/conf/eth0/rp_filter') };
    expect(before).toEqual({ arpIgnore: '0', arpFilter: '0', rp: '0' });
    v = await drivers.r1!.call<Vmac>('create', { name: 'vrrp.51', parent: 'eth0', vrid: 51, family: 4 });
    expect(v).toMatchObject({ name: 'vrrp.51', mac: '00:00:5e:00:01:33', adopted: false });
    const l = linkJson('r1', 'vrrp.51');
    expect(l).toMatchObject({ address: '00:00:5e:00:01:33', link: 'eth0', linkinfo: { info_kind: 'macvlan', info_data: { mode: 'private' } } });
    expect(l.flags).toContain('UP');
    const conf = (k: string): string => sysctl('r1', `net/ipv4/conf/vrrp.51/${k}`);
    expect([conf('arp_ignore'), conf('accept_local'), conf('rp_filter'), conf('promote_secondaries')]).toEqual(['1', '1', '0', '1']);
    expect([sysctl('r1', 'net/ipv6/conf/vrrp.51/disable_ipv6'), sysctl('r1', 'net/ipv6/conf/vrrp.51/addr_gen_mode')]).toEqual(['1', '1']);
    expect(sh('r1', 'ip', '-o', 'addr', 'show', 'dev', 'vrrp.51')).toBe(''); // no address of its own
    expect([sysctl('r1', 'net/ipv4/conf/eth0/arp_ignore'), sysctl('r1', 'net/ipv4/conf/eth0/arp_filter')]).toEqual(['1', '1']);
    // all.rp_filter 2 → 0, after raising default and every link to 2
    expect([sysctl('r1', 'net/ipv4/conf/all/rp_filter'), sysctl('r1', 'net/ipv4/conf/default/rp_filter'), sysctl('r1', 'net/ipv4/conf/eth0/rp_filter')]).toEqual(['0', '2', '2']);
  });

  const neighVip = (): string => sh('r2', 'ip', 'neigh', 'show', '192.0.2.100', 'dev', 'eth0');
  const flushBoth = (): void => {
    for (const r of ['r1', 'r2']) sh(r, 'ip', 'neigh', 'flush', 'dev', 'eth0');
  };

  it('a VIP on the VMAC answers ARP from another namespace with the virtual MAC', async () => {
    sh('r1', 'ip', 'addr', 'add', '192.0.2.100/32', 'dev', 'vrrp.51');
    flushBoth();
    sh('r1', 'ping', '-c', '1', '-W', '2', '192.0.2.2'); // r1 knows r2 on eth0 already (a gateway or a client it has talked to)
    sh('r2', 'ping', '-c', '3', '-i', '0.2', '-W', '2', '192.0.2.100');
    expect(neighVip()).toMatch(/lladdr 00:00:5e:00:01:33 /);
    // r1's own address is still answered with eth0's MAC (arp_ignore 1 on the VMAC)
    sh('r2', 'ping', '-c', '1', '-W', '2', '192.0.2.1');
    expect(sh('r2', 'ip', 'neigh', 'show', '192.0.2.1', 'dev', 'eth0')).toMatch(/lladdr 02:00:00:00:00:01 /);
  });

  it("keepalived's settings leave a hazard: r1 resolving r2 on eth0 for a reply from the VIP tells r2 the VIP is at eth0's MAC; arp_announce 2 on eth0 avoids it", async () => {
    // the reply to r2's ping leaves from the VIP through eth0: eth0's ARP request carries the VIP as sender
    flushBoth();
    sh('r2', 'ping', '-c', '3', '-i', '0.2', '-W', '2', '192.0.2.100');
    expect(neighVip()).toMatch(/lladdr 02:00:00:00:00:01 /);
    sh('r1', 'sysctl', '-qw', 'net.ipv4.conf.eth0.arp_announce=2');
    try {
      flushBoth();
      sh('r2', 'ping', '-c', '3', '-i', '0.2', '-W', '2', '192.0.2.100');
      expect(neighVip()).toMatch(/lladdr 00:00:5e:00:01:33 /);
    } finally {
      sh('r1', 'sysctl', '-qw', 'net.ipv4.conf.eth0.arp_announce=0');
    }
  });

  it('an advert sent by a VrrpSocket on the VMAC leaves with source MAC 00:00:5e:00:01:33 and r1\'s address', async () => {
    await drivers.r2!.call('capture', { ifname: 'eth0' });
    const { ifindex } = await drivers.r2!.call<{ ifindex: number }>('open', { id: 'base', ifname: 'eth0', family: 4 });
    await drivers.r1!.call('open', { id: 'vmac', ifname: 'vrrp.51', family: 4, source: '192.0.2.1' });
    // joining 224.0.0.18 on the VMAC sends IGMP reports from the virtual MAC, backup or not
    // (keepalived's nftables table moves them to the parent: dup to the parent, drop)
    const igmp = (await drivers.r2!.call<Frame[]>('frames', { waitMs: 300 })).filter((f) => f.proto === 2);
    expect(igmp.length).toBeGreaterThan(0);
    expect(igmp.every((f) => f.src === '00:00:5e:00:01:33')).toBe(true);
    await drivers.r1!.call('send', { id: 'vmac', advert: adv4, source: '192.0.2.1' });
    const frames = (await drivers.r2!.call<Frame[]>('frames', { waitMs: 300 })).filter((f) => f.proto === 112);
    expect(frames).toEqual([{ dst: '01:00:5e:00:00:12', src: '00:00:5e:00:01:33', type: 0x0800, proto: 112, ipSrc: '192.0.2.1' }]);
    // a router without a VMAC receives it on its interface, valid, TTL 255
    expect(await drivers.r2!.call<Got[]>('recv', { id: 'base', waitMs: 0 })).toEqual([{ src: '192.0.2.1', ttl: 255, ifindex, valid: true, vrid: 51 }]);
  });

  it('with a VMAC of the same VRID on the receiver, the advert arrives on its VMAC only, not on eth0 (private macvlan)', async () => {
    const v2 = await drivers.r2!.call<Vmac>('create', { name: 'vrrp.51', parent: 'eth0', vrid: 51, family: 4 });
    await drivers.r2!.call('open', { id: 'vmac', ifname: 'vrrp.51', family: 4, source: '192.0.2.2' });
    await drivers.r2!.call('recv', { id: 'base', waitMs: 0 });
    await drivers.r1!.call('send', { id: 'vmac', advert: adv4, source: '192.0.2.1' });
    expect(await drivers.r2!.call<Got[]>('recv', { id: 'vmac', waitMs: 300 })).toEqual([{ src: '192.0.2.1', ttl: 255, ifindex: v2.index, valid: true, vrid: 51 }]);
    expect(await drivers.r2!.call<Got[]>('recv', { id: 'base', waitMs: 0 })).toEqual([]);
    // an advert from a peer without a VMAC (eth0's own MAC) reaches the VMAC's socket too
    await drivers.r1!.call('open', { id: 'base', ifname: 'eth0', family: 4, source: '192.0.2.1' });
    await drivers.r1!.call('send', { id: 'base', advert: { ...adv4, priority: 120 }, source: '192.0.2.1' });
    expect(await drivers.r2!.call<Got[]>('recv', { id: 'vmac', waitMs: 300 })).toEqual([{ src: '192.0.2.1', ttl: 255, ifindex: v2.index, valid: true, vrid: 51 }]);
    await drivers.r2!.call('del', { index: v2.index });
    expect(hasLink('r2', 'vrrp.51')).toBe(false);
  });

  it('deleteVmac removes the link and gives eth0 its ARP sysctls back; restore() gives rp_filter back', async () => {
    expect((await drivers.r1!.call<{ path: string; value: number }[]>('changes')).map((c) => `${c.path}=${c.value}`)).toEqual([
      '/proc/sys/net/ipv4/conf/eth0/arp_ignore=0', '/proc/sys/net/ipv4/conf/eth0/arp_filter=0', '/proc/sys/net/ipv4/conf/all/rp_filter=2',
      '/proc/sys/net/ipv4/conf/default/rp_filter=0', '/proc/sys/net/ipv4/conf/lo/rp_filter=0', '/proc/sys/net/ipv4/conf/eth0/rp_filter=0',
    ]);
    await drivers.r1!.call('del', { index: v.index });
    expect(hasLink('r1', 'vrrp.51')).toBe(false);
    expect([sysctl('r1', 'net/ipv4/conf/eth0/arp_ignore'), sysctl('r1', 'net/ipv4/conf/eth0/arp_filter')]).toEqual(['0', '0']);
    await drivers.r1!.call('restore');
    expect([sysctl('r1', 'net/ipv4/conf/all/rp_filter'), sysctl('r1', 'net/ipv4/conf/default/rp_filter'), sysctl('r1', 'net/ipv4/conf/eth0/rp_filter')]).toEqual(['2', '0', '0']);
    expect(await drivers.r1!.call('changes')).toEqual([]);
  });

  it('leftovers: a bridge-mode macvlan of that name is replaced, a matching one adopted, a non-macvlan refused', async () => {
    sh('r1', 'ip', 'link', 'add', 'link', 'eth0', 'name', 'vrrp.51', 'address', '00:00:5e:00:01:33', 'type', 'macvlan', 'mode', 'bridge');
    const first = await drivers.r1!.call<Vmac>('create', { name: 'vrrp.51', parent: 'eth0', vrid: 51, family: 4 });
    expect(first.adopted).toBe(false);
    expect(linkJson('r1', 'vrrp.51').linkinfo.info_data.mode).toBe('private');
    const again = await drivers.r1!.call<Vmac>('create', { name: 'vrrp.51', parent: 'eth0', vrid: 51, family: 4 });
    expect(again).toMatchObject({ adopted: true, index: first.index });
    sh('r1', 'ip', 'link', 'add', 'vrrp.52', 'type', 'bridge');
    await expect(drivers.r1!.call('create', { name: 'vrrp.52', parent: 'eth0', vrid: 52, family: 4 })).rejects.toThrow(/not a macvlan/);
    expect(linkJson('r1', 'vrrp.52').linkinfo.info_kind).toBe('bridge');
    sh('r1', 'ip', 'link', 'del', 'vrrp.52');
  });

  it("the crash guardian's line through `ip -force -batch -` removes the VMAC", () => {
    expect(hasLink('r1', 'vrrp.51')).toBe(true);
    lab.exec(ns('r1'), ['ip', '-force', '-batch', '-'], { input: `${vmacDelLine('vrrp.51')}\n` });
    expect(hasLink('r1', 'vrrp.51')).toBe(false);
  });

  it('restore() after the VMAC went without deleteVmac still gives everything back', async () => {
    await drivers.r1!.call('restore');
    expect([sysctl('r1', 'net/ipv4/conf/all/rp_filter'), sysctl('r1', 'net/ipv4/conf/eth0/arp_ignore'), sysctl('r1', 'net/ipv4/conf/eth0/arp_filter')]).toEqual(['2', '0', '0']);
  });
});

describe('IPv6 VMAC', () => {
  it('00:00:5e:00:02:34, IPv6 on, no EUI-64 address of its own, the parent\'s link-local; adverts leave with the virtual MAC', async () => {
    const ll = lab.linkLocal('r1');
    const v = await drivers.r1!.call<Vmac>('create', { name: 'vrrp.52', parent: 'eth0', vrid: 52, family: 6, linkLocal: ll });
    expect(v.mac).toBe('00:00:5e:00:02:34');
    expect(linkJson('r1', 'vrrp.52')).toMatchObject({ address: '00:00:5e:00:02:34', linkinfo: { info_data: { mode: 'private' } } });
    expect([sysctl('r1', 'net/ipv6/conf/vrrp.52/disable_ipv6'), sysctl('r1', 'net/ipv6/conf/vrrp.52/addr_gen_mode')]).toEqual(['0', '1']);
    expect(lab.addresses('r1', 'vrrp.52')).toEqual([`${ll}/64`]);
    // IPv4 VMAC sysctls are keepalived's for IPv4 instances only; eth0 untouched
    expect(sysctl('r1', 'net/ipv4/conf/eth0/arp_ignore')).toBe('0');
    const { ifindex } = await drivers.r2!.call<{ ifindex: number }>('open', { id: 'base6', ifname: 'eth0', family: 6 });
    await drivers.r2!.call('frames', { waitMs: 0 });
    await drivers.r1!.call('open', { id: 'vmac6', ifname: 'vrrp.52', family: 6, source: ll });
    await drivers.r1!.call('send', { id: 'vmac6', advert: { version: 3, family: 6, vrid: 52, priority: 150, interval: 100, addresses: ['fe80::52'] }, source: ll });
    const frames = (await drivers.r2!.call<Frame[]>('frames', { waitMs: 300 })).filter((f) => f.proto === 112);
    const llHex = Buffer.from((await import('../../src/protocol/addr.js')).parseIP(ll)!.bytes).toString('hex');
    expect(frames).toEqual([{ dst: '33:33:00:00:00:12', src: '00:00:5e:00:02:34', type: 0x86dd, proto: 112, ipSrc: llHex }]);
    expect(await drivers.r2!.call<Got[]>('recv', { id: 'base6', waitMs: 0 })).toEqual([{ src: ll, ttl: 255, ifindex, valid: true, vrid: 52 }]);
    await drivers.r1!.call('del', { index: v.index });
    expect(hasLink('r1', 'vrrp.52')).toBe(false);
  });
});
