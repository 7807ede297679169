/**
 * The crash guardian on its own, in a namespace: it deletes the VIPs after their hold time
 * when the daemon's end of the pipe closes without a word (a crash), with a handful of
 * processes however many VIPs there are; after a clean exit it deletes nothing, so a daemon
 * restarted at once keeps the VIPs it has just added again.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VipConfig } from '../../src/config/model.js';
import { Guardian } from '../../src/daemon/guardian.js';
import { NetnsLab } from '../../src/lab/netns.js';

const lab = new NetnsLab('vt', 'g');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
let ns = '';

// 600 VIPs: 300 in 198.51.100.0/24 and 203.0.113.0/24 (/32), 300 in 2001:db8:7::/64 (/128)
const vips: VipConfig[] = [
  ...Array.from({ length: 300 }, (_, k) => ({ family: 4 as const, address: `${k < 150 ? '198.51.100' : '203.0.113'}.${(k % 150) + 1}`, prefixLen: 32 })),
  ...Array.from({ length: 300 }, (_, k) => ({ family: 6 as const, address: `2001:db8:7::${(k + 1).toString(16)}`, prefixLen: 128 })),
].map((v) => ({ ...v, dev: null, label: null }) as VipConfig);

function held(): number {
  const out = lab.exec(ns, ['ip', '-o', 'addr', 'show', 'dev', 'eth0']);
  return vips.filter((v) => out.includes(` ${v.address}/${v.prefixLen} `)).length;
}
function addAll(): void {
  lab.exec(ns, ['ip', '-batch', '-'], { input: vips.map((v) => `addr add ${v.address}/${v.prefixLen} dev eth0${v.family === 6 ? ' nodad' : ''}\n`).join('') });
}
/** All processes below `pid`, from /proc's children lists. */
function descendants(pid: number): number {
  let n = 0;
  const walk = (p: number): void => {
    let kids: number[] = [];
    try {
      kids = readFileSync(`/proc/${p}/task/${p}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
    } catch {
      return;
    }
    for (const k of kids) {
      n++;
      walk(k);
    }
  };
  walk(pid);
  return n;
}

beforeAll(() => {
  NetnsLab.requireRoot();
  NetnsLab.cleanStale();
  lab.build([{ name: 'r1', n: 1 }]);
  ns = lab.node('r1').ns;
});

afterAll(() => {
  lab.destroy();
});

describe('crash guardian', () => {
  it('a crash: 600 VIPs kept for the hold time, then deleted by a few processes, not one per VIP', async () => {
    addAll();
    expect(held()).toBe(600);
    const g = new Guardian(['ip', 'netns', 'exec', ns]);
    g.arm(vips.map((vip, k) => ({ vip, dev: 'eth0', holdMs: k % 2 ? 1000 : 1500 })));
    const pid = g.pid!;
    await sleep(300);
    // the daemon "dies": its end of the pipe closes without a word
    (g as unknown as { proc: { stdin: { destroy(): void } } }).proc.stdin.destroy();
    await sleep(500);
    expect(held()).toBe(600); // still inside the hold time
    // two hold times x two batches of at most 500 lines: a subshell and `sleep` each, nothing per VIP
    expect(descendants(pid)).toBeLessThanOrEqual(8);
    const t0 = Date.now();
    while (held() > 0 && Date.now() - t0 < 5000) await sleep(100);
    expect(held()).toBe(0);
  });

  it('a clean exit: nothing deleted, even VIPs added again at once', async () => {
    addAll();
    const g = new Guardian(['ip', 'netns', 'exec', ns]);
    g.arm(vips.map((vip) => ({ vip, dev: 'eth0', holdMs: 200 })));
    const pid = g.pid!;
    await sleep(300);
    g.release();
    await sleep(800);
    expect(held()).toBe(600);
    expect(() => process.kill(pid, 0)).toThrow(); // and the guardian is gone
  });
});
