/**
 * vipd election rules on real sockets: nopreempt, the priority-255 owner, the equal-priority
 * tie-break (after a partition made with nftables), VRRPv2 with a password, an IPv6 VIP with
 * unsolicited NA, and SIGHUP reload.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { labConfig, type LabInstance } from '../../src/lab/conf.js';
import { NetnsLab } from '../../src/lab/netns.js';
import { expectHolders } from '../helpers/holders.js';
import { Sniffer } from '../helpers/sniffer.js';
import { requireTool } from '../helpers/tools.js';
import { VipdProcess } from '../helpers/vipd.js';

const lab = new NetnsLab('vt', 'm');
const dir = mkdtempSync(join(tmpdir(), 'vipd-modes-'));
let running: VipdProcess[] = [];
let sniff: Sniffer;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function vipd(r: string, inst: LabInstance[]): VipdProcess {
  const p = new VipdProcess(lab, r, dir, labConfig(r, inst));
  running.push(p);
  p.start();
  return p;
}
function holders(cidr: string, want: string[], timeoutMs = 3000): Promise<void> {
  return expectHolders(lab, ['r1', 'r2'], cidr, want, timeoutMs);
}

beforeAll(() => {
  NetnsLab.requireRoot();
  requireTool('nft');
  NetnsLab.cleanStale();
  lab.build([{ name: 'r1', n: 1 }, { name: 'r2', n: 2 }, { name: 'client', n: 100 }]);
  sniff = new Sniffer(lab, 'client');
});
afterEach(async () => {
  for (const p of running) await p.stop();
  running = [];
});
afterAll(async () => {
  await sniff?.stop();
  lab.destroy();
  rmSync(dir, { recursive: true, force: true });
});

describe('election rules', () => {
  it('nopreempt: a returning higher-priority router does not take the VIP back', async () => {
    const base = { vrid: 61, advertInt: 0.1, version: 3 as const, vips: ['192.0.2.210/24'], nopreempt: true };
    const low = vipd('r2', [{ ...base, priority: 100 }]);
    await low.waitState('MASTER');
    const high = vipd('r1', [{ ...base, priority: 200 }]);
    await high.waitState('BACKUP');
    await sleep(1000); // ~3 Master_Down_Intervals of r1
    expect([high.state, low.state]).toEqual(['BACKUP', 'MASTER']);
    await holders('192.0.2.210/24', ['r2']);
  });

  it('the priority-255 owner becomes master at once, without waiting Master_Down_Interval', async () => {
    const backup = vipd('r2', [{ vrid: 62, priority: 100, advertInt: 1, version: 3, vips: ['192.0.2.211/24'] }]);
    await backup.waitState('BACKUP');
    const owner = vipd('r1', [{ vrid: 62, priority: 255, advertInt: 1, version: 3, vips: ['192.0.2.211/24'] }]);
    const t = await owner.waitFor((l) => l.to !== undefined, 10_000, 'first transition');
    expect(t).toMatchObject({ from: 'INIT', to: 'MASTER', reason: 'address owner' });
    await holders('192.0.2.211/24', ['r1']);
  });

  it('equal priorities: after a partition heals, the higher primary address wins (RFC 9568 6.4.3)', async () => {
    const nft = (r: string, rules: string): string => lab.exec(lab.node(r).ns, ['nft', '-f', '-'], { input: rules });
    for (const r of ['r1', 'r2']) nft(r, 'table inet vipdtest {\n chain in { type filter hook input priority 0; ip protocol 112 drop; }\n}\n');
    const a = vipd('r1', [{ vrid: 63, priority: 100, advertInt: 0.1, version: 3, vips: ['192.0.2.212/24'] }]);
    const b = vipd('r2', [{ vrid: 63, priority: 100, advertInt: 0.1, version: 3, vips: ['192.0.2.212/24'] }]);
    await a.waitState('MASTER');
    await b.waitState('MASTER');
    await holders('192.0.2.212/24', ['r1', 'r2']); // split brain while partitioned
    a.setMark();
    for (const r of ['r1', 'r2']) nft(r, 'delete table inet vipdtest\n');
    const t = await a.waitState('BACKUP', 3000);
    expect(t.reason).toBe('higher priority advert received');
    await holders('192.0.2.212/24', ['r2']);
    await sleep(400);
    expect(b.state).toBe('MASTER');
  });
});

describe('protocol variants', () => {
  it('VRRPv2 with a simple password: election, takeover, and a wrong password is dropped', async () => {
    const base = { vrid: 64, advertInt: 1, version: 2 as const, vips: ['192.0.2.213/24'], authPass: 'secret12' };
    const hi = vipd('r1', [{ ...base, priority: 150 }]);
    const lo = vipd('r2', [{ ...base, priority: 100 }]);
    await hi.waitState('MASTER', 10_000);
    await lo.waitState('BACKUP');
    const ad = await sniff.waitFor((l) => l.type === 'vrrp' && l.vrid === 64 && l.src === '192.0.2.1', 5000, 'v2 advert');
    expect(ad).toMatchObject({ version: 2, authType: 1, valid: true, checksumMode: 'v2', advertIntervalMs: 1000 });
    lo.setMark();
    hi.signal('SIGKILL');
    await lo.waitState('MASTER', 8000);
    await holders('192.0.2.213/24', ['r2']);
    // A router with another password is not heard (RFC 3768 7.1): both stay master.
    const wrong = vipd('r1', [{ ...base, priority: 200, authPass: 'other123' }]);
    await wrong.waitState('MASTER', 8000);
    // its adverts at 200 (one on becoming master, then every second) would move r2 to BACKUP at once if heard
    await sleep(1500);
    expect([wrong.state, lo.state]).toEqual(['MASTER', 'MASTER']);
  });

  it('an IPv6 VIP: unsolicited NA on takeover, the client follows the MAC, the VIP survives a link flap', async () => {
    const base = { vrid: 65, advertInt: 0.1, version: 3 as const, vips: ['2001:db8::200/64'] };
    const hi = vipd('r1', [{ ...base, priority: 150 }]);
    const lo = vipd('r2', [{ ...base, priority: 100 }]);
    await hi.waitState('MASTER');
    await lo.waitState('BACKUP');
    await holders('2001:db8::200/64', ['r1']);
    const client = lab.node('client').ns;
    lab.exec(client, ['ping', '-6', '-c', '2', '-i', '0.2', '-W', '1', '2001:db8::200']);
    expect(lab.exec(client, ['ip', '-6', 'neigh', 'show', '2001:db8::200'])).toContain(lab.node('r1').mac);
    // keepalived sets the NA Router flag from the interface's forwarding setting: r2 routes.
    lab.exec(lab.node('r2').ns, ['sysctl', '-qw', 'net.ipv6.conf.eth0.forwarding=1']);
    const from = sniff.mark;
    lo.setMark();
    hi.signal('SIGKILL');
    await lo.waitState('MASTER');
    const na = await sniff.waitFor((l) => l.type === 'na' && l.target === '2001:db8::200', 3000, 'NA', from);
    expect(na).toMatchObject({ targetMac: lab.node('r2').mac, override: true, solicited: false, router: true });
    await holders('2001:db8::200/64', ['r2']);
    expect(lab.exec(client, ['ip', '-6', 'neigh', 'show', '2001:db8::200'])).toContain(lab.node('r2').mac);
    lab.exec(client, ['ping', '-6', '-c', '2', '-i', '0.2', '-W', '1', '2001:db8::200']);
    // A link flap on the master: the kernel drops IPv6 addresses on link down; the VIP must
    // come back once the instance is MASTER again (FAULT -> BACKUP -> MASTER; r1 is gone).
    lo.setMark();
    lab.exec(lab.node('r2').ns, ['ip', 'link', 'set', 'eth0', 'down']);
    await lo.waitState('FAULT', 3000);
    await holders('2001:db8::200/64', []);
    lo.setMark();
    lab.exec(lab.node('r2').ns, ['ip', 'link', 'set', 'eth0', 'up']);
    lab.exec(lab.node('r2').ns, ['ip', '-6', 'addr', 'replace', '2001:db8::2/64', 'dev', 'eth0', 'nodad']);
    await lo.waitState('MASTER', 5000);
    await holders('2001:db8::200/64', ['r2']);
  });

  it('SIGHUP: a changed priority moves mastership (state and VIPs kept by the reloaded router)', async () => {
    const base = { vrid: 66, advertInt: 0.1, version: 3 as const, vips: ['192.0.2.214/24'] };
    const a = vipd('r1', [{ ...base, priority: 150 }]);
    const b = vipd('r2', [{ ...base, priority: 100 }]);
    await a.waitState('MASTER');
    await b.waitState('BACKUP');
    b.setMark();
    b.rewrite(labConfig('r2', [{ ...base, priority: 200 }]));
    b.signal('SIGHUP');
    await b.waitFor((l) => l.msg === 'configuration reloaded', 3000, 'reload');
    await b.waitState('MASTER', 3000);
    await holders('192.0.2.214/24', ['r2']);
    // an invalid file is refused and the running configuration kept
    b.rewrite('vrrp_instance broken {\n');
    b.signal('SIGHUP');
    await b.waitFor((l) => typeof l.msg === 'string' && l.msg.startsWith('reload refused'), 3000, 'reload refused');
    await sleep(300);
    expect(b.state).toBe('MASTER');
  });

  it('a SIGHUP storm: every reload runs, one at a time, none refused (they used to share one rtnetlink dump: EBUSY)', async () => {
    const base = { vrid: 67, advertInt: 0.1, version: 3 as const, vips: ['192.0.2.215/24'] };
    const a = vipd('r1', [{ ...base, priority: 150 }, ...Array.from({ length: 10 }, (_, k) => ({ ...base, name: `S${k}`, priority: 100, vrid: 120 + k, vips: [`203.0.113.${100 + k}/24`] }))]);
    await a.waitFor((l) => l.to === 'MASTER' && l.instance === 'VI_67', 10_000, 'master');
    a.setMark();
    for (let k = 0; k < 40; k++) {
      a.signal('SIGHUP');
      await sleep(5);
    }
    // a SIGHUP that arrives while another is pending merges with it (POSIX standard signals;
    // seen once in CI under load: 39 of 40): wait until reloads stop, then count
    const done = (): number => a.lines.slice(a.mark).filter((l) => l.msg === 'configuration reloaded').length;
    let seen = -1;
    for (let end = Date.now() + 20_000; seen !== done() && Date.now() < end; ) {
      seen = done();
      await sleep(1500);
    }
    expect(done()).toBeGreaterThanOrEqual(38);
    expect(done()).toBeLessThanOrEqual(40);
    expect(a.lines.slice(a.mark).filter((l) => typeof l.msg === 'string' && /^reload (refused|failed)/.test(l.msg))).toEqual([]);
    expect(a.state).toBe('MASTER');
  }, 40_000);
});
