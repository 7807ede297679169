/**
 * The accept-mode filter without a kernel: the nft text it generates (keepalived 2.2.7's
 * chains and sets in one inet table), and how runs are serialized, coalesced, retried and
 * reported, with an injected runner.
 */
import { describe, expect, it } from 'vitest';
import {
  AcceptModeFilter, acceptElements, acceptElementsScript, acceptTableScript, nftVersion, scriptArgs,
  type NftResult, type NftRunner,
} from '../../src/os/nft.js';

const OK: NftResult = { code: 0, signal: null, output: '', durationMs: 1 };
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A runner whose runs end when the test says; records every script and the concurrency. */
function fakeRunner(): { run: NftRunner; scripts: string[]; finish: (r?: NftResult) => void; pending: () => number; maxConcurrent: () => number } {
  const scripts: string[] = [];
  const queue: ((r: NftResult) => void)[] = [];
  let active = 0;
  let max = 0;
  const run: NftRunner = (args) => {
    expect(args[0]).toBe('--');
    scripts.push(args.slice(1).join(' '));
    active++;
    max = Math.max(max, active);
    return new Promise((resolve) => queue.push((r) => {
      active--;
      resolve(r);
    }));
  };
  return { run, scripts, finish: (r = OK) => queue.shift()!(r), pending: () => queue.length, maxConcurrent: () => max };
}

async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !cond(); i++) await sleep(1);
  expect(cond()).toBe(true);
}

