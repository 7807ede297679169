/**
 * The crash guardian on its own, in a namespace: when the daemon's end of the pipe closes
 * without a word (a crash), each group (an instance's objects) is deleted at the deadline the
 * daemon last wrote for it (Master_Down_Interval after its last advert), by a handful of
 * processes however many lines there are, then the final lines and commands; a group whose
 * instance never sent an advert goes at once. After a clean exit it deletes nothing, so a
 * daemon restarted at once keeps what it has just added again.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Guardian } from '../../src/daemon/guardian.js';
import { NetnsLab } from '../../src/lab/netns.js';

const lab = new NetnsLab('vt', 'g');
const dir = mkdtempSync(join(tmpdir(), 'vipd-guardian-'));
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
let ns = '';

// 600 addresses: group 0 = 300 IPv4 /32, group 1 = 300 IPv6 /128
const v4 = Array.from({ length: 300 }, (_, k) => `${k < 150 ? '198.51.100' : '203.0.113'}.${(k % 150) + 1}/32`);
const v6 = Array.from({ length: 300 }, (_, k) => `2001:db8:7::${(k + 1).toString(16)}/128`);
const delLines = (a: string[]): { family: 4 | 6; line: string }[] => a.map((x) => ({ family: x.includes(':') ? 6 : 4, line: `addr del ${x} dev eth0\n` }));

function held(list: string[]): number {
  const out = lab.exec(ns, ['ip', '-o', 'addr', 'show', 'dev', 'eth0']);
  return list.filter((x) => out.includes(` ${x} `)).length;
}
function addAll(): void {
  lab.exec(ns, ['ip', '-batch', '-'], { input: [...v4, ...v6].map((x) => `addr replace ${x} dev eth0${x.includes(':') ? ' nodad' : ''}\n`).join('') });
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
const crash = (g: Guardian): void => (g as unknown as { proc: { stdin: { destroy(): void } } }).proc.stdin.destroy();

beforeAll(() => {
  NetnsLab.requireRoot();
  NetnsLab.cleanStale();
  lab.build([{ name: 'r1', n: 1 }]);
  ns = lab.node('r1').ns;
});

afterAll(() => {
  lab.destroy();
  rmSync(dir, { recursive: true, force: true });
});

describe('crash guardian', () => {
  it('a crash: each group kept until the deadline its last advert set, then deleted by a few processes; the final lines last', async () => {
    addAll();
    lab.exec(ns, ['ip', 'addr', 'add', '192.0.2.200/32', 'dev', 'eth0']);
    expect(held(v4) + held(v6)).toBe(600);
    const g = new Guardian(['ip', 'netns', 'exec', ns], dir);
    expect(g.arm({ groups: [delLines(v4), delLines(v6)], finalIp: [], finalCmds: [['ip', 'addr', 'del', '192.0.2.200/32', 'dev', 'eth0']] })).toEqual([]);
    const pid = g.pid!;
    await sleep(200);
    g.sent(0, 1000_000); // group 0: master down 1 s after this advert
    g.sent(1, 1800_000);
    const t0 = Date.now();
    crash(g);
    await sleep(500);
    expect(held(v4)).toBe(300); // still inside the deadlines
    expect(held(v6)).toBe(300);
    expect(descendants(pid)).toBeLessThanOrEqual(3); // bash's sleep (and a subshell at most): nothing per address
    while (held(v4) > 0 && Date.now() - t0 < 3000) await sleep(20);
    const v4Gone = Date.now() - t0;
    expect(v4Gone).toBeGreaterThanOrEqual(950);
    expect(v4Gone).toBeLessThan(1400);
    expect(held(v6)).toBe(300); // its deadline is later
    expect(lab.exec(ns, ['ip', '-o', 'addr', 'show', 'dev', 'eth0'])).toContain('192.0.2.200/32'); // final: after every group
    while (held(v6) > 0 && Date.now() - t0 < 4000) await sleep(20);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1750);
    await sleep(300);
    expect(lab.exec(ns, ['ip', '-o', 'addr', 'show', 'dev', 'eth0'])).not.toContain('192.0.2.200/32');
    expect(existsSync(g.deadlinesFile)).toBe(false); // the guardian removed its file
  });

  it('a group whose instance never sent an advert (a backup) goes at once', async () => {
    addAll();
    const g = new Guardian(['ip', 'netns', 'exec', ns], dir);
    g.arm({ groups: [delLines(v4), delLines(v6)], finalIp: [], finalCmds: [] });
    await sleep(200);
    g.sent(1, 2000_000);
    crash(g);
    const t0 = Date.now();
    while (held(v4) > 0 && Date.now() - t0 < 3000) await sleep(20);
    expect(Date.now() - t0).toBeLessThan(500);
    expect(held(v6)).toBe(300);
    while (held(v6) > 0 && Date.now() - t0 < 4000) await sleep(50);
    expect(held(v6)).toBe(0);
  });

  it('a re-arm (reload) keeps the deadlines of the instances that go on; a new one starts at "now"', async () => {
    addAll();
    const g = new Guardian(['ip', 'netns', 'exec', ns], dir);
    g.arm({ groups: [delLines(v4)], finalIp: [], finalCmds: [] });
    await sleep(200);
    g.sent(0, 1500_000);
    // reload: v4's instance moves to slot 1, a new instance (v6) takes slot 0
    g.arm({ groups: [delLines(v6), delLines(v4)], finalIp: [], finalCmds: [] }, (k) => (k === 1 ? 0 : null));
    await sleep(200);
    crash(g);
    const t0 = Date.now();
    while (held(v6) > 0 && Date.now() - t0 < 3000) await sleep(20);
    expect(Date.now() - t0).toBeLessThan(500); // the new one: no advert yet, at once
    expect(held(v4)).toBe(300); // carried: about 1.1 s to go
    while (held(v4) > 0 && Date.now() - t0 < 3000) await sleep(20);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
  });

  it('a clean exit: nothing deleted, even addresses added again at once', async () => {
    addAll();
    const g = new Guardian(['ip', 'netns', 'exec', ns], dir);
    g.arm({ groups: [delLines(v4), delLines(v6)], finalIp: [], finalCmds: [] });
    const pid = g.pid!;
    const file = g.deadlinesFile;
    await sleep(300);
    g.release();
    await sleep(800);
    expect(held(v4) + held(v6)).toBe(600);
    expect(() => process.kill(pid, 0)).toThrow(); // and the guardian is gone
    expect(existsSync(file)).toBe(false);
  });

  it('a restarted daemon stops the guardian its dead predecessor (same configuration, same namespace) left, which then deletes nothing; another configuration\'s is left alone', async () => {
    addAll();
    const wrap = ['ip', 'netns', 'exec', ns];
    const dead = new Guardian(wrap, dir, 2_000_001); // the earlier run of this configuration
    dead.setTag('vipd-lock-A');
    dead.arm({ groups: [delLines(v4)], finalIp: [], finalCmds: [] });
    const other = new Guardian(wrap, dir, 2_000_002); // another configuration's
    other.setTag('vipd-lock-B');
    other.arm({ groups: [], finalIp: [], finalCmds: [] });
    await sleep(300);
    const now = new Guardian(wrap, dir);
    now.setTag('vipd-lock-A');
    expect(await now.stopStale(`/run/netns/${ns}`)).toEqual([dead.pid]);
    await sleep(300);
    expect(() => process.kill(dead.pid!, 0)).toThrow();
    expect(existsSync(dead.deadlinesFile)).toBe(false);
    expect(held(v4)).toBe(300); // SIGKILLed: it deleted nothing
    expect(() => process.kill(other.pid!, 0)).not.toThrow();
    other.release();
  });

  it('a line with a word a shell would read otherwise is left out and reported', () => {
    const g = new Guardian(['ip', 'netns', 'exec', ns], dir);
    expect(g.arm({ groups: [[{ family: 4, line: 'addr del 198.51.100.1/32 dev e$(x)\n' }]], finalIp: [], finalCmds: [] })).toEqual(['addr del 198.51.100.1/32 dev e$(x)\n']);
    g.release();
  });
});
