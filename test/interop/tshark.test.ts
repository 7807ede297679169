/** tshark (Wireshark's VRRP dissector) as referee for every kind of packet vipd emits. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseIP, parseMac } from '../../src/protocol/addr.js';
import { buildGratuitousArp } from '../../src/protocol/arp.js';
import { buildVrrpFrame } from '../../src/protocol/frame.js';
import { buildUnsolicitedNa } from '../../src/protocol/ndisc.js';
import { LINKTYPE_ETHERNET, writePcap } from '../../src/protocol/pcap.js';
import type { ChecksumMode, VrrpAdvert } from '../../src/protocol/vrrp.js';
import { requireTool } from '../helpers/tools.js';

type Layers = Record<string, Record<string, unknown>>;
const MAC = parseMac('02:00:00:00:00:01')!;

function v4s(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `${[192, 198, 203][i % 3]}.${i % 3 === 1 ? 51 : 0}.${i % 3 === 0 ? 2 : i % 3 === 1 ? 100 : 113}.${i % 256}`);
}
function v6s(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `2001:db8::${(i + 1).toString(16)}`);
}

interface Case {
  advert: VrrpAdvert;
  src: string;
  dst?: string;
  mode?: ChecksumMode;
}

const cases: Case[] = [];
for (const n of [0, 1, 2, 20, 255]) {
  cases.push({ advert: { version: 3, family: 4, vrid: 51, priority: 100, interval: 100, addresses: v4s(n) }, src: '192.0.2.1' });
  cases.push({ advert: { version: 3, family: 6, vrid: 52, priority: 200, interval: 1, addresses: v6s(n) }, src: 'fe80::1' });
  cases.push({
    advert: { version: 2, family: 4, vrid: 1, priority: 254, interval: 1, addresses: v4s(n), authType: n % 2, authData: Buffer.from(n % 2 ? 'secret12' : '\0\0\0\0\0\0\0\0', 'latin1') },
    src: '198.51.100.7',
  });
}
cases.push({ advert: { version: 3, family: 4, vrid: 9, priority: 0, interval: 4095, addresses: v4s(3) }, src: '192.0.2.2', dst: '192.0.2.3' });
cases.push({ advert: { version: 3, family: 4, vrid: 255, priority: 255, interval: 1, addresses: v4s(1) }, src: '192.0.2.2' });
const noPseudo: Case[] = [0, 1, 20, 255].map((n) => ({
  advert: { version: 3, family: 4, vrid: 77, priority: 150, interval: 10, addresses: v4s(n) },
  src: '203.0.113.1',
  mode: 'no-pseudo-header' as const,
}));

let dir = '';
beforeAll(() => {
  requireTool('tshark');
  dir = mkdtempSync(join(tmpdir(), 'vipd-tshark-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function dissect(frames: Buffer[], prefs: string[] = []): Layers[] {
  const file = join(dir, `f${Math.random().toString(36).slice(2)}.pcap`);
  writeFileSync(file, writePcap(LINKTYPE_ETHERNET, frames.map((data, i) => ({ time: 1_800_000_000 + i / 100, origLen: data.length, data }))));
  const out = execFileSync('tshark', ['-r', file, '-T', 'json', '--no-duplicate-keys', ...prefs.flatMap((p) => ['-o', p])], {
    maxBuffer: 64 << 20,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return (JSON.parse(out.toString()) as { _source: { layers: Layers } }[]).map((p) => p._source.layers);
}

const list = (x: unknown): string[] => (x === undefined ? [] : Array.isArray(x) ? (x as string[]) : [x as string]);

function checkVrrp(c: Case, l: Layers): void {
  const v = l.vrrp!;
  expect(v, 'tshark found no VRRP layer').toBeDefined();
  const tv = v['vrrp.typever_tree'] as Record<string, string>;
  expect(Number(tv['vrrp.version'])).toBe(c.advert.version);
  expect(Number(tv['vrrp.type'])).toBe(1);
  expect(Number(v['vrrp.virt_rtr_id'])).toBe(c.advert.vrid);
  expect(Number(v['vrrp.prio'])).toBe(c.advert.priority);
  expect(Number(v['vrrp.addr_count'])).toBe(c.advert.addresses.length);
  if (c.advert.version === 3) expect(Number(v['vrrp.short_adver_int'])).toBe(c.advert.interval);
  else {
    expect(Number(v['vrrp.adver_int'])).toBe(c.advert.interval);
    expect(Number(v['vrrp.auth_type'])).toBe(c.advert.authType);
    if (c.advert.authType === 1) expect(v['vrrp.auth_string']).toBe('secret12');
  }
  const addrs = list(v[c.advert.family === 4 ? 'vrrp.ip_addr' : 'vrrp.ipv6_addr']);
  expect(addrs).toEqual(c.advert.addresses);
  expect(v['vrrp.checksum.status'], 'tshark: checksum good').toBe('1');
  expect(l._ws_expert, 'no expert warnings').toBeUndefined();
}

describe('tshark decodes what vipd encodes', () => {
  it('VRRPv2/v3, IPv4/IPv6, multicast/unicast, 0..255 addresses, checksum good', () => {
    const frames = cases.map((c) => buildVrrpFrame(c.advert, { srcMac: MAC, src: c.src, dst: c.dst, checksumMode: c.mode }));
    const layers = dissect(frames);
    expect(layers.length).toBe(cases.length);
    cases.forEach((c, i) => checkVrrp(c, layers[i]!));
  });

  it('v3 IPv4 without pseudo-header is good under vrrp.v3_checksum_as_in_v2 (and only then)', () => {
    const frames = noPseudo.map((c) => buildVrrpFrame(c.advert, { srcMac: MAC, src: c.src, checksumMode: c.mode }));
    const layers = dissect(frames, ['vrrp.v3_checksum_as_in_v2:TRUE']);
    noPseudo.forEach((c, i) => checkVrrp(c, layers[i]!));
    const strict = dissect(frames);
    expect(strict.map((l) => l.vrrp!['vrrp.checksum.status'])).toEqual(noPseudo.map(() => '0'));
  });

  it('gratuitous ARP and unsolicited NA (with and without Router flag)', () => {
    const frames = [
      buildGratuitousArp(MAC, parseIP('192.0.2.100')!.bytes),
      buildGratuitousArp(MAC, parseIP('192.0.2.100')!.bytes, 'reply'),
      buildUnsolicitedNa(MAC, parseIP('2001:db8::100')!.bytes),
      buildUnsolicitedNa(MAC, parseIP('2001:db8::100')!.bytes, { router: true }),
    ];
    const [a1, a2, n1, n2] = dissect(frames);
    for (const [l, op] of [[a1!, '1'], [a2!, '2']] as const) {
      expect(l.arp!['arp.opcode']).toBe(op);
      expect(l.arp!['arp.src.proto_ipv4']).toBe('192.0.2.100');
      expect(l.arp!['arp.dst.proto_ipv4']).toBe('192.0.2.100');
      expect(l.arp!['arp.isgratuitous']).toBe('1');
    }
    for (const [l, r] of [[n1!, '0'], [n2!, '1']] as const) {
      const icmp = l.icmpv6!;
      expect(icmp['icmpv6.type']).toBe('136');
      expect(icmp['icmpv6.checksum.status']).toBe('1');
      expect(icmp['icmpv6.nd.na.target_address']).toBe('2001:db8::100');
      const flags = icmp['icmpv6.nd.na.flag_tree'] as Record<string, string>;
      expect(flags['icmpv6.nd.na.flag.r']).toBe(r);
      expect(flags['icmpv6.nd.na.flag.o']).toBe('1');
      expect(flags['icmpv6.nd.na.flag.s']).toBe('0');
    }
  });
});