describe('ruleset text', () => {
  it("keepalived's chains, sets and rules in one inet table, priority and counters", () => {
    const s = acceptTableScript({ table: 'vipd', priority: -5, counters: true });
    expect(s.split('\n').slice(0, 3)).toEqual(['add table inet vipd', 'delete table inet vipd', 'table inet vipd {']);
    expect(s).toContain('set vips { type ipv4_addr; }');
    expect(s).toContain('set vips6 { type ipv6_addr; }');
    expect(s).toContain('set vips_link_local_name { type ipv6_addr . ifname; }');
    expect(s).toContain('elements = { nd-neighbor-solicit, nd-neighbor-advert }');
    expect(s).toMatch(/chain in \{\n {4}type filter hook input priority -5; policy accept;\n {4}ip daddr @vips counter drop\n {4}icmpv6 type @neighbor-discovery counter accept\n {4}ip6 daddr fe80::\/10 counter goto in_link_local\n {4}ip6 daddr @vips6 counter drop\n/);
    expect(s).toMatch(/chain out \{\n {4}type filter hook output priority -5; policy accept;\n {4}ip saddr @vips counter drop\n/);
    expect(s).toContain('ip6 daddr . iifname @vips_link_local_name counter drop');
    expect(s).toContain('ip6 saddr . oifname @vips_link_local_name counter drop');
  });

  it('defaults: priority -1, no counters; ifindex keys link-local VIPs by iif/oif', () => {
    const s = acceptTableScript({ table: 'vipd', ifindex: true });
    expect(s).toContain('type filter hook input priority -1;');
    expect(s).not.toContain('counter');
    expect(s).toContain('set vips_link_local { type ipv6_addr . iface_index; }');
    expect(s).toContain('ip6 daddr . iif @vips_link_local drop');
    expect(s).toContain('ip6 saddr . oif @vips_link_local drop');
  });

  it('elements: v4 by address, v6 by address, link-local v6 by address and interface; sorted, unique', () => {
    const el = acceptElements([
      { family: 6, address: '2001:DB8::100', ifname: 'eth0' },
      { family: 4, address: '192.0.2.101', ifname: 'eth0' },
      { family: 4, address: '192.0.2.100', ifname: 'eth1' },
      { family: 4, address: '192.0.2.100', ifname: 'eth0' },
      { family: 6, address: 'fe80::100', ifname: 'eth0' },
      { family: 6, address: 'febf::1', ifname: 'eth1' },
      { family: 6, address: 'fec0::1', ifname: 'eth1' },
      { family: 6, address: 'fe8::1', ifname: 'eth1' },
    ]);
    expect(el).toEqual({ vips: ['192.0.2.100', '192.0.2.101'], vips6: ['2001:db8::100', 'fe8::1', 'fec0::1'], ll: ['fe80::100 . "eth0"', 'febf::1 . "eth1"'] });
    expect(acceptElementsScript('vipd', el, false, true)).toBe([
      'flush set inet vipd vips',
      'add element inet vipd vips { 192.0.2.100, 192.0.2.101 }',
      'flush set inet vipd vips6',
      'add element inet vipd vips6 { 2001:db8::100, fe8::1, fec0::1 }',
      'flush set inet vipd vips_link_local_name',
      'add element inet vipd vips_link_local_name { fe80::100 . "eth0", febf::1 . "eth1" }',
      '',
    ].join('\n'));
    expect(acceptElementsScript('t', acceptElements([]), true, true)).toBe('flush set inet t vips\nflush set inet t vips6\nflush set inet t vips_link_local\n');
  });

  it('malformed entries and names are refused with a message', () => {
    expect(() => acceptElements([{ family: 4, address: '2001:db8::1', ifname: 'eth0' }])).toThrow(/not an IPv4 address/);
    expect(() => acceptElements([{ family: 6, address: 'fe80::1%eth0', ifname: 'eth0' }])).toThrow(/not an IPv6 address/);
    expect(() => acceptElements([{ family: 4, address: '192.0.2.1', ifname: 'eth0" } drop' }])).toThrow(/not an interface name/);
    expect(() => acceptElements([{ family: 4, address: '192.0.2.1', ifname: 'a-very-long-ifname' }])).toThrow(/not an interface name/);
    expect(() => new AcceptModeFilter({ table: 'vipd; flush ruleset' }, fakeRunner().run)).toThrow(/table name/);
    expect(() => new AcceptModeFilter({ table: 'vipd', priority: 1.5 }, fakeRunner().run)).toThrow(/priority/);
  });

  it('long scripts are split at line ends into arguments below 128 KiB; -c for a check', () => {
    const many = Array.from({ length: 20000 }, (_, i) => ({ family: 6 as const, address: `2001:db8::1:${i.toString(16)}`, ifname: 'eth0' }));
    const script = acceptElementsScript('vipd', acceptElements(many), false, true);
    const args = scriptArgs(script);
    expect(args.length).toBeGreaterThan(2);
    for (const a of args.slice(1)) expect(a.length).toBeLessThan(128 * 1024);
    expect(args.slice(1).join('')).toBe(script);
    expect(script.split('\n').filter((l) => l.startsWith('add element'))).toHaveLength(20);
    expect(scriptArgs('x\n', true)).toEqual(['-c', '--', 'x\n']);
  });

  it('deleteCommand: idempotent delete for the crash guardian', () => {
    expect(AcceptModeFilter.deleteCommand('vipd')).toEqual(['nft', '--', 'add', 'table', 'inet', 'vipd', ';', 'delete', 'table', 'inet', 'vipd']);
  });
});

describe('runs', () => {
  const v4 = (n: number): { family: 4; address: string; ifname: string } => ({ family: 4, address: `192.0.2.${n}`, ifname: 'eth0' });

  it('first run defines the table, later runs flush and fill the sets; one run at a time, coalesced', async () => {
    const f = fakeRunner();
    const filter = new AcceptModeFilter({ table: 'vipd' }, f.run);
    filter.set([v4(1)]);
    filter.set([v4(2)]); // same turn: one run with the latest
    await until(() => f.pending() === 1);
    expect(f.scripts[0]).toContain('table inet vipd {');
    expect(f.scripts[0]).toContain('add element inet vipd vips { 192.0.2.2 }');
    expect(f.scripts[0]).not.toContain('192.0.2.1 ');
    const s1 = filter.settled();
    // while it runs: three more calls, then it ends → exactly one more run, with the last
    filter.set([v4(3)]);
    await sleep(5);
    filter.set([v4(4)]);
    filter.set([v4(5), v4(6)]);
    await sleep(5);
    expect(f.pending()).toBe(1);
    const s2 = filter.settled();
    f.finish();
    await s1;
    await until(() => f.pending() === 1);
    expect(f.scripts).toHaveLength(2);
    expect(f.scripts[1]).toBe('flush set inet vipd vips\nadd element inet vipd vips { 192.0.2.5, 192.0.2.6 }\nflush set inet vipd vips6\nflush set inet vipd vips_link_local_name\n');
    f.finish();
    await s2;
    expect(f.maxConcurrent()).toBe(1);
    expect(filter.runs).toBe(2);
    // the same content again: no run
    filter.set([v4(6), v4(5)]);
    await filter.settled();
    expect(f.scripts).toHaveLength(2);
  });

  it('a failure is counted, logged with nft output, rejects settled(), and is retried with a full rebuild', async () => {
    const f = fakeRunner();
    const logs: string[] = [];
    const filter = new AcceptModeFilter({ table: 'vipd', retryMs: 20, log: (m) => logs.push(m) }, f.run);
    filter.set([v4(1)]);
    await until(() => f.pending() === 1);
    f.finish();
    await filter.settled();
    filter.set([v4(2)]);
    const s = filter.settled();
    await until(() => f.pending() === 1);
    expect(f.scripts[1]).toMatch(/^flush set/);
    f.finish({ code: 1, signal: null, output: 'Error: No such file or directory\n', durationMs: 1 });
    await expect(s).rejects.toThrow(/setting the accept-mode filter failed \(exit 1\): Error: No such file or directory/);
    expect(filter.errors).toBe(1);
    expect(logs[0]).toMatch(/No such file or directory; trying again in 20 ms/);
    await until(() => f.pending() === 1); // the retry, after retryMs
    expect(f.scripts[2]).toMatch(/^add table inet vipd\ndelete table inet vipd\ntable inet vipd \{/);
    expect(f.scripts[2]).toContain('add element inet vipd vips { 192.0.2.2 }');
    const s2 = filter.settled();
    f.finish();
    await s2;
    expect(filter.lastError).toBeNull();
    expect(logs[1]).toMatch(/applied after 1 failed run/);
  });

  it('a spawn error or a throwing runner is a failure too', async () => {
    const logs: string[] = [];
    const filter = new AcceptModeFilter({ table: 'vipd', retryMs: 60_000, log: (m) => logs.push(m) }, () => Promise.reject(new Error('boom')));
    filter.set([]);
    await expect(filter.settled()).rejects.toThrow(/runner threw: boom/);
    const f2 = new AcceptModeFilter({ table: 'vipd', retryMs: 60_000 }, async () => ({ code: null, signal: null, output: '', error: 'cannot start nft: ENOENT', durationMs: 0 }));
    await expect(f2.remove()).rejects.toThrow(/deleting the table failed \(cannot start nft: ENOENT\)/);
    expect(f2.errors).toBe(1);
    expect(logs).toHaveLength(1);
  });

  it('remove() deletes the table after the run in progress; a later set() defines it again', async () => {
    const f = fakeRunner();
    const filter = new AcceptModeFilter({ table: 'vipd' }, f.run);
    filter.set([v4(1)]);
    await until(() => f.pending() === 1);
    const removed = filter.remove();
    f.finish();
    await until(() => f.scripts.length === 2);
    expect(f.scripts[1]).toBe('add table inet vipd\ndelete table inet vipd\n');
    f.finish();
    await removed;
    await filter.remove(); // already absent: no run
    expect(f.scripts).toHaveLength(2);
    filter.set([v4(1)]);
    await until(() => f.pending() === 1);
    expect(f.scripts[2]).toContain('table inet vipd {');
    f.finish();
    await filter.settled();
  });

  it('nftVersion: the version line, or a clear error', async () => {
    await expect(nftVersion(async () => ({ ...OK, output: 'nftables v1.0.6 (Lester Gooch #5)\n' }))).resolves.toBe('nftables v1.0.6 (Lester Gooch #5)');
    await expect(nftVersion(async () => ({ code: null, signal: null, output: '', error: 'cannot start nft: ENOENT', durationMs: 0 }))).rejects.toThrow(/install Debian's nftables.*ENOENT/);
  });
});
