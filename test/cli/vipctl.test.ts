/**
 * vipctl's output and commands: the status table fits 100 columns and -o wide has the rest,
 * every command's --help has examples, --socket before or after the command, dump, reload
 * (what changed; exit 1 with the daemon's reason when refused), and watch saying why it
 * ended when the daemon stops (exit 1). The daemon parts run in a lab namespace. Last, the
 * lab's --keep: its printed commands run as printed and its teardown leaves nothing.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InstanceStatus } from '../../src/daemon/status.js';
import { duration, reloadSummary, statusTable, statusWide } from '../../src/cli/control-commands.js';
import { trackerRows } from '../../src/cli/status-trackers.js';
import type { TrackerRefStatus } from '../../src/daemon/trackers/manager.js';
import { cliCommand } from '../../src/lab/cli-command.js';
import { labConfig, type LabInstance } from '../../src/lab/conf.js';
import { NetnsLab, run } from '../../src/lab/netns.js';
import { runCliIn, teardown, VipdProcess } from '../helpers/vipd.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const widest = (text: string): number => Math.max(...text.split('\n').map((l) => l.length));

/** vipctl from the sources, no namespace (help, no daemon). */
function vipctlHere(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const p = spawn(cliCommand('vipctl')[0]!, [...cliCommand('vipctl').slice(1), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => p.once('close', (code) => resolve({ code, stdout, stderr })));
}

function inst(name: string, over: Partial<InstanceStatus> = {}): InstanceStatus {
  return {
    name, interface: 'eth0', family: 4, vrid: 51, version: 3, state: 'BACKUP', priority: 100, effectivePriority: 100, advertIntervalMs: 1000,
    vips: ['192.0.2.200/24', '192.0.2.201/24', '192.0.2.202/24', '198.51.100.250/32'], vipsHeld: false,
    master: { address: '192.0.2.1', mac: '02:00:00:00:00:01', self: false, priority: 150, lastAdvertAgoMs: 312 },
    transitions: 1, lastTransition: { time: '2026-01-01T00:00:00.000Z', from: 'INIT', to: 'BACKUP', reason: 'startup' },
    stats: { advertsSent: 0, advertsReceived: 1234, priorityZeroSent: 0, priorityZeroReceived: 1, transitions: 1, sendErrors: 0, drops: { ttl: 2 } },
    maintenance: false, handover: null, yieldsTo: null, peers: [{ address: '192.0.2.1', priority: 150, lastAdvertAgoMs: 312 }],
    ...over,
  } as InstanceStatus;
}

describe('status formatting (no daemon)', () => {
  const now = Date.parse('2026-01-01T02:07:05.000Z');
  const three = [
    inst('haproxy_internal_vip_51'),
    inst('kolla_external_v6', { family: 6, vrid: 52, vips: ['2001:db8:100::200/64', '2001:db8:100::201/64', '2001:db8:100::202/64', '2001:db8:100::203/64'], effectivePriority: 90, master: { address: 'fe80::200:ff:fe00:1', mac: '02:00:00:00:00:01', self: false, priority: 150, lastAdvertAgoMs: 20 } }),
    inst('a_name_longer_than_twenty_four_chars', { state: 'MASTER', priority: 254, effectivePriority: 244, master: { address: '203.0.113.254', mac: '02:00:00:00:00:02', self: true, priority: 244, lastAdvertAgoMs: 0 } }),
  ];

  it('the default table: essentials only, every line within 100 columns', () => {
    const longV6 = inst('long_ipv6_addresses_here_x', { family: 6, vips: ['2001:db8:ffff:ffff:ffff:ffff:ffff:1/64', '2001:db8::2/64'], master: { address: '2001:db8:ffff:ffff:ffff:ffff:ffff:2', mac: null, self: false, priority: 150, lastAdvertAgoMs: 20 } });
    expect(widest(statusTable([...three, longV6], now))).toBeLessThanOrEqual(100);
    const t = statusTable(three, now);
    expect(widest(t), t).toBeLessThanOrEqual(100);
    const lines = t.split('\n');
    expect(lines[0]).toMatch(/^INSTANCE\s+STATE\s+PRIO\s+VIPS\s+MASTER\s+SINCE$/);
    expect(lines[1]).toMatch(/^haproxy_internal_vip_51\s+BACKUP\s+100\s+192\.0\.2\.200 \+3\s+192\.0\.2\.1\s+2h07m ago$/);
    expect(lines[2]).toMatch(/^kolla_external_v6\s+BACKUP\s+90 \(100\)\s+2001:db8:100::200 \+3\s+fe80::200:ff:fe00:1\s+2h07m ago$/);
    expect(lines[3]).toMatch(/^a_name_longer_than_twen…\s+MASTER\s+244 \(254\)\s+192\.0\.2\.200 \+3\s+203\.0\.113\.254 \(self\)\s+2h07m ago$/);
    expect(t).not.toContain('02:00:00:00:00:01');
    expect(statusTable([inst('x', { vips: ['192.0.2.9/32'], lastTransition: null, master: { address: null, mac: null, self: false, priority: null, lastAdvertAgoMs: null } })], now).split('\n')[1]).toMatch(/^x\s+BACKUP\s+100\s+192\.0\.2\.9\s+-\s+-$/);
    expect(statusTable([], now)).toBe('no VRRP instance configured');
    // maintenance and a handover in progress show in STATE
    expect(statusTable([inst('m', { maintenance: true, effectivePriority: 1 })], now).split('\n')[1]).toMatch(/^m\s+BACKUP \(maint\)\s+1 \(100\)\s/);
    expect(statusTable([inst('h', { state: 'MASTER', handover: 'resign' })], now).split('\n')[1]).toMatch(/^h\s+MASTER \(handover\)\s/);
  });

  it('-o wide: every field, the whole name and every VIP', () => {
    const t = statusWide(three);
    const head = t.split('\n')[0]!;
    for (const h of ['IF', 'FAM', 'VRID', 'VER', 'EFF', 'INT', 'HELD', 'MASTER MAC', 'LAST ADVERT', 'LAST CHANGE', 'SENT/RCVD', 'PRIO0 S/R', 'SEND ERR', 'DROPS']) expect(head).toContain(h);
    expect(t).toContain('a_name_longer_than_twenty_four_chars');
    expect(t).toContain('2001:db8:100::200/64,2001:db8:100::201/64,2001:db8:100::202/64,2001:db8:100::203/64');
    expect(t.split('\n')[1]).toMatch(/eth0\s+v4\s+51\s+v3\s+BACKUP\s+100\s+100\s+1000ms\s+\S+\s+no\s+192\.0\.2\.1\s+02:00:00:00:00:01\s+150\s+312ms ago\s+1\s+2026-01-01T00:00:00.000Z INIT->BACKUP \(startup\)\s+0\/1234\s+0\/1\s+0\s+ttl=2\s+-\s+-\s+192\.0\.2\.1:150$/);
  });

  it('durations and reload summaries read as words', () => {
    expect([0, 59, 60, 3599, 3600, 86_399, 86_400 * 3 + 7200, -5].map(duration)).toEqual(['0s', '59s', '1m00s', '59m59s', '1h00m', '23h59m', '3d02h', '0s']);
    const none = { added: [], removed: [], restarted: [], stateKept: [], inPlace: [], changes: {}, trackers: { started: [], disabled: [] }, waiting: [] };
    expect(reloadSummary({ ...none, inPlace: ['VI_1'], restarted: ['VI_2'], added: ['VI_3'], removed: ['B', 'C'], changes: { VI_1: ['priority 150 -> 140', 'virtual_ipaddress +192.0.2.13/24'], VI_2: ['virtual_router_id 51 -> 52'] } }).split('\n')).toEqual([
      'reload applied',
      '  in place   VI_1: priority 150 -> 140; virtual_ipaddress +192.0.2.13/24',
      '  restarted  VI_2: virtual_router_id 51 -> 52',
      '  added      VI_3',
      '  removed    B',
      '  removed    C',
    ]);
    expect(reloadSummary({ ...none, waiting: [{ instance: 'VI_9', interface: 'eth9' }] })).toBe('reload applied\n  waiting    VI_9: interface eth9 does not exist yet (dynamic_interfaces)');
    expect(reloadSummary({ ...none, trackers: { started: ['script:chk'], disabled: ['script:chk'] } }))
      .toBe('reload applied\n  trackers started afresh: script:chk; DISABLED (cannot run, see the log): script:chk');
    expect(reloadSummary(none)).toBe('reload applied: no instance changed');
  });
});

describe('vipctl without a daemon', () => {
  it("every command's --help ends with examples", async () => {
    const top = await vipctlHere(['--help']);
    expect(top.code).toBe(0);
    expect(top.stdout).toMatch(/\nExamples:\n {2}# .+\n {2}vipctl /);
    const commands = [...top.stdout.split('Commands:')[1]!.split('Examples:')[0]!.matchAll(/^ {2}([a-z-]+) /gm)].map((m) => m[1]!).filter((c) => c !== 'help');
    expect(commands).toEqual(['sniff', 'status', 'who-owns', 'watch', 'dump', 'reload', 'handover', 'maintenance']);
    const helps = await Promise.all(commands.map((c) => vipctlHere([c, '--help'])));
    commands.forEach((c, k) => {
      expect(helps[k]!.code, c).toBe(0);
      expect(helps[k]!.stdout, c).toMatch(new RegExp(`\\nExamples:\\n {2}# .+\\n {2}(vipctl ${c}|.*&& vipctl ${c})`));
    });
  });

  it('watch, dump and reload with nothing listening: the usual "no vipd answers" (exit 5), in either --socket position', async () => {
    const path = join(tmpdir(), `vipd-vipctl-none-${process.pid}.sock`); // never created
    const rs = await Promise.all([['watch', '--socket', path], ['--socket', path, 'dump'], ['reload', '-s', path]].map(vipctlHere));
    for (const r of rs) {
      expect(r.code).toBe(5);
      expect(r.stderr).toBe(`vipctl: no vipd answers on ${path} (is it running? --socket PATH)\n`);
    }
  });
});

describe('vipctl against a daemon in a lab namespace', () => {
  const lab = new NetnsLab('vt', 'v');
  let dir = '';
  const four = (c: number): string[] => [0, 1, 2, 3].map((k) => `198.51.100.${c * 10 + k + 1}/32`);
  const set = (prio: number, names = ['haproxy_internal_vip', 'haproxy_external_vip', 'kolla_internal_vip_51']): LabInstance[] =>
    names.map((name, c) => ({ name, vrid: 60 + Number(name.replace(/\D/g, '') || c), priority: prio, advertInt: 0.1, version: 3 as const, vips: four(c) }));
  let r1: VipdProcess;
  let r2: VipdProcess;
  const ctl = (args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> => runCliIn(lab, 'r2', 'vipctl', args);

  beforeAll(async () => {
    NetnsLab.requireRoot();
    NetnsLab.cleanStale();
    dir = mkdtempSync(join(tmpdir(), 'vipd-vipctl-')); // here, not at load: a filtered run (-t) must not leave it
    lab.build([{ name: 'r1', n: 1 }, { name: 'r2', n: 2 }]);
    r1 = new VipdProcess(lab, 'r1', dir, labConfig('r1', set(150)));
    r2 = new VipdProcess(lab, 'r2', dir, labConfig('r2', set(100)));
    r1.start();
    r2.start();
    await r1.waitFor((l) => l.to === 'MASTER' && l.instance === 'kolla_internal_vip_51', 10_000, 'r1 master');
    await r2.waitFor((l) => l.to === 'BACKUP' && l.instance === 'kolla_internal_vip_51', 10_000, 'r2 backup');
    await sleep(400);
  });
  // only daemons still running: teardown()'s SIGCONT would hit a killed one's pid (ESRCH)
  afterAll(() => teardown(lab, dir, [r1, r2].filter((d) => d?.proc && d.proc.exitCode === null && d.proc.signalCode === null)));

  it('status fits 100 columns (3 instances, 4 VIPs each) with --socket after or before the command', async () => {
    for (const args of [['status', '--socket', r2.socket], ['--socket', r2.socket, 'status'], ['-s', r2.socket, 'status']]) {
      const r = await ctl(args);
      expect(r.code, r.stderr).toBe(0);
      const lines = r.stdout.trimEnd().split('\n');
      expect(lines).toHaveLength(4);
      expect(widest(r.stdout), r.stdout).toBeLessThanOrEqual(100);
      expect(lines[1]).toMatch(/^haproxy_internal_vip\s+BACKUP\s+100\s+198\.51\.100\.1 \+3\s+192\.0\.2\.1\s+\d+s ago$/);
    }
    const own = await runCliIn(lab, 'r1', 'vipctl', ['status', '--socket', r1.socket]);
    expect(own.stdout).toMatch(/kolla_internal_vip_51\s+MASTER\s+150\s+198\.51\.100\.21 \+3\s+192\.0\.2\.1 \(self\)/);
  });

  it('status -o wide has interface, VRID, version, MAC and counters; --json is the documented shape', async () => {
    const wide = await ctl(['status', '-o', 'wide', '--socket', r2.socket]);
    expect(wide.code).toBe(0);
    expect(wide.stdout).toMatch(/haproxy_internal_vip\s+eth0\s+v4\s+6\d\s+v3\s+BACKUP\s+100\s+100\s+100ms\s+198\.51\.100\.1\/32,198\.51\.100\.2\/32,198\.51\.100\.3\/32,198\.51\.100\.4\/32\s+no\s+192\.0\.2\.1\s+02:00:00:00:00:01\s+150\s/);
    expect(wide.stdout.split('\n')[0]).toContain('SENT/RCVD');
    for (const args of [['status', '--json'], ['status', '-o', 'json']]) {
      const j = await ctl([...args, '--socket', r2.socket]);
      expect((JSON.parse(j.stdout) as { instances: InstanceStatus[] }).instances.map((i) => i.vips.length)).toEqual([4, 4, 4]);
    }
  });

  it('dump prints the daemon state as JSON', async () => {
    const r = await ctl(['--socket', r2.socket, 'dump']);
    expect(r.code, r.stderr).toBe(0);
    const d = JSON.parse(r.stdout) as { pid: number; instances: InstanceStatus[]; droppedWatchers: number };
    expect(d.pid).toBe(r2.proc!.pid);
    expect(d.instances.map((i) => i.name)).toEqual(['haproxy_internal_vip', 'haproxy_external_vip', 'kolla_internal_vip_51']);
    expect(d.droppedWatchers).toBe(0);
  });

  it('reload says per instance what changed in place, what was added and removed; a refused reload is exit 2 with the reason', async () => {
    const next = set(100, ['haproxy_internal_vip', 'kolla_internal_vip_51', 'new_vip_9']);
    next[1]!.priority = 90;
    r2.rewrite(labConfig('r2', next));
    const r = await ctl(['reload', '--socket', r2.socket]);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe('reload applied');
    expect(lines[1]).toMatch(/^ {2}in place {3}kolla_internal_vip_51: priority 100 -> 90; virtual_ipaddress \+\S+/);
    expect(lines.slice(2)).toEqual(['  added      new_vip_9', '  removed    haproxy_external_vip']);
    expect((await ctl(['--socket', r2.socket, 'reload'])).stdout).toBe('reload applied: no instance changed\n');
    const json = await ctl(['reload', '--json', '--socket', r2.socket]);
    expect(JSON.parse(json.stdout)).toEqual({ ok: true, result: { added: [], removed: [], restarted: [], stateKept: [], inPlace: [], changes: {}, trackers: { started: [], disabled: [] }, waiting: [] } });
    r2.rewrite(`${labConfig('r2', next)}\nvrrp_instance X {\n    wieght 3\n}\n`);
    const badJson = await ctl(['reload', '--json', '--socket', r2.socket]);
    expect(badJson.code).toBe(2);
    expect(JSON.parse(badJson.stdout)).toMatchObject({ ok: false, kind: 'refused', error: expect.stringContaining("unknown keyword 'wieght'") });
    const bad = await ctl(['reload', '--socket', r2.socket]);
    expect(bad.code).toBe(2);
    expect(bad.stdout).toBe('');
    expect(bad.stderr).toMatch(/^vipctl: reload refused, nothing changed: /);
    expect(bad.stderr).toContain(`${r2.conf}:${readFileSync(r2.conf, 'utf8').split('\n').indexOf('    wieght 3') + 1}:5: unknown keyword 'wieght'`);
    const still = await ctl(['status', '--socket', r2.socket]);
    expect(still.stdout).toMatch(/new_vip_9/);
    r2.rewrite(labConfig('r2', next));
  });

  /** Start `vipctl watch` in r2 and wait until the daemon has accepted its connection. */
  async function watching(d: VipdProcess): Promise<{ done: Promise<{ code: number | null; stderr: string; lines: string[] }> }> {
    const unix = (): number => readFileSync(`/proc/${d.proc!.pid}/net/unix`, 'utf8').split('\n').filter((l) => l.endsWith(` ${d.socket}`)).length;
    const before = unix();
    const p = lab.spawn(lab.node('r2').ns, [...cliCommand('vipctl'), 'watch', '--json', '--socket', d.socket]);
    const lines: string[] = [];
    let stderr = '';
    createInterface({ input: p.stdout! }).on('line', (l) => lines.push(l));
    p.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
    const done = new Promise<{ code: number | null; stderr: string; lines: string[] }>((resolve) => p.once('close', (code) => resolve({ code, stderr, lines })));
    const end = Date.now() + 15_000;
    while (unix() <= before) {
      if (Date.now() > end || p.exitCode !== null) throw new Error(`vipctl watch did not connect: ${stderr}`);
      await sleep(50);
    }
    return { done };
  }

  it('watch ends with "the daemon closed the connection (stopped?)" and exit 1 when the daemon stops or dies', async () => {
    for (const sig of ['SIGTERM', 'SIGKILL'] as const) {
      if (!r2.proc || r2.proc.exitCode !== null || r2.proc.signalCode !== null) {
        r2.start();
        await r2.waitFor((l) => l.to === 'BACKUP', 10_000, 'r2 backup again');
      }
      const w = await watching(r2);
      r2.signal(sig);
      const r = await w.done;
      expect(r.code, `${sig}: ${r.stderr}`).toBe(1);
      expect(r.stderr, sig).toBe('vipctl: the daemon closed the connection (stopped?)\n');
      await r2.exited();
    }
  });
});

describe('npm run lab -- --keep', () => {
  let out = '';
  const prefix = (): string | undefined => /namespaces (vl\d+)-/.exec(out)?.[1];
  const keptDir = (): string | undefined => /logs and configurations: (\/\S+)/.exec(out)?.[1];
  afterAll(() => {
    // only if the printed teardown did not do it: what this run created, by its names
    const p = prefix();
    if (p) for (const ns of run('ip', ['netns', 'list'], { allowFail: true }).split('\n').map((l) => l.split(' ')[0]!).filter((n) => n.startsWith(`${p}-`))) {
      for (const pid of run('ip', ['netns', 'pids', ns], { allowFail: true }).split('\n').filter(Boolean)) {
        try {
          process.kill(Number(pid), 'SIGKILL'); // a daemon of the lab this test started
        } catch {
          // exited meanwhile
        }
      }
      run('ip', ['netns', 'del', ns], { allowFail: true });
    }
    const d = keptDir();
    if (d?.startsWith(join(tmpdir(), 'vipd-lab-'))) rmSync(d, { recursive: true, force: true });
  });

  it('prints commands that work from the clone, and a teardown that leaves nothing', () => {
    NetnsLab.requireRoot();
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/lab/main.ts', '--keep'], { encoding: 'utf8', timeout: 60_000 });
    out = r.stdout;
    expect(r.status, r.stdout + r.stderr).toBe(0);
    const cmds = out.split('\n').filter((l) => l.startsWith('  ')).map((l) => l.trim());
    const status = cmds.find((c) => c.includes(`${prefix()}-r2 `) && c.includes(' status --socket '));
    expect(status).toMatch(/^ip netns exec vl\d+-r2 node --import tsx src\/cli\/vipctl\.ts status --socket \S+\/vipd-r2\.sock$/);
    const st = spawnSync('bash', ['-c', status!], { encoding: 'utf8' });
    expect(st.status, st.stderr).toBe(0);
    expect(st.stdout).toMatch(/^VI_51\s+MASTER\s+100\s+192\.0\.2\.200\s+192\.0\.2\.2 \(self\)/m);
    expect(cmds.some((c) => c.startsWith(`ip netns exec ${prefix()}-r1 `)), 'r1 was stopped: nothing to explore there').toBe(false);
    const teardown = cmds.find((c) => c.startsWith('for n in '));
    expect(teardown).toBeDefined();
    expect(spawnSync('bash', ['-c', teardown!]).status).toBe(0);
    expect(run('ip', ['netns', 'list'])).not.toContain(`${prefix()}-`);
    expect(existsSync(keptDir()!)).toBe(false);
  });
});

describe('vipctl output into a closed pipe', () => {
  it('`vipctl sniff --read FILE | true` (the reader gone first): exit 0, no EPIPE stack', () => {
    const argv = [...cliCommand('vipctl'), 'sniff', '--read', 'test/fixtures/c05_ka_v3_ipv4_20vips.pcap'].map((a) => `'${a}'`).join(' ');
    const r = spawnSync('bash', ['-c', `set -o pipefail; ${argv} | true`], { encoding: 'utf8', timeout: 30_000 });
    expect(r.stderr).not.toMatch(/EPIPE|internal error/);
    expect(r.status).toBe(0);
  });
});

describe('the trackers table of vipctl status', () => {
  const chk: TrackerRefStatus = {
    kind: 'script', name: 'chk_haproxy', level: { kind: 'bool', up: true }, state: 'ok', lastExit: 0, lastResult: 'exit', lastDurationMs: 12.4,
    result: 4, rise: 2, fall: 3, runs: 10, skipped: 0, timeouts: 0, weight: 0, reverse: false, via: 'instance', effect: { delta: 0, fault: false },
  };
  const eth1: TrackerRefStatus = { kind: 'interface', name: 'eth1', level: { kind: 'bool', up: false }, state: 'down', weight: -30, reverse: false, via: 'instance', effect: { delta: -30, fault: false } };
  const gone: TrackerRefStatus = { kind: 'script', name: 'gone', level: { kind: 'bool', up: null }, state: 'init', disabled: 'no such file /etc/keepalived/check_gone.sh, nor in PATH', runs: 0, weight: 0, reverse: false, via: 'instance', effect: { delta: 0, fault: false } };
  it('one row per tracker, its last run and how far from turning, and its effect on each instance; wide keeps cells whole', () => {
    const rows = trackerRows([inst('VI_1', { trackers: [chk, eth1, gone] }), inst('VI_2', { trackers: [{ ...chk, weight: -20, effect: { delta: 0, fault: false } }] })]);
    expect(rows.map((r) => r.join(' | '))).toEqual([
      'TRACKER | STATE | DETAIL | EFFECT',
      'script:chk_haproxy | ok | exit 0, 12 ms; fails after 3 more | VI_1 0, VI_2 0',
      'interface:eth1 | down |  | VI_1 -30',
      'script:gone | disabled | disabled: no such file /etc/keepali… | VI_1 0',
    ]);
    expect(trackerRows([inst('VI_1', { trackers: [gone] })], true)[1]![2]).toBe('disabled: no such file /etc/keepalived/check_gone.sh, nor in PATH');
    expect(trackerRows([inst('VI_1')])).toEqual([]);
  });
});
