/**
 * Accept mode on a real kernel (RFC 9568 6.4.3, keepalived's nftables table): router A holds
 * VIPs in its namespace, B pings them. With the VIPs in the filter A answers no ping to them
 * (and sends nothing from them) but still answers ARP and NDP for them and pings to its own
 * address; set([]) lets them in again; remove() and the guardian's command delete the table.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NetnsLab } from '../../src/lab/netns.js';
import { AcceptModeFilter, nftVersion, spawnNft, type NftRunner } from '../../src/os/nft.js';
import { requireTool } from '../helpers/tools.js';

const lab = new NetnsLab('vt', 'n');
const VIP4 = '192.0.2.100';
const VIP6 = '2001:db8::100';
const LL = 'fe80::100';
let A = '';
let B = '';
const durations: number[] = [];
let runNft: NftRunner;
const filters: AcceptModeFilter[] = [];

/**
 * Does B (or `from`) get an answer? ping -c 2, 0.5 s wait after the last request (an answer
 * between two namespaces on one bridge takes well under a millisecond; a dropped ping costs
 * the whole wait, and this file expects a dozen of them).
 */
function answers(addr: string, opts: { from?: string; src?: string } = {}): boolean {
  const argv = ['ping', '-n', '-c', '2', '-i', '0.2', '-W', '0.5', ...(opts.src ? ['-I', opts.src] : []), addr];
  const out = lab.exec(opts.from ?? B, argv, { allowFail: true });
  return /\b[12] received/.test(out);
}

function tables(ns: string): string {
  return lab.exec(ns, ['nft', 'list', 'tables']);
}

/** B's neighbour entry for `addr` after forgetting it and pinging once: A's MAC, resolved. */
function resolvesTo(addr: string): string {
  const six = addr.includes(':') ? ['-6'] : ['-4'];
  lab.exec(B, ['ip', ...six, 'neigh', 'flush', 'to', addr, 'dev', 'eth0'], { allowFail: true });
  answers(addr.startsWith('fe80') ? `${addr}%eth0` : addr);
  return lab.exec(B, ['ip', ...six, 'neigh', 'show', 'to', addr, 'dev', 'eth0']).trim();
}

function filter(opts: { ifindex?: boolean; counters?: boolean } = {}): AcceptModeFilter {
  const f = new AcceptModeFilter({ table: 'vipd', log: (m) => console.log(m), retryMs: 60_000, ...opts }, runNft);
  filters.push(f);
  return f;
}

beforeAll(() => {
  NetnsLab.requireRoot();
  requireTool('nft');
  requireTool('ping');
  NetnsLab.cleanStale();
  lab.build([{ name: 'a', n: 1 }, { name: 'b', n: 2 }]);
  A = lab.node('a').ns;
  B = lab.node('b').ns;
  lab.exec(A, ['ip', 'addr', 'add', `${VIP4}/32`, 'dev', 'eth0']);
  lab.exec(A, ['ip', '-6', 'addr', 'add', `${VIP6}/128`, 'dev', 'eth0', 'nodad']);
  lab.exec(A, ['ip', '-6', 'addr', 'add', `${LL}/64`, 'dev', 'eth0', 'nodad']);
  const inner = spawnNft({ prefix: ['ip', 'netns', 'exec', A] });
  runNft = async (args) => {
    const r = await inner(args);
    durations.push(r.durationMs);
    return r;
  };
});

afterAll(async () => {
  for (const f of filters) await f.remove().catch(() => undefined);
  lab.destroy();
  if (durations.length) {
    const s = [...durations].sort((x, y) => x - y);
    console.log(`nft runs (ip netns exec + nft): ${s.length}, median ${s[s.length >> 1]!.toFixed(1)} ms, max ${s[s.length - 1]!.toFixed(1)} ms`);
  }
});

