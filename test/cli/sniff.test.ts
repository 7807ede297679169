import { spawnSync } from 'node:child_process';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { FIXTURES } from '../helpers/fixtures.js';

export function vipctl(args: string[], opts: { input?: string } = {}) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/vipctl.ts', ...args], { encoding: 'utf8', ...opts });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
const lines = (s: string): Record<string, unknown>[] => s.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);

describe('vipctl sniff --read', () => {
  it('names the backup that took over after a priority-0 advert (keepalived capture)', () => {
    const r = vipctl(['sniff', '--read', join(FIXTURES, 'c09_ka_v3_ipv4_prio0_on_sigterm.pcap'), '--json']);
    expect(r.code).toBe(0);
    const ev = lines(r.stdout);
    expect(ev.length).toBe(8);
    expect(ev[3]).toMatchObject({ type: 'vrrp', src: '192.0.2.1', priority: 0, valid: true, checksum: 'ok', checksumMode: 'pseudo-header', version: 3, vrid: 51, ttl: 255, advertIntervalMs: 1000, srcMac: '02:00:00:00:00:01', addresses: ['192.0.2.100'] });
    const s = ev.at(-1)!;
    expect(s).toMatchObject({ type: 'summary', masters: [{ family: 4, vrid: 51, address: '192.0.2.2', mac: '02:00:00:00:00:02', priority: 100, advertIntervalMs: 1000, addresses: ['192.0.2.100'] }] });
  });

  it('reports GARP and NA lines and masters for both families (FRR capture)', () => {
    const r = vipctl(['sniff', '--read', join(FIXTURES, 'c12_frr_v3_ipv4_ipv6.pcap'), '--json']);
    expect(r.code).toBe(0);
    const ev = lines(r.stdout);
    expect(ev.find((e) => e.type === 'arp')).toMatchObject({ op: 1, senderIp: '192.0.2.200', senderMac: '00:00:5e:00:01:05', gratuitous: true, targetIp: '192.0.2.200' });
    expect(ev.find((e) => e.type === 'na')).toMatchObject({ target: '2001:db8::200', router: true, override: true, solicited: false, targetMac: '00:00:5e:00:02:05' });
    const masters = (ev.at(-1) as { masters: { family: number; address: string }[] }).masters;
    expect(masters.map((m) => [m.family, m.address])).toEqual([[4, '192.0.2.11'], [6, 'fe80::33a8:f71b:1879:d9ef']]);
  });

  it('v2 lines carry authType; malformed packets are reported with their reason, not fatal', () => {
    const v2 = lines(vipctl(['sniff', '--read', join(FIXTURES, 'c02_ka_v2_ipv4_auth_pass.pcap'), '--json']).stdout);
    expect(v2[0]).toMatchObject({ version: 2, authType: 1, checksumMode: 'v2', valid: true });
    for (const [f, reason, checksum] of [['m01_bad_checksum', 'bad-checksum', 'bad'], ['m02_ttl_254', 'bad-ttl', 'ok'], ['m03_truncated', 'truncated', 'bad'], ['m04_addr_count_too_large', 'addr-count-mismatch', 'ok'], ['m05_version_4', 'bad-version', 'ok']]) {
      const r = vipctl(['sniff', '--read', join(FIXTURES, `${f}.pcap`), '--json']);
      expect(r.code, f).toBe(0);
      const ev = lines(r.stdout);
      expect(ev[0], f).toMatchObject({ type: 'vrrp', valid: false, reason, checksum });
      expect(ev[1], f).toMatchObject({ type: 'summary', masters: [] });
    }
    // m05's checksum was recomputed with the v3 algorithm: we say so (tshark, reading it as v2, says bad).
    expect(lines(vipctl(['sniff', '--read', join(FIXTURES, 'm05_version_4.pcap'), '--json']).stdout)[0]).toMatchObject({ version: 4, checksumMode: 'pseudo-header' });
  });

  it('human output ends with the master table', () => {
    const r = vipctl(['sniff', '--read', join(FIXTURES, 'c01_ka_v2_ipv4_mcast.pcap')]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/VRRPv2 192\.0\.2\.1 > 224\.0\.0\.18 vrid 51 prio 100/);
    expect(r.stdout).toMatch(/IPv4\s+51\s+192\.0\.2\.1\s+02:00:00:00:00:01\s+100\s+1000ms\s+192\.0\.2\.100/);
  });

  it('bad, truncated or missing files: one clear line and exit 2', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vipd-cli-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const bad = join(dir, 'bad.pcap');
    writeFileSync(bad, 'hello, this is not a capture at all');
    const full = require_fixture('c01_ka_v2_ipv4_mcast.pcap');
    const cut = join(dir, 'cut.pcap');
    writeFileSync(cut, full.subarray(0, full.length - 5));
    for (const [f, msg] of [[bad, /bad magic/], [cut, /truncated pcap: packet 4/], [join(dir, 'none.pcap'), /no such file/]] as const) {
      const r = vipctl(['sniff', '--read', f]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(msg);
      expect(r.stderr.trim().split('\n').length).toBe(1);
    }
  });
});

import { readFileSync } from 'node:fs';
function require_fixture(name: string): Buffer {
  return readFileSync(join(FIXTURES, name));
}
