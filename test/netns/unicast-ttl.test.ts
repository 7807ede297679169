/**
 * Unicast adverts and their TTL, as keepalived 2.2.7 checks them (vrrp.c vrrp_check_packet):
 * a unicast advert need not come with TTL 255 (it may cross routers: here nftables in the
 * backup's namespace rewrites it to 64, as a router on the way would), and a peer's
 * `unicast_peer { ADDR min_ttl N max_ttl M }` range drops the others, counted and logged.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from '../../src/cli/control-client.js';
import { labConfig } from '../../src/lab/conf.js';
import { NetnsLab } from '../../src/lab/netns.js';
import { routerPair, teardown, type VipdProcess } from '../helpers/vipd.js';

const lab = new NetnsLab('vt', 'u');
const dir = mkdtempSync(join(tmpdir(), 'vipd-uttl-'));
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
let r1: VipdProcess;
let r2: VipdProcess;

/** r2's view of r1: `min_ttl`/`max_ttl` for the peer when given. */
const conf = (router: 'r1' | 'r2', priority: number, range = ''): string =>
  labConfig(router, [{
    vrid: 61, priority, advertInt: 0.1, version: 3, vips: ['192.0.2.161/24'],
    unicastSrc: router === 'r1' ? '192.0.2.1' : '192.0.2.2',
    ...(range ? { extra: [`unicast_peer {`, `    192.0.2.1 ${range}`, `}`] } : { unicastPeers: [router === 'r1' ? '192.0.2.2' : '192.0.2.1'] }),
  }]);

beforeAll(() => {
  ({ r1, r2 } = routerPair(lab, dir, (r, p) => conf(r, p)));
  // a router on the way: VRRP arriving at r2 carries TTL 64
  lab.exec(lab.node('r2').ns, ['nft', '-f', '-'], {
    input: 'table ip ttlrw {\n chain pre {\n  type filter hook prerouting priority -300; policy accept;\n  ip protocol 112 ip ttl set 64\n }\n}\n',
  });
});

afterAll(() => teardown(lab, dir, [r2, r1]));

describe('unicast adverts and TTL', () => {
  it('TTL 64 on a unicast advert is accepted (no takeover); a peer\'s min_ttl above it drops them: counted, logged, taken over', async () => {
    r1.start();
    await r1.waitState('MASTER');
    r2.start();
    await r2.waitState('BACKUP');
    await sleep(800); // > Master_Down_Interval (~0.36 s): still BACKUP, the adverts count
    expect(r2.state).toBe('BACKUP');
    await r2.stop();
    r2.rewrite(conf('r2', 100, 'min_ttl 100 max_ttl 255'));
    r2.start();
    const warn = await r2.waitFor((l) => typeof l.msg === 'string' && l.msg.includes('outside this peer\'s min_ttl..max_ttl'), 5000, 'TTL range warning');
    expect(warn.msg).toContain('TTL/hop limit 64');
    await r2.waitState('MASTER', 5000); // it hears no valid master
    const st = await request(r2.socket, 'status');
    const inst = (st.result as { instances: { stats: { drops: Record<string, number> } }[] }).instances[0]!;
    expect(inst.stats.drops['ttl-out-of-range']).toBeGreaterThan(0);
  });
});
