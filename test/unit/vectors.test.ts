/** Byte vectors: every packet of the real keepalived/FRR captures, decoded and re-encoded. */
import { describe, expect, it } from 'vitest';
import { parseIP as parseAddr, parseMac } from '../../src/protocol/addr.js';
import { buildGratuitousArp } from '../../src/protocol/arp.js';
import { classifyFrame } from '../../src/protocol/frame.js';
import { buildUnsolicitedNa } from '../../src/protocol/ndisc.js';
import { readPcap, LINKTYPE_ETHERNET } from '../../src/protocol/pcap.js';
import { encodeVrrp, type ChecksumMode } from '../../src/protocol/vrrp.js';
import { expectedFiles, fixture } from '../helpers/fixtures.js';

const MODE_OF: Record<string, ChecksumMode> = {
  pseudo_header_actual_src_dst: 'pseudo-header',
  pseudo_header_dst_multicast_group: 'pseudo-header-group',
  no_pseudo_header: 'no-pseudo-header',
};

const REASON_OF: Record<string, string> = {
  m01_bad_checksum: 'bad-checksum',
  m02_ttl_254: 'bad-ttl',
  m03_truncated: 'truncated',
  m04_addr_count_too_large: 'addr-count-mismatch',
  m05_version_4: 'bad-version',
};

const files = expectedFiles();

describe('captures in test/fixtures', () => {
  it('has the whole corpus', () => {
    expect(files.length).toBeGreaterThanOrEqual(17);
  });

  for (const { name, data } of files) {
    describe(name, () => {
      it('the pcap reader yields the same frames as the index', () => {
        const pcap = readPcap(fixture(`${name}.pcap`));
        expect(pcap.linktype).toBe(LINKTYPE_ETHERNET);
        expect(pcap.records.length).toBe(data.packet_count);
        pcap.records.forEach((r, i) => {
          const p = data.packets[i]!;
          expect(Buffer.from(r.data).toString('hex')).toBe(p.frame_hex);
          expect(Math.abs(r.time - Number(p.time_epoch))).toBeLessThan(1e-5);
        });
      });

      for (const p of data.packets) {
        it(`frame ${p.frame} (${p.protocols}) decodes to the indexed fields`, () => {
          const frame = Buffer.from(p.frame_hex, 'hex');
          const c = classifyFrame(LINKTYPE_ETHERNET, frame);
          expect(c.srcMac).toBe(p.eth.src);
          if (p.vrrp) {
            expect(c.kind).toBe('vrrp');
            if (c.kind !== 'vrrp') return;
            const v = p.vrrp;
            const adv = c.vrrp.advert!;
            expect(c.src).toBe(p.ip!.src);
            expect(c.dst).toBe(p.ip!.dst);
            expect(c.ttl).toBe(p.ip!.ttl ?? p.ip!.hop_limit);
            expect(adv.vrid).toBe(v.vrid);
            expect(adv.priority).toBe(v.priority);
            expect(adv.type).toBe(v.type);
            expect(adv.interval).toBe(v.adver_int);
            expect(adv.addresses).toEqual(v.ip_addresses);
            expect(c.vrrp.checksum).toBe(parseInt(v.checksum, 16));
            if (v.version === 2) {
              expect(adv.authType).toBe(v.auth_type);
              if (v.auth_string) expect(Buffer.from(adv.authData!).toString('latin1')).toBe(v.auth_string);
            }
            if (data.malformed) {
              expect(c.vrrp.valid).toBe(false);
              if (!c.vrrp.valid) expect(c.vrrp.reason).toBe(REASON_OF[name]);
              return;
            }
            expect(c.vrrp.valid).toBe(true);
            if (!c.vrrp.valid) return;
            expect(adv.version).toBe(v.version);
            // The decoder names an algorithm that the independent computation also matched.
            const modes = v.checksum_matches.map((m) => (v.version === 2 ? 'v2' : MODE_OF[m]));
            expect(modes).toContain(c.vrrp.checksumMode);
            // Re-encode byte for byte.
            const enc = encodeVrrp(adv, { src: c.src, dst: c.dst, checksumMode: c.vrrp.checksumMode });
            const ipHeaderLen = c.family === 4 ? 20 : 40;
            expect(enc.toString('hex')).toBe(frame.subarray(14 + ipHeaderLen).toString('hex'));
          }
          if (p.arp) {
            expect(c.kind).toBe('arp');
            if (c.kind !== 'arp') return;
            expect(c.arp).toEqual({
              op: p.arp.opcode, senderMac: p.arp.sender_mac, senderIp: p.arp.sender_ip,
              targetMac: p.arp.target_mac, targetIp: p.arp.target_ip, gratuitous: p.arp.tshark_isgratuitous === '1',
            });
            const rebuilt = buildGratuitousArp(parseMac(p.arp.sender_mac)!, parseAddr(p.arp.sender_ip)!.bytes);
            expect(rebuilt.toString('hex')).toBe(p.frame_hex);
          }
          if (p.na) {
            expect(c.kind).toBe('na');
            if (c.kind !== 'na') return;
            expect(c.na).toEqual({
              router: p.na.flags.R === 1, solicited: p.na.flags.S === 1, override: p.na.flags.O === 1,
              target: p.na.target, targetMac: p.na.target_link_layer_option, checksumOk: p.icmpv6!.checksum_status === 'good',
            });
            const rebuilt = buildUnsolicitedNa(parseMac(p.na.target_link_layer_option)!, parseAddr(p.na.target)!.bytes, { router: p.na.flags.R === 1 });
            expect(rebuilt.toString('hex')).toBe(p.frame_hex);
          }
        });
      }
    });
  }
});
