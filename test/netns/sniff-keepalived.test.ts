/** Live `vipctl sniff -i` in a client namespace names a real keepalived as master. */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliCommand } from '../../src/lab/cli-command.js';
import { NetnsLab } from '../../src/lab/netns.js';
import { readPcap } from '../../src/protocol/pcap.js';
import { KeepalivedProcess } from '../helpers/keepalived.js';
import { requireTool } from '../helpers/tools.js';
import { collect } from '../helpers/proc.js';

const lab = new NetnsLab('vt', 's');
const dir = mkdtempSync(join(tmpdir(), 'vipd-sniff-'));
let ka: KeepalivedProcess;

beforeAll(async () => {
  NetnsLab.requireRoot();
  requireTool('keepalived');
  NetnsLab.cleanStale();
  lab.build([{ name: 'r1', n: 1 }, { name: 'client', n: 100 }]);
  ka = new KeepalivedProcess(lab, 'r1', dir, `
global_defs {
    router_id ${lab.prefix}-r1
    vrrp_version 3
}
vrrp_instance VI_1 {
    state BACKUP
    interface eth0
    virtual_router_id 51
    priority 120
    advert_int 0.1
    virtual_ipaddress {
        192.0.2.200/24
    }
}
`);
  await ka.start();
  await ka.waitForMaster(5000);
});

afterAll(async () => {
  await ka?.stop();
  lab.destroy();
  rmSync(dir, { recursive: true, force: true });
});

describe('vipctl sniff -i (live, AF_PACKET)', () => {
  it('names keepalived as master of VRID 51 from the wire, and writes a readable pcap', async () => {
    const pcap = join(dir, 'live.pcap');
    const p = lab.spawn(lab.node('client').ns, [...cliCommand('vipctl'), 'sniff', '-i', 'eth0', '--json', '--duration', '1.5', '--write', pcap]);
    const { code, stdout, stderr } = await collect(p);
    expect(code, stderr).toBe(0);
    const lines = stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const adverts = lines.filter((l) => l.type === 'vrrp');
    expect(adverts.length).toBeGreaterThanOrEqual(8); // ~15 at 100 ms
    expect(adverts.every((a) => a.valid === true && a.ttl === 255 && a.checksum === 'ok')).toBe(true);
    const summary = lines.at(-1) as { type: string; masters: { vrid: number; address: string; mac: string; priority: number; advertIntervalMs: number; addresses: string[] }[] };
    expect(summary.type).toBe('summary');
    expect(summary.masters).toEqual([expect.objectContaining({ vrid: 51, address: '192.0.2.1', mac: lab.node('r1').mac, priority: 120, advertIntervalMs: 100, addresses: ['192.0.2.200'] })]);
    const written = readPcap(readFileSync(pcap));
    expect(written.records.length).toBeGreaterThanOrEqual(adverts.length);
  });

  it('a missing interface is one clear error line', async () => {
    const p = lab.spawn(lab.node('client').ns, [...cliCommand('vipctl'), 'sniff', '-i', 'nosuch0', '--duration', '1']);
    const r = await collect(p);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe('vipctl: sniff: no interface nosuch0 in this network namespace');
  });
});
