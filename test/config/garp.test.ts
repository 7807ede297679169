/**
 * The announcement and timing keywords of the field-cases issue (#17) as the model carries
 * them, with keepalived 2.2.7's defaults (vrrp_data.c alloc_vrrp copies the globals when the
 * instance is created; vrrp_complete_init fills the lower-priority ones from the master
 * ones): vrrp_min_garp, garp_lower_prio_*, garp_master_refresh*, down_timer_adverts,
 * higher_prio_send_advert, mcast_src_ip, garp_group and the global intervals,
 * skip_check_adv_addr, vrrp_startup_delay. keepalived -t accepts every file here (exit 0).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fsSource } from '../../src/config/fs-source.js';
import { loadKeepalivedConfig } from '../../src/config/keepalived.js';
import type { InstanceModel } from '../../src/config/model.js';
import { keepalivedCheck } from '../helpers/keepalived-check.js';

const tmp = mkdtempSync(join(tmpdir(), 'vipd-garp-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const GROUPS = 'garp_group {\n garp_interval 0.05\n interface eth1\n}\ngarp_group {\n gna_interval 0.1\n interfaces {\n  eth2\n  eth3\n }\n}\n';
const conf = (globals: string, inst: string): string =>
  `global_defs {\n${globals}}\nvrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n priority 100\n${inst} virtual_ipaddress {\n  192.0.2.100/24\n }\n}\n`;

async function load(text: string): Promise<{ i: InstanceModel; warnings: string[] }> {
  const f = join(tmp, `k${Math.random().toString(36).slice(2)}.conf`);
  writeFileSync(f, text);
  const c = await loadKeepalivedConfig(f, fsSource);
  return { i: c.instances[0]!, warnings: (c.warnings ?? []).map((w) => w.message) };
}
const pick = (i: InstanceModel): Record<string, unknown> => ({
  repeat: i.garpMasterRepeat, delay: i.garpMasterDelayS, refresh: i.garpMasterRefreshS, refreshRepeat: i.garpMasterRefreshRepeat,
  lowerRepeat: i.garpLowerPrioRepeat, lowerDelay: i.garpLowerPrioDelayS,
});

const cases: [string, string, string, Record<string, unknown>][] = [
  ['defaults', '', '', { repeat: 5, delay: 5, refresh: 0, refreshRepeat: 1, lowerRepeat: 5, lowerDelay: 5 }],
  ['vrrp_min_garp', ' vrrp_min_garp\n', '', { repeat: 1, delay: 0, refresh: 0, refreshRepeat: 0, lowerRepeat: 1, lowerDelay: 0 }],
  ['vrrp_min_garp keeps what was set before it', ' vrrp_garp_master_repeat 3\n vrrp_min_garp true\n', '', { repeat: 3, delay: 0, lowerRepeat: 3, lowerDelay: 0 }],
  ['vrrp_min_garp false', ' vrrp_min_garp false\n', '', { repeat: 5, delay: 5 }],
  ['instance garp_master_* do not move the lower-priority defaults', '', ' garp_master_repeat 2\n garp_master_delay 1\n', { repeat: 2, delay: 1, lowerRepeat: 5, lowerDelay: 5 }],
  ['global lower-priority settings', ' vrrp_garp_lower_prio_repeat 2\n vrrp_garp_lower_prio_delay 0\n', '', { lowerRepeat: 2, lowerDelay: 0 }],
  ['instance lower-priority and refresh settings', '', ' garp_lower_prio_repeat 0\n garp_master_refresh 60\n garp_master_refresh_repeat 2\n', { lowerRepeat: 0, refresh: 60, refreshRepeat: 2 }],
];

describe('gratuitous ARP keywords: the model and keepalived\'s defaults', () => {
  for (const [name, g, inst, want] of cases) {
    it(name, async () => {
      const { i, warnings } = await load(conf(g, inst));
      expect(pick(i)).toMatchObject(want);
      expect(warnings.filter((w) => /garp|not acted on/.test(w))).toEqual([]);
    });
  }
  it('down_timer_adverts, higher_prio_send_advert, mcast_src_ip (global defaults, then the instance)', async () => {
    const z = await load(conf('', ''));
    expect([z.i.downTimerAdverts, z.i.higherPrioSendAdvert]).toEqual([3, true]); // vipd's default (keepalived: false), docs/configuration.md
    const a = await load(conf(' vrrp_down_timer_adverts 5\n vrrp_higher_prio_send_advert\n', ''));
    expect([a.i.downTimerAdverts, a.i.higherPrioSendAdvert, a.i.mcastSrc]).toEqual([5, true, null]);
    const b = await load(conf('', ' down_timer_adverts 2\n higher_prio_send_advert false\n mcast_src_ip 192.0.2.1\n'));
    expect([b.i.downTimerAdverts, b.i.higherPrioSendAdvert, b.i.mcastSrc]).toEqual([2, false, '192.0.2.1']);
    expect(b.warnings).toEqual([]);
  });
  it('garp_group, vrrp_garp_interval / vrrp_gna_interval, skip_check_adv_addr, vrrp_startup_delay', async () => {
    const f = join(tmp, 'group.conf');
    writeFileSync(f, `${GROUPS}${conf(' vrrp_garp_interval 0.01\n vrrp_gna_interval 0.02\n vrrp_skip_check_adv_addr\n vrrp_startup_delay 1.5\n', ' skip_check_adv_addr false\n')}`);
    const c = await loadKeepalivedConfig(f, fsSource);
    expect(c.garpGroups).toEqual([{ garpIntervalS: 0.05, gnaIntervalS: null, interfaces: ['eth1'] }, { garpIntervalS: null, gnaIntervalS: 0.1, interfaces: ['eth2', 'eth3'] }]);
    expect([c.global.garpIntervalS, c.global.gnaIntervalS, c.global.skipCheckAdvAddr, c.global.startupDelayS, c.instances[0]!.skipCheckAdvAddr]).toEqual([0.01, 0.02, true, 1.5, false]);
    expect(c.warnings ?? []).toEqual([]);
    writeFileSync(f, `garp_group {\n interface eth1\n}\ngarp_group {\n interfaces {\n  eth1\n }\n}\n${conf('', '')}`);
    expect(((await loadKeepalivedConfig(f, fsSource)).warnings ?? []).map((w) => `${w.pos.line}:${w.pos.col}: ${w.message}`)).toEqual(['6:3: garp_group already specified for eth1: this one is ignored (as keepalived does)']);
  });
  it('an empty unicast_peer block: multicast, with a warning (keepalived 2.2.7 reports it as deprecated)', async () => {
    const text = conf('', ' unicast_src_ip 192.0.2.1\n unicast_peer {\n }\n');
    const { i, warnings } = await load(text);
    expect(i.unicastPeers).toEqual([]);
    expect(warnings).toEqual(['unicast_peer without any peer: adverts go to the multicast group (keepalived 2.2.7 does the same and calls it deprecated); list the peers or remove the block']);
    const r = await keepalivedCheck(text);
    expect(r.exitCode).toBe(5);
    expect(r.errors.join('\n')).toMatch(/unicast keyword has been specified without any unicast peers\. Defaulting to multicast/);
  });
  it('keepalived 2.2.7 accepts every file of this table without a report', async () => {
    const texts = [
      ...cases.map(([, g, inst]) => conf(g, inst)),
      conf(' vrrp_down_timer_adverts 5\n vrrp_higher_prio_send_advert\n', ' down_timer_adverts 2\n mcast_src_ip 192.0.2.1\n'),
      `${GROUPS}${conf(' vrrp_garp_interval 0.01\n vrrp_gna_interval 0.02\n vrrp_skip_check_adv_addr\n vrrp_startup_delay 1.5\n', ' skip_check_adv_addr false\n')}`,
    ];
    for (const t of texts) {
      const r = await keepalivedCheck(t);
      expect({ code: r.exitCode, errors: r.errors }).toEqual({ code: 0, errors: [] });
    }
  }, 60_000);
});
