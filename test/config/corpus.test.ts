/**
 * The real keepalived.conf files of ../shared/data/keepalived-conf load, and for the Kolla,
 * Neutron and Octavia files the effective model (`vipd check-config --dump`) is what
 * keepalived 2.2.7 would run: compared field by field with a checked-in expectation
 * (test/fixtures/dump/*.json; `UPDATE_DUMPS=1` rewrites them — then read the diff).
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { dumpModel } from '../../src/config/dump.js';
import { fsSource } from '../../src/config/fs-source.js';
import { loadKeepalivedConfig } from '../../src/config/keepalived.js';
import { ConfigErrors } from '../../src/config/model.js';

const CORPUS = resolve(__dirname, '../../../shared/data/keepalived-conf');
const files = readdirSync(CORPUS).filter((f) => f.endsWith('.conf')).sort();

/** The dump with the corpus directory replaced, so the expectation does not depend on the checkout path. */
async function dump(file: string): Promise<unknown> {
  const c = await loadKeepalivedConfig(join(CORPUS, file), fsSource);
  return JSON.parse(JSON.stringify(dumpModel(c)).replaceAll(`${CORPUS}/`, '')) as unknown;
}

describe('the real keepalived.conf corpus', () => {
  it('has the twelve files of the index', () => {
    expect(files.length).toBeGreaterThanOrEqual(12);
  });

  it.each(files)('%s loads (exit 0 in check-config)', async (file) => {
    try {
      await loadKeepalivedConfig(join(CORPUS, file), fsSource);
    } catch (e) {
      if (e instanceof ConfigErrors) throw new Error(e.message);
      throw e;
    }
  });

  it.each(['07_kolla-ansible-loadbalancer.conf', '10_neutron-l3-ha.conf', '11_octavia-amphora.conf'])('%s: the effective model is the expected one', async (file) => {
    const expectedFile = join(__dirname, '../fixtures/dump', `${basename(file, '.conf')}.json`);
    const got = await dump(file);
    if (process.env.UPDATE_DUMPS || !existsSync(expectedFile)) writeFileSync(expectedFile, `${JSON.stringify(got, null, 2)}\n`);
    expect(got).toEqual(JSON.parse(readFileSync(expectedFile, 'utf8')));
  });

  it('Kolla: VRRPv2 (no version line), password cut to 8 bytes with a warning, nopreempt kept (state BACKUP)', async () => {
    const c = await loadKeepalivedConfig(join(CORPUS, '07_kolla-ansible-loadbalancer.conf'), fsSource);
    const i = c.instances[0]!;
    expect([i.version, i.authType, i.authPass, i.priority, i.preempt, i.advertIntervalUs]).toEqual([2, 1, 'PLACEHOL', 1, false, 1_000_000]);
    expect(c.warnings.map((w) => `${w.pos.line}: ${w.message}`)).toContainEqual(expect.stringMatching(/^25: auth_pass is 40 bytes.*'PLACEHOL'/));
  });

  it('no file sets vrrp_version 3 and no instance speaks v3 unless it is IPv6 (keepalived\'s default is VRRPv2)', async () => {
    for (const f of files) {
      const c = await loadKeepalivedConfig(join(CORPUS, f), fsSource);
      for (const i of c.instances) expect({ f, name: i.name, version: i.version }).toEqual({ f, name: i.name, version: i.family === 6 ? 3 : 2 });
    }
  });
});
