/**
 * The daemon's receive fast path (a packet identical to the last valid advert is not decoded
 * again) must not let through what the full RFC 9568 7.1 checks reject: the same VRRP bytes
 * with TTL 254, or from another source. A vipd backup hears crafted adverts from a fake master.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labConfig } from '../../src/lab/conf.js';
import { NetnsLab } from '../../src/lab/netns.js';
import { parseIP, parseMac } from '../../src/protocol/addr.js';
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
/** An advert from `from` whose VRRP bytes (checksum included) were made for r1's address. */
function frame(from: 'r1' | 'r3', ttl: number): string {
  const msg = encodeVrrp(adv, { src: lab.node('r1').ipv4, dst: '224.0.0.18' });
  const ip = buildIPv4({ src: parseIP(lab.node(from).ipv4)!.bytes, dst: GROUP, protocol: IPPROTO_VRRP, ttl, tos: 0xc0 }, msg);
  return buildEthernet(multicastMac(GROUP), parseMac(lab.node(from).mac)!, 0x0800, ip).toString('hex');
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
  for (const [what, bad] of [
    ['the same bytes with TTL 254', (): [('r1' | 'r3'), string] => ['r1', frame('r1', 254)]],
    ['the same VRRP bytes from another source', (): [('r1' | 'r3'), string] => ['r3', frame('r3', 255)]],
  ] as const) {
    it(`a backup hearing ${what} after valid adverts drops them and takes over`, async () => {
      vipd.start();
      const good = feed('r1', frame('r1', 255), 1500);
      await vipd.waitState('BACKUP');
      await good;
      const [from, hex] = bad();
      const flood = feed(from, hex, 1500);
      await vipd.waitState('MASTER', 1400); // Master_Down_Interval 360.9 ms after the last valid advert
      await flood;
      const dropped = vipd.lines.filter((l) => l.msg?.includes('->')).map((l) => l.to);
      expect(dropped).toEqual(['BACKUP', 'MASTER']);
      await vipd.stop();
    });
  }
});
