/**
 * The daemon's receive fast path (a packet identical to the last valid advert is not decoded
 * again) must not let through what the full RFC 9568 7.1 checks reject: the same VRRP bytes
 * with TTL 254, from another source, or to another destination. A vipd backup hears crafted
 * adverts from a fake master.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labConfig } from '../../src/lab/conf.js';
import { NetnsLab } from '../../src/lab/netns.js';
import { parseIP, parseMac } from '../../src/protocol/addr.js';
import { internetChecksum } from '../../src/protocol/checksum.js';
import { buildEthernet, buildIPv4, multicastMac } from '../../src/protocol/ip.js';
import { encodeVrrp, IPPROTO_VRRP, type VrrpAdvert } from '../../src/protocol/vrrp.js';
import { Agent } from '../helpers/agent.js';
import { VipdProcess } from '../helpers/vipd.js';

const lab = new NetnsLab('vt', 'f');
const dir = mkdtempSync(join(tmpdir(), 'vipd-fast-'));
const agents: Record<string, Agent> = {};
let vipd: VipdProcess;
const adv: VrrpAdvert = { version: 3, family: 4, vrid: 51, priority: 150, interval: 10, addresses: ['192.0.2.200'] };

const GROUP = parseIP('224.0.0.18')!.bytes;
/**
 * An advert from `from` whose VRRP bytes (checksum included) were made for r1's address and
 * the group (or for r2's own address: `toR2`); sent to the group, or to r2's own address.
 */
function frame(from: 'r1' | 'r3', ttl: number, toR2 = false, madeForR2 = toR2): string {
  const msg = encodeVrrp(adv, { src: lab.node('r1').ipv4, dst: madeForR2 ? lab.node('r2').ipv4 : '224.0.0.18' });
  const dst = toR2 ? parseIP(lab.node('r2').ipv4)!.bytes : GROUP;
  const ip = buildIPv4({ src: parseIP(lab.node(from).ipv4)!.bytes, dst, protocol: IPPROTO_VRRP, ttl, tos: 0xc0 }, msg);
  const mac = toR2 ? parseMac(lab.node('r2').mac)! : multicastMac(GROUP);
  return buildEthernet(mac, parseMac(lab.node(from).mac)!, 0x0800, ip).toString('hex');
}
/** Send a frame every 20 ms (adverts claim 100 ms) for `ms`. */
function feed(from: 'r1' | 'r3', hex: string, ms: number): Promise<unknown> {
  return agents[from]!.call('frame', { ifname: 'eth0', hex, repeat: Math.round(ms / 20), everyMs: 20 });
}

beforeAll(async () => {
  NetnsLab.requireRoot();
  NetnsLab.cleanStale();
  lab.build([{ name: 'r1', n: 1 }, { name: 'r2', n: 2 }, { name: 'r3', n: 3 }]);
  for (const r of ['r1', 'r3']) agents[r] = await Agent.start(lab, r);
  vipd = new VipdProcess(lab, 'r2', dir, labConfig('r2', [{ vrid: 51, priority: 100, advertInt: 0.1, version: 3, vips: ['192.0.2.200/24'] }]));
});

afterAll(async () => {
  await vipd?.stop();
  for (const a of Object.values(agents)) await a.stop();
  lab.destroy();
  rmSync(dir, { recursive: true, force: true });
});

describe('receive fast path', () => {
  for (const [what, goodHex, bad] of [
    ['the same bytes with TTL 254', (): string => frame('r1', 255), (): [('r1' | 'r3'), string] => ['r1', frame('r1', 254)]],
    ['the same VRRP bytes from another source', (): string => frame('r1', 255), (): [('r1' | 'r3'), string] => ['r3', frame('r3', 255)]],
    // valid adverts sent to r2's address (checksum for it), then the same bytes to the group:
    // their checksum fits no destination they could have been made for
    ['the same VRRP bytes to another destination', (): string => frame('r1', 255, true), (): [('r1' | 'r3'), string] => ['r1', frame('r1', 255, false, true)]],
  ] as const) {
    it(`a backup hearing ${what} after valid adverts drops them and takes over`, async () => {
      vipd.start();
      try {
        const good = feed('r1', goodHex(), 1500);
        await vipd.waitState('BACKUP');
        await good;
        const [from, hex] = bad();
        const flood = feed(from, hex, 1500);
        await vipd.waitState('MASTER', 1400); // Master_Down_Interval 360.9 ms after the last valid advert
        await flood;
        const dropped = vipd.lines.filter((l) => l.to !== undefined).map((l) => l.to);
        expect(dropped).toEqual(['BACKUP', 'MASTER']);
      } finally {
        await vipd.stop(); // also when an assertion failed: the next test starts its own daemon
      }
    });
  }
});

describe('the longest valid datagram', () => {
  it('a VRRPv2 advert with 255 addresses behind a 60-byte IPv4 header is read whole: the backup stays backup', async () => {
    const vips = Array.from({ length: 255 }, (_, k) => `198.51.100.${k + 1}`);
    const v2: VrrpAdvert = { version: 2, family: 4, vrid: 52, priority: 150, interval: 1, addresses: vips, authType: 0 };
    const msg = encodeVrrp(v2, { src: lab.node('r1').ipv4, dst: '224.0.0.18' });
    // IPv4 header with 40 bytes of options (NOPs, then End of Options): IHL 15
    const plain = buildIPv4({ src: parseIP(lab.node('r1').ipv4)!.bytes, dst: GROUP, protocol: IPPROTO_VRRP, ttl: 255, tos: 0xc0 }, msg);
    const ip = Buffer.alloc(60 + msg.length);
    plain.copy(ip, 0, 0, 20);
    ip.fill(1, 20, 59);
    ip[59] = 0;
    msg.copy(ip, 60);
    ip[0] = 0x4f;
    ip.writeUInt16BE(ip.length, 2);
    ip.writeUInt16BE(0, 10);
    ip.writeUInt16BE(internetChecksum(ip, 0, 60), 10);
    expect(ip.length).toBe(1096);
    const hex = buildEthernet(multicastMac(GROUP), parseMac(lab.node('r1').mac)!, 0x0800, ip).toString('hex');
    vipd.rewrite(labConfig('r2', [{ vrid: 52, priority: 100, advertInt: 1, version: 2, vips }]));
    vipd.start();
    // adverts every 200 ms for 5 s (Master_Down_Interval 3.6 s): a cut-short read would be dropped and r2 would take over
    const feeding = agents.r1!.call('frame', { ifname: 'eth0', hex, repeat: 25, everyMs: 200 });
    let transitions: (string | undefined)[];
    try {
      await vipd.waitState('BACKUP');
      await feeding;
      transitions = vipd.lines.filter((l) => l.to !== undefined).map((l) => l.to);
    } finally {
      await vipd.stop();
    }
    expect(transitions).toEqual(['BACKUP']);
  }, 20_000);
});
