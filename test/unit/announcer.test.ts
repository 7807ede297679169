/**
 * The per-interface announcer (logic only: frames go to a fake socket). The NA Router flag
 * comes from the interface's IPv6 forwarding setting, read once for a burst of takeovers;
 * each instance's second burst is its own, and one timer serves them all.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHook } from 'node:async_hooks';
import { describe, expect, it, onTestFinished, vi } from 'vitest';
import { Announcer } from '../../src/daemon/announcer.js';
import { Pacer } from '../../src/daemon/pacer.js';
import type { PacketSocket } from '../../src/os/packet-socket.js';

const MAC = Uint8Array.from([2, 0, 0, 0, 0, 1]);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function fakeSocket(): { sock: PacketSocket; frames: Buffer[] } {
  const frames: Buffer[] = [];
  return { sock: { send: (f: Buffer) => frames.push(f) } as unknown as PacketSocket, frames };
}

describe('Announcer', () => {
  it('500 instances taking over at once read the forwarding setting without 64 KiB per read', async () => {
    const { sock, frames } = fakeSocket();
    // `lo` exists in every namespace; its setting is only read.
    const a = new Announcer(sock, MAC, 'lo', (e) => { throw e; });
    const before = process.memoryUsage().arrayBuffers;
    const owners = Array.from({ length: 500 }, (_, i) => ({ i }));
    for (const [i, o] of owners.entries()) a.announce(o, [{ address: `2001:db8::${(i + 1).toString(16)}`, family: 6 }], 1, 0);
    let peak = process.memoryUsage().arrayBuffers - before;
    await a.idle();
    peak = Math.max(peak, process.memoryUsage().arrayBuffers - before);
    // fs.readFile allocates 64 KiB for a /proc file: 500 reads in flight were 32 MB.
    expect(peak).toBeLessThan(2 * 1024 * 1024);
    expect(frames).toHaveLength(500);
    const forwarding = readFileSync('/proc/sys/net/ipv6/conf/lo/forwarding', 'utf8').trim() === '1';
    // ICMPv6 NA in an Ethernet frame: 14 + 40 bytes of headers, flags in the first byte after type/code/checksum
    for (const f of frames) expect(((f[14 + 40 + 4] as number) & 0x80) !== 0).toBe(forwarding);
  });

  it('each takeover reads the forwarding setting again (a changed setting is never missed)', async () => {
    const { sock, frames } = fakeSocket();
    const conf = mkdtempSync(join(tmpdir(), 'vipd-ipv6conf-'));
    onTestFinished(() => rmSync(conf, { recursive: true, force: true })); // also when it fails
    mkdirSync(join(conf, 'eth0'));
    const a = new Announcer(sock, MAC, 'eth0', (e) => { throw e; }, conf);
    const target = [{ address: '2001:db8::1', family: 6 as const }];
    const router = (): boolean[] => frames.map((f) => ((f[14 + 40 + 4] as number) & 0x80) !== 0);
    writeFileSync(join(conf, 'eth0', 'forwarding'), '0\n');
    a.announce({}, target, 1, 0);
    await a.idle();
    writeFileSync(join(conf, 'eth0', 'forwarding'), '1\n');
    a.announce({}, target, 1, 0);
    await a.idle();
    expect(router()).toEqual([false, true]);
    rmSync(conf, { recursive: true, force: true });
    a.announce({}, target, 1, 0); // unreadable: not a router
    await a.idle();
    expect(router()).toEqual([false, true, false]);
  });

  it('a second burst per instance after the delay; cancelling one instance leaves the others', async () => {
    const { sock, frames } = fakeSocket();
    const a = new Announcer(sock, MAC, 'lo', (e) => { throw e; });
    const x = {};
    const y = {};
    a.announce(x, [{ address: '192.0.2.10', family: 4 }], 2, 0.05);
    a.announce(y, [{ address: '192.0.2.11', family: 4 }], 2, 0.05);
    expect(frames).toHaveLength(4); // IPv4: at once
    a.cancel(x);
    await sleep(150);
    expect(frames).toHaveLength(6);
    // the second burst is y's: ARP target address (sender protocol address) 192.0.2.11
    expect([...frames[5]!.subarray(14 + 14, 14 + 18)]).toEqual([192, 0, 2, 11]);
  });

  it('200 instances taking over at once: one timer for their second bursts, frames in Node\'s pool', async () => {
    const { sock, frames } = fakeSocket();
    const a = new Announcer(sock, MAC, 'lo', (e) => { throw e; });
    const owners = Array.from({ length: 200 }, (_, i) => ({ i }));
    const timers = vi.spyOn(globalThis, 'setTimeout');
    try {
      for (const [i, o] of owners.entries()) a.announce(o, [{ address: `192.0.2.${i + 1}`, family: 4 }], 1, 0.05);
      // a timer per instance was 200 timers (and a closure each) alive for the delay
      expect(timers.mock.calls.length).toBeLessThanOrEqual(2);
    } finally {
      timers.mockRestore();
    }
    a.cancel(owners[7]!);
    await sleep(150);
    expect(frames).toHaveLength(200 + 199);
    // each second burst is its owner's frame again; the cancelled one is missing
    const second = frames.slice(200).map((f) => f[14 + 27]);
    expect(second).toEqual(owners.filter((_, i) => i !== 7).map((_, k) => (k < 7 ? k + 1 : k + 2)));
    // slices of Node's pool, not an ArrayBuffer per 42-byte frame
    for (const f of frames.slice(0, 200)) expect(f.buffer.byteLength).toBeGreaterThan(f.length);
  });

  it('an instance that leaves MASTER while its frames are being made announces nothing', async () => {
    const { sock, frames } = fakeSocket();
    const a = new Announcer(sock, MAC, 'lo', (e) => { throw e; });
    const o = {};
    // IPv6: the frames wait for the forwarding setting to be read
    a.announce(o, [{ address: '2001:db8::7', family: 6 }], 2, 0.05);
    a.cancel(o);
    await a.idle();
    await sleep(100);
    expect(frames).toHaveLength(0);
  });

  it('a burst of takeovers makes no promise per instance (they lived through the burst and were promoted)', async () => {
    const { sock, frames } = fakeSocket();
    const a = new Announcer(sock, MAC, 'lo', (e) => { throw e; });
    let promises = 0;
    const hook = createHook({ init: (_id, type) => { if (type === 'PROMISE') promises++; } }).enable();
    try {
      for (let i = 0; i < 200; i++) {
        a.announce({ i }, [{ address: `192.0.2.${i + 1}`, family: 4 }], 1, 0.05);
        a.announce({ i }, [{ address: `2001:db8::${(i + 1).toString(16)}`, family: 6 }], 1, 0.05);
      }
    } finally {
      hook.disable();
    }
    // the one forwarding read of the burst (open, read, close) and its continuation
    expect(promises).toBeLessThan(20);
    expect(frames).toHaveLength(200); // IPv4 at once
    await a.idle();
    expect(frames).toHaveLength(400);
  });

  it('garp_interval / gna_interval: frames of every instance on the interfaces of one pacer are spaced, each kind on its own; cancel drops the queued ones', async () => {
    const times: [number, string][] = [];
    const t0 = performance.now();
    const sock = (ifname: string): PacketSocket => ({ send: (f: Buffer) => times.push([performance.now() - t0, `${ifname} ${f[12] === 0x86 ? 'na' : 'arp'}`]) }) as unknown as PacketSocket;
    const conf = mkdtempSync(join(tmpdir(), 'vipd-ipv6conf-'));
    onTestFinished(() => rmSync(conf, { recursive: true, force: true }));
    const pacer = new Pacer(60, 0); // one garp_group of eth0 and eth1: garp_interval 0.06, no gna_interval
    onTestFinished(() => pacer.close());
    const a = new Announcer(sock('eth0'), MAC, 'eth0', (e) => { throw e; }, conf);
    const b = new Announcer(sock('eth1'), MAC, 'eth1', (e) => { throw e; }, conf);
    a.setPacer(pacer);
    b.setPacer(pacer);
    const [x, y, z] = [{}, {}, {}];
    a.announce(x, [{ address: '192.0.2.10', family: 4 }], 2, 0);
    b.announce(y, [{ address: '192.0.2.11', family: 4 }], 2, 0);
    a.announce(z, [{ address: '192.0.2.12', family: 4 }], 1, 0);
    expect(times).toHaveLength(1); // the first at once, four wait
    expect(pacer.queued).toBe(4);
    a.cancel(z); // z leaves MASTER: its queued frame is not sent
    expect(pacer.queued).toBe(3);
    a.announce({}, [{ address: '2001:db8::10', family: 6 }], 2, 0); // NAs are not paced here
    await a.idle();
    await sleep(300);
    expect(times.filter((t) => t[1].endsWith('na'))).toHaveLength(2);
    const arps = times.filter((t) => t[1].endsWith('arp'));
    expect(arps.map((t) => t[1])).toEqual(['eth0 arp', 'eth0 arp', 'eth1 arp', 'eth1 arp']);
    for (let i = 1; i < arps.length; i++) expect(arps[i]![0] - arps[i - 1]![0]).toBeGreaterThanOrEqual(59);
  });
});
