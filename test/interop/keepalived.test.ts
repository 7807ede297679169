/**
 * Interop with real keepalived (Debian 2.2.7) in one VRID: each side wins, loses, and takes
 * over from the other on SIGTERM and on a crash; VRRPv3 IPv4, VRRPv2 IPv4 with a password,
 * VRRPv3 IPv6. keepalived runs as `keepalived -n -l -D -P` with its own pid files.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { labConfig, type LabInstance } from '../../src/lab/conf.js';
import { NetnsLab } from '../../src/lab/netns.js';
import { expectHolders } from '../helpers/holders.js';
import { KeepalivedProcess } from '../helpers/keepalived.js';
import { requireTool } from '../helpers/tools.js';
import { VipdProcess } from '../helpers/vipd.js';

const lab = new NetnsLab('vt', 'k');
const dir = mkdtempSync(join(tmpdir(), 'vipd-interop-'));
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
let procs: { stop(): Promise<void> }[] = [];

const variants: { name: string; inst: Omit<LabInstance, 'priority'>; cidr: string; global: string[] }[] = [
  { name: 'VRRPv3 IPv4', inst: { vrid: 71, advertInt: 0.1, version: 3, vips: ['192.0.2.220/24'] }, cidr: '192.0.2.220/24', global: ['vrrp_version 3'] },
  { name: 'VRRPv2 IPv4 with password', inst: { vrid: 72, advertInt: 1, version: 2, vips: ['192.0.2.221/24'], authPass: 'secret12' }, cidr: '192.0.2.221/24', global: ['vrrp_version 2'] },
  { name: 'VRRPv3 IPv6', inst: { vrid: 73, advertInt: 0.1, version: 3, vips: ['2001:db8::221/64'] }, cidr: '2001:db8::221/64', global: ['vrrp_version 3'] },
];

function holders(cidr: string, want: string[], timeoutMs = 4000): Promise<void> {
  return expectHolders(lab, ['r1', 'r2'], cidr, want, timeoutMs);
}

beforeAll(() => {
  NetnsLab.requireRoot();
  requireTool('keepalived');
  NetnsLab.cleanStale();
  lab.build([{ name: 'r1', n: 1 }, { name: 'r2', n: 2 }]);
});
afterEach(async () => {
  for (const p of procs) await p.stop();
  procs = [];
});
afterAll(() => {
  lab.destroy();
  rmSync(dir, { recursive: true, force: true });
});

for (const v of variants) {
  const slow = v.inst.version === 2 ? 3 : 1; // v2 intervals are whole seconds
  describe(`vipd with keepalived, ${v.name}`, () => {
    it('keepalived wins at higher priority; vipd takes over on SIGTERM and on a crash; keepalived preempts back', async () => {
      const ka = new KeepalivedProcess(lab, 'r1', dir, labConfig(`${lab.prefix}-r1`, [{ ...v.inst, priority: 150 }], v.global));
      const vd = new VipdProcess(lab, 'r2', dir, labConfig('r2', [{ ...v.inst, priority: 100 }]));
      procs.push(vd, ka);
      await ka.start();
      vd.start();
      await ka.waitState('MASTER', 10_000 * slow);
      await vd.waitState('BACKUP');
      await sleep(500 * slow);
      expect(vd.state).toBe('BACKUP');
      await holders(v.cidr, ['r1']);
      // SIGTERM: keepalived sends priority 0 and removes its VIP; vipd takes over
      vd.setMark();
      ka.signal('SIGTERM');
      await vd.waitState('MASTER', 3000 * slow);
      await holders(v.cidr, ['r2']);
      await ka.exited();
      // keepalived comes back with the higher priority and preempts vipd
      vd.setMark();
      await ka.start();
      await ka.waitState('MASTER', 10_000 * slow);
      await vd.waitState('BACKUP', 5000 * slow);
      await holders(v.cidr, ['r1']);
      // crash of keepalived (main and VRRP child SIGKILLed): vipd takes over
      vd.setMark();
      await ka.crash();
      await vd.waitState('MASTER', 5000 * slow);
      const after = ['r1', 'r2'].filter((r) => lab.addresses(r).includes(v.cidr));
      // keepalived cannot clean up after SIGKILL: its VIP stays on r1 (vipd's guardian exists for this)
      console.log(`${v.name}: after keepalived SIGKILL the VIP is on ${after.join(' and ')}`);
      expect(after).toContain('r2');
    });

    it('vipd wins at higher priority; keepalived takes over on a crash and on SIGTERM; only one holds the VIP', async () => {
      const vd = new VipdProcess(lab, 'r1', dir, labConfig('r1', [{ ...v.inst, priority: 150 }]));
      const ka = new KeepalivedProcess(lab, 'r2', dir, labConfig(`${lab.prefix}-r2`, [{ ...v.inst, priority: 100 }], v.global));
      procs.push(vd, ka);
      vd.start();
      await vd.waitState('MASTER', 10_000 * slow);
      await ka.start();
      await ka.waitState('BACKUP', 10_000 * slow);
      await sleep(600 * slow);
      expect([vd.state, ka.state]).toEqual(['MASTER', 'BACKUP']);
      await holders(v.cidr, ['r1']);
      // vipd crashes: keepalived takes over, and vipd's guardian has removed the VIP from r1
      ka.setMark();
      vd.signal('SIGKILL');
      await ka.waitState('MASTER', 5000 * slow);
      await holders(v.cidr, ['r2']);
      // vipd returns and preempts keepalived
      ka.setMark();
      vd.start();
      await vd.waitState('MASTER', 10_000 * slow);
      await ka.waitState('BACKUP', 5000 * slow);
      await holders(v.cidr, ['r1']);
      // SIGTERM: vipd sends priority 0, keepalived takes over at once
      ka.setMark();
      vd.signal('SIGTERM');
      await ka.waitState('MASTER', 3000 * slow);
      expect(await vd.exited()).toBe(0);
      await holders(v.cidr, ['r2']);
    });
  });
}
