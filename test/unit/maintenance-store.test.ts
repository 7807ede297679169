/** vipctl maintenance's file (src/daemon/maintenance-store.ts): where it lives, what it accepts, how it is written. */
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MaintenanceStore, defaultMaintenanceFile } from '../../src/daemon/maintenance-store.js';

const dir = mkdtempSync(join(tmpdir(), 'vipd-maint-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('maintenance file', () => {
  it('defaults beside the control socket\'s place, under /var/lib/vipd (it outlives a reboot)', () => {
    expect(defaultMaintenanceFile('/run/vipd/vipd.sock')).toBe('/var/lib/vipd/vipd.maintenance.json');
    expect(defaultMaintenanceFile('/run/vipd/qrouter-1/vipd_r2.sock')).toBe('/var/lib/vipd/qrouter-1/vipd_r2.maintenance.json');
    expect(defaultMaintenanceFile('/tmp/x/ctl1.sock')).toBe('/var/lib/vipd/ctl1.maintenance.json');
  });

  it('no file: nobody in maintenance; set writes the whole list and keeps it sorted; nothing else is left in the directory', async () => {
    const f = join(dir, 'sub', 'm.json');
    const s = new MaintenanceStore(f).load();
    expect(s.list()).toEqual([]);
    await s.set(['VI_2', 'VI_1'], true);
    expect(JSON.parse(readFileSync(f, 'utf8'))).toEqual({ instances: ['VI_1', 'VI_2'] });
    await s.set(['VI_2'], false);
    expect(new MaintenanceStore(f).load().list()).toEqual(['VI_1']);
    expect(readdirSync(join(dir, 'sub'))).toEqual(['m.json']);
  });

  it.each([
    ['not JSON', '{instances: [', /is not JSON .*: fix or remove it/],
    ['no list', '{"instances": "VI_1"}', /has no "instances" list of names: fix or remove it/],
    ['not names', '{"instances": [1]}', /has no "instances" list of names/],
  ])('a file that is %s refuses, naming the file', (_what, text, re) => {
    const f = join(dir, `bad-${text.length}.json`);
    writeFileSync(f, text);
    expect(() => new MaintenanceStore(f).load()).toThrow(re);
    expect(() => new MaintenanceStore(f).load()).toThrow(f);
  });

  it('a file that cannot be written: the error names it and nothing changes', async () => {
    const s = new MaintenanceStore(join(dir, 'afile', 'm.json'));
    writeFileSync(join(dir, 'afile'), 'not a directory');
    await expect(s.set(['VI_1'], true)).rejects.toThrow(/cannot write the maintenance file .*afile\/m\.json: .*; nothing changed/);
    expect(s.has('VI_1')).toBe(false);
  });
});