describe('accept-mode filter (nftables)', () => {
  it('nft is there; check() validates the whole table without creating it', async () => {
    expect(await nftVersion(spawnNft({ prefix: ['ip', 'netns', 'exec', A] }))).toMatch(/^nftables v\d/);
    await filter().check();
    expect(tables(A)).not.toMatch(/vipd/);
    // a name nft cannot parse is caught by the check, before anything is touched
    await expect(new AcceptModeFilter({ table: 'table' }, runNft).check()).rejects.toThrow(/nft -c failed: exit 1: .*syntax error/s);
  });

  it('VIPs in the filter: pings to them dropped, own address answered, ARP/NDP answered; set([]) lets them in', async () => {
    expect(answers(VIP4)).toBe(true);
    expect(answers(VIP6)).toBe(true);
    const f = filter({ counters: true });
    // the event loop goes on while nft runs
    let maxGap = 0;
    let last = performance.now();
    const tick = setInterval(() => {
      const now = performance.now();
      maxGap = Math.max(maxGap, now - last);
      last = now;
    }, 1);
    f.set([{ family: 4, address: VIP4, ifname: 'eth0' }, { family: 6, address: VIP6, ifname: 'eth0' }]);
    await f.settled();
    clearInterval(tick);
    console.log(`event loop: largest gap ${maxGap.toFixed(1)} ms while set() ran`);
    expect(maxGap).toBeLessThan(50);
    expect(lab.exec(A, ['nft', 'list', 'set', 'inet', 'vipd', 'vips'])).toContain(VIP4);

    expect(answers(VIP4)).toBe(false);
    expect(answers(VIP6)).toBe(false);
    expect(answers(lab.node('a').ipv4)).toBe(true);
    expect(answers(lab.node('a').ipv6)).toBe(true);
    expect(resolvesTo(VIP4)).toMatch(/lladdr 02:00:00:00:00:01 (REACHABLE|STALE|DELAY)/);
    expect(resolvesTo(VIP6)).toMatch(/lladdr 02:00:00:00:00:01 (REACHABLE|STALE|DELAY)/);
    // nothing leaves A from a VIP either (keepalived's `out` chain)
    expect(answers(lab.node('b').ipv4, { from: A, src: VIP4 })).toBe(false);
    expect(answers(lab.node('b').ipv4, { from: A })).toBe(true);
    // counters (nftables_counters) saw the drops
    const chain = lab.exec(A, ['nft', 'list', 'chain', 'inet', 'vipd', 'in']);
    expect(Number(/ip daddr @vips counter packets (\d+)/.exec(chain)?.[1])).toBeGreaterThan(0);
    expect(Number(/ip6 daddr @vips6 counter packets (\d+)/.exec(chain)?.[1])).toBeGreaterThan(0);
    const out = lab.exec(A, ['nft', 'list', 'chain', 'inet', 'vipd', 'out']);
    expect(Number(/ip saddr @vips counter packets (\d+)/.exec(out)?.[1])).toBeGreaterThan(0);

    f.set([]);
    await f.settled();
    expect(answers(VIP4)).toBe(true);
    expect(answers(VIP6)).toBe(true);
    expect(tables(A)).toMatch(/table inet vipd/); // kept, empty, until remove()
    await f.remove();
    expect(tables(A)).not.toMatch(/vipd/);
    expect(f.errors).toBe(0);
  });

  for (const ifindex of [false, true]) {
    it(`link-local VIPs are keyed by address and interface ${ifindex ? 'index' : 'name'}`, async () => {
      const f = filter({ ifindex });
      f.set([{ family: 6, address: LL, ifname: 'lo' }]);
      await f.settled();
      expect(answers(`${LL}%eth0`)).toBe(true); // another interface: not this entry
      f.set([{ family: 6, address: LL, ifname: 'eth0' }]);
      await f.settled();
      expect(answers(`${LL}%eth0`)).toBe(false);
      expect(resolvesTo(LL)).toMatch(/lladdr 02:00:00:00:00:01 (REACHABLE|STALE|DELAY)/);
      // an interface that does not exist: fine by name; by index nft refuses the whole run
      f.set([{ family: 6, address: LL, ifname: 'vtmissing0' }, { family: 4, address: VIP4, ifname: 'eth0' }]);
      if (ifindex) {
        await expect(f.settled()).rejects.toThrow(/Interface does not exist/);
        expect(f.errors).toBe(1);
        expect(answers(`${LL}%eth0`)).toBe(false); // the previous content stays
      } else {
        await f.settled();
        expect(answers(VIP4)).toBe(false);
        expect(answers(`${LL}%eth0`)).toBe(true);
      }
      await f.remove();
      expect(tables(A)).not.toMatch(/vipd/);
    });
  }

  it("the crash guardian's command deletes the table, and succeeds when it is gone", async () => {
    const f = filter();
    f.set([{ family: 4, address: VIP4, ifname: 'eth0' }]);
    await f.settled();
    expect(answers(VIP4)).toBe(false);
    lab.exec(A, AcceptModeFilter.deleteCommand('vipd'));
    expect(tables(A)).not.toMatch(/vipd/);
    expect(answers(VIP4)).toBe(true);
    lab.exec(A, AcceptModeFilter.deleteCommand('vipd')); // throws on a non-zero exit
    // the filter notices at its next run (flush of a missing set), logs, and rebuilds
    f.set([{ family: 4, address: VIP4, ifname: 'eth0' }, { family: 6, address: VIP6, ifname: 'eth0' }]);
    await expect(f.settled()).rejects.toThrow(/No such file or directory/);
    f.set([{ family: 4, address: VIP4, ifname: 'eth0' }]);
    await f.settled();
    expect(answers(VIP4)).toBe(false);
    await f.remove();
  });

  it('the runner kills nft at its timeout', async () => {
    const r = await spawnNft({ command: 'sleep', timeoutMs: 200 })(['5']);
    expect(r.error).toMatch(/timeout/);
    expect(r.durationMs).toBeLessThan(2000);
    const missing = await spawnNft({ command: 'vipd-no-such-nft' })(['--version']);
    expect(missing.error).toMatch(/ENOENT/);
  });
});
