/**
 * The HAProxy helper (test/helpers/haproxy.ts) that the tracker tests and the OpenStack
 * scenario stand on: real HAProxy in a lab namespace in front of a backend answering its node
 * name, and the Kolla-style check script that says whether HAProxy is alive.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NetnsLab } from '../../src/lab/netns.js';
import { HaproxyNode, httpGet, requireHaproxy } from '../helpers/haproxy.js';

const lab = new NetnsLab('vt', 'h');
let dir = '';
const hx: HaproxyNode[] = [];

beforeAll(() => {
  NetnsLab.requireRoot();
  requireHaproxy();
  NetnsLab.cleanStale();
  dir = mkdtempSync(join(tmpdir(), 'vipd-haproxy-'));
  lab.build([{ name: 'r1', n: 1 }, { name: 'client', n: 100 }]);
});
afterAll(async () => {
  for (const h of hx) await h.close();
  lab.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('HAProxy helper', () => {
  it('start: check script 0 and requests through HAProxy reach the backend; stop: non-zero; start again: 0', async () => {
    const h = new HaproxyNode(lab, 'r1', dir, { address: '192.0.2.1', port: 8080 });
    hx.push(h);
    await h.start();
    expect(await h.check()).toBe(0);
    expect(await httpGet(lab, 'client', 'http://192.0.2.1:8080/')).toEqual({ status: 200, body: 'r1' });

    const pid = h.haproxy!.pid!;
    await h.stop();
    expect(h.running()).toBe(false);
    expect(h.haproxy!.signalCode ?? h.haproxy!.exitCode).not.toBeNull();
    expect(await h.check()).not.toBe(0);
    expect(await httpGet(lab, 'client', 'http://192.0.2.1:8080/', 1000)).toEqual({ error: 'ECONNREFUSED' });

    await h.start();
    expect(h.haproxy!.pid).not.toBe(pid);
    expect(await h.check()).toBe(0);
    expect(await httpGet(lab, 'client', 'http://192.0.2.1:8080/')).toEqual({ status: 200, body: 'r1' });

    await h.kill(); // a crash: the check fails the same way
    expect(await h.check()).not.toBe(0);
  }, 30_000);

  it('listens on a VIP the node does not hold yet (ip_nonlocal_bind), served once the address is added', async () => {
    const h = new HaproxyNode(lab, 'r1', dir, { address: '192.0.2.250', port: 8081, backendPort: 18081, healthPort: 18405 });
    hx.push(h);
    await h.start();
    expect(await h.check()).toBe(0);
    expect(await httpGet(lab, 'client', 'http://192.0.2.250:8081/', 1000)).toHaveProperty('error');
    lab.exec(lab.node('r1').ns, ['ip', 'addr', 'add', '192.0.2.250/24', 'dev', 'eth0']);
    try {
      expect(await httpGet(lab, 'client', 'http://192.0.2.250:8081/')).toEqual({ status: 200, body: 'r1' });
    } finally {
      lab.exec(lab.node('r1').ns, ['ip', 'addr', 'del', '192.0.2.250/24', 'dev', 'eth0'], { allowFail: true });
    }
    await h.close();
    expect(h.backend!.exitCode ?? h.backend!.signalCode).not.toBeNull();
  }, 30_000);
});
