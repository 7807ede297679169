/**
 * Issue #18's load case: a master at 10 ms adverts beside 50 vrrp_scripts at 1 s intervals,
 * each run forking `sh`, vipd against keepalived 2.2.7 running the same file.
 *
 * Two routers (r1 priority 150, r2 100), one VRRPv3 instance at advert_int 0.01 tracking 50
 * `vrrp_script` blocks with weight 0 (keepalived runs only tracked scripts:
 * vrrp_scheduler.c vrrp_init_script walks the tracked list; weight 0 = a failure would put the
 * instance in FAULT). Every block runs the same sh script file of its router, which appends
 * one byte to a counter file (`printf .`, a builtin of dash: no fork beyond the `sh` itself),
 * so runs are counted the same way for both implementations, from the file's size.
 *
 * Measured over the window (after the election and the scripts' first runs): the master's
 * advert intervals on the wire (tcpdump in the client namespace), those longer than the
 * backup's Master_Down_Interval, adverts from the backup, state transitions in the daemons'
 * logs after the election (keepalived's `Entering X STATE` lines, vipd's JSON log lines with a
 * `to` field, from the logs' length when r1's 10th advert was seen to the window's end),
 * script runs (counter files), runs skipped because the last one still ran (keepalived's
 * "skipping run" lines; vipd's tracker `skipped` from `vipctl status -o json`, read after the
 * window, so no `node` starts inside it), CPU of each daemon (utime+stime of its pids) and of
 * the scripts it ran (cutime+cstime: children reaped in the window), the master's run-queue
 * wait and the machine's steal (stalls.ts), and /proc/loadavg (the machine may be shared).
 * `hogs`: the two busy loops of the jitter scenario run beside it.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { masterDownIntervalUs } from '../../src/core/timers.js';
import { cliCommand } from '../../src/lab/cli-command.js';
import { labConfig, type LabInstance } from '../../src/lab/conf.js';
import { LabDaemon, type Impl } from '../../src/lab/daemon-proc.js';
import type { NetnsLab } from '../../src/lab/netns.js';
import { Capture } from './capture.js';
import { StallSampler, type StallInfo } from './stalls.js';

const R1 = '192.0.2.1';
const VRID = 54;
const TICK_S = 0.01; // USER_HZ 100
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * A LabDaemon whose vipd logs at info (LabDaemon.start passes `--log-level warn`, which leaves
 * out the `Entering X STATE` lines counted here); keepalived is started as LabDaemon does.
 */
class InfoLogDaemon extends LabDaemon {
  override start(config: string): void {
    if (this.impl !== 'vipd') return super.start(config);
    const base = join(this.dir, `vipd-${this.node}`);
    writeFileSync(`${base}.conf`, config);
    const argv = [...cliCommand('vipd'), 'run', '-f', `${base}.conf`, '--control-socket', `${base}.sock`, '--log-level', 'info', '--log-format', 'json'];
    this.startedAt = Date.now() / 1000;
    const log = openSync(`${base}.log`, 'w');
    // a service manager's environment, as LabDaemon.start gives it
    const env = { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8' };
    this.proc = this.lab.spawn(this.lab.node(this.node).ns, argv, { stdio: ['ignore', log, log], env });
    closeSync(log);
  }
}

/**
 * Issue #19's notification load, beside the 10 ms master (`--scripts-notify`): a second
 * instance FLAP (VRID 55, 10 ms) whose master moves between r1 and r2 every `flapMs` (r1's
 * track_file, weight -100, toggled by the benchmark), with notify_master, notify_backup and
 * `notify` scripts (each run appends a byte to the router's notify counter), a notify FIFO
 * nobody reads (every line dropped once the pipe is full), and smtp_alert mail to a server
 * that never answers (192.0.2.250: nothing there; smtp_connect_timeout 1).
 */
export interface NotifyLoad {
  /** The router's notify script (appends to its counter). */
  script: string;
  fifo: string;
  /** r1's track_file (the benchmark writes 0 / 1); null on r2. */
  flapFile: string | null;
}

const FLAP_VRID = 55;

/** The configuration of one router: `n` vrrp_scripts running `script`, all tracked with weight 0 (n = 0: the control run, no script); with `notify`, the FLAP instance too. */
export function scriptsConfig(routerId: string, priority: number, script: string, n: number, globals: string[] = [], notify?: NotifyLoad): string {
  const names = Array.from({ length: n }, (_, i) => `chk_${i + 1}`);
  const blocks = names.flatMap((s) => [`vrrp_script ${s} {`, `    script "${script}"`, '    interval 1', '    weight 0', '}', '']);
  const inst: LabInstance[] = [{
    vrid: VRID, priority, advertInt: 0.01, version: 3, vips: ['192.0.2.203/24'],
    extra: n ? ['track_script {', ...names.map((s) => `    ${s}`), '}'] : [],
  }];
  const g = [...globals];
  if (notify) {
    if (notify.flapFile) blocks.push('track_file flap {', `    file ${notify.flapFile}`, '    weight -100', '}', '');
    inst.push({
      name: 'FLAP', vrid: FLAP_VRID, priority, advertInt: 0.01, version: 3, vips: ['192.0.2.204/24'],
      extra: [...['master', 'backup'].map((k) => `notify_${k} "${notify.script} ${k}"`), `notify "${notify.script} any"`, ...(notify.flapFile ? ['track_file {', '    flap', '}'] : [])],
    });
    g.push(`notify_fifo ${notify.fifo}`, 'notification_email {', '    ops@example.org', '}', 'smtp_server 192.0.2.250', 'smtp_connect_timeout 1', 'smtp_alert');
  }
  return labConfig(routerId, inst, ['vrrp_version 3', ...g], blocks);
}

export interface ScriptsLoadResult {
  impl: Impl;
  hogs: boolean;
  seconds: number;
  scripts: number;
  adverts: number;
  p50: number;
  p99: number;
  max: number;
  /** intervals longer than r2's Master_Down_Interval (36.1 ms): each lets the backup take over */
  overMdi: number;
  /** adverts from r2 in the window */
  spurious: number;
  /** state transitions logged after the election (r1's 10th advert) by r1 / r2: 0 unless something went wrong */
  transitions: [number, number];
  /** the transitions' text, for the report when there are any */
  transitionLines: string[];
  /** with notify: FLAP transitions r1 / r2 (from the logs) and notify script runs r1 / r2 (counter files) in the window */
  flaps: [number, number] | null;
  notifyRuns: [number, number] | null;
  /** script runs counted by the scripts themselves in the window, r1 / r2 */
  runs: [number, number];
  /** runs skipped (the last still running): keepalived's log lines after the election; vipd's status counter over the daemon's life */
  skipped: [number, number];
  /** vipd only: runs by `vipctl status` over the daemon's life against the counter file's total, r1 / r2 */
  statusRuns: [number, number, number, number] | null;
  /** vipd only: runs judged timed out over the daemon's life (status), r1 / r2 */
  timeouts: [number, number] | null;
  /** percent of one core over the window: daemon (utime+stime) and its reaped scripts (cutime+cstime) */
  masterCpu: { self: number; children: number };
  backupCpu: { self: number; children: number };
  /** master's run-queue wait (main thread / largest other thread) and the machine's steal over the window, ms */
  runDelayMs: number;
  otherDelayMs: number;
  stealMs: number;
  worst: StallInfo[];
  /** /proc/loadavg's 1-minute figure at the window's end */
  load1: number;
}

/** utime+stime and cutime+cstime of the daemon's pids, seconds. */
function cpu(d: LabDaemon): { self: number; children: number } {
  let self = 0;
  let children = 0;
  for (const pid of d.pids()) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      self += (Number(f[11]) + Number(f[12])) * TICK_S;
      children += (Number(f[13]) + Number(f[14])) * TICK_S;
    } catch {
      // gone
    }
  }
  return { self, children };
}

const size = (file: string): number => {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
};

/** State changes of `instance` in a daemon log from byte `from` on: keepalived's "(VI_54) Entering X STATE", vipd's JSON lines with `to`. */
function transitionsSince(file: string, from: number, impl: Impl, instance = `VI_${VRID}`): string[] {
  let text = '';
  try {
    text = readFileSync(file).subarray(from).toString('utf8');
  } catch {
    return [];
  }
  const lines = text.split('\n');
  if (impl === 'keepalived') return lines.filter((l) => l.includes(`(${instance}) Entering `) && /Entering \w+ STATE/.test(l)).map((l) => l.trim());
  return lines.filter((l) => {
    try {
      const o = JSON.parse(l) as { to?: unknown; from?: unknown; msg?: unknown; instance?: unknown };
      return typeof o.to === 'string' && typeof o.msg === 'string' && o.msg.includes('Entering') && o.instance === instance;
    } catch {
      return false;
    }
  });
}

/** The script trackers' runs and skipped runs of a vipd, summed, from `vipctl status -o json`. */
async function vipdScriptCounts(sock: string): Promise<{ runs: number; skipped: number; timeouts: number }> {
  const [exe, ...args] = cliCommand('vipctl');
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C.UTF-8' };
  const { stdout } = await promisify(execFile)(exe!, [...args, 'status', '--socket', sock, '-o', 'json'], { env, encoding: 'utf8' });
  const res = JSON.parse(stdout) as { instances: { trackers: { kind: string; runs?: number; skipped?: number; timeouts?: number }[] }[] };
  const sum = { runs: 0, skipped: 0, timeouts: 0 };
  for (const i of res.instances) for (const t of i.trackers) if (t.kind === 'script') {
    sum.runs += t.runs ?? 0;
    sum.skipped += t.skipped ?? 0;
    sum.timeouts += t.timeouts ?? 0;
  }
  return sum;
}

/**
 * One run: `impl` on r1 and r2 with `scripts` vrrp_scripts each, `seconds` of window after the
 * election and a settling time (every script has run at least twice). Throws if r1 is not
 * master within 20 s; either way what it started is stopped (by its own handles) and the
 * counter files removed (the rest of `dir` is the caller's).
 */
export async function scriptsLoad(lab: NetnsLab, dir: string, impl: Impl, seconds: number, o: { hogs: boolean; scripts?: number; globals?: string[]; notify?: boolean; flapMs?: number }): Promise<ScriptsLoadResult> {
  const n = o.scripts ?? 50;
  const counter = (node: string): string => join(dir, `script-runs-${node}`);
  const script = (node: string): string => join(dir, `check-${node}.sh`);
  const nCounter = (node: string): string => join(dir, `notify-runs-${node}`);
  const notify = (node: string): NotifyLoad | undefined => (o.notify
    ? { script: join(dir, `notify-${node}.sh`), fifo: join(dir, `bench-${impl}-${node}.fifo`), flapFile: node === 'r1' ? join(dir, 'flap-r1') : null } : undefined);
  for (const node of ['r1', 'r2']) {
    rmSync(counter(node), { force: true });
    rmSync(nCounter(node), { force: true });
    writeFileSync(script(node), `#!/bin/sh\nprintf . >> ${counter(node)}\n`, { mode: 0o755 });
    if (o.notify) writeFileSync(notify(node)!.script, `#!/bin/sh\nprintf . >> ${nCounter(node)}\n`, { mode: 0o755 });
  }
  if (o.notify) writeFileSync(join(dir, 'flap-r1'), '0\n');
  let flapping = false;
  let flapper: Promise<void> = Promise.resolve();
  const cap = new Capture(lab, 'client');
  const a = new InfoLogDaemon(lab, impl, 'r1', dir);
  const b = new InfoLogDaemon(lab, impl, 'r2', dir);
  const id = (node: string): string => (impl === 'keepalived' ? `${lab.prefix}-${node}` : node);
  const logOf = (node: string): string => join(dir, `${impl}-${node}.log`);
  const hogs: ChildProcess[] = [];
  try {
    await cap.ready();
    a.start(scriptsConfig(id('r1'), 150, script('r1'), n, o.globals, notify('r1')));
    b.start(scriptsConfig(id('r2'), 100, script('r2'), n, o.globals, notify('r2')));
    if (o.hogs) for (const _ of [0, 1]) hogs.push(spawn('sh', ['-c', 'while :; do :; done'], { stdio: 'ignore' }));
    const end = Date.now() + 20_000;
    while (cap.find('vrrp', { src: R1, vrid: VRID }).length < 10) {
      if (Date.now() > end) throw new Error(`r1 did not become master in 20 s\n--- r1\n${a.logTail(20)}\n--- r2\n${b.logTail(20)}`);
      await sleep(50);
    }
    const logAt = [size(logOf('r1')), size(logOf('r2'))];
    await sleep(2500); // every script has run, twice
    const sampler = new StallSampler(a.vrrpPid()!);
    const runsAt = [size(counter('r1')), size(counter('r2'))];
    const nAt = [size(nCounter('r1')), size(nCounter('r2'))];
    if (o.notify) {
      flapping = true;
      flapper = (async () => {
        for (let v = 1; flapping; v ^= 1) {
          writeFileSync(join(dir, 'flap-r1'), `${v}\n`);
          await sleep(o.flapMs ?? 250);
        }
      })();
    }
    const c0 = [cpu(a), cpu(b)];
    const t0 = Date.now() / 1000;
    await sleep(seconds * 1000);
    const t1 = Date.now() / 1000;
    const c1 = [cpu(a), cpu(b)];
    const runsEnd = [size(counter('r1')), size(counter('r2'))];
    const nEnd = [size(nCounter('r1')), size(nCounter('r2'))];
    flapping = false;
    await flapper;
    const flaps = o.notify ? [transitionsSince(logOf('r1'), logAt[0]!, impl, 'FLAP').length, transitionsSince(logOf('r2'), logAt[1]!, impl, 'FLAP').length] as [number, number] : null;
    sampler.stop();
    const load1 = Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
    const tr = [transitionsSince(logOf('r1'), logAt[0]!, impl), transitionsSince(logOf('r2'), logAt[1]!, impl)];
    let skipped: [number, number];
    let statusRuns: ScriptsLoadResult['statusRuns'] = null;
    let timeouts: ScriptsLoadResult['timeouts'] = null;
    if (impl === 'vipd') {
      const s = [await vipdScriptCounts(a.controlSocket!), await vipdScriptCounts(b.controlSocket!)];
      skipped = [s[0]!.skipped, s[1]!.skipped];
      statusRuns = [s[0]!.runs, size(counter('r1')), s[1]!.runs, size(counter('r2'))];
      timeouts = [s[0]!.timeouts, s[1]!.timeouts];
    } else {
      const skips = (f: string, from: number): number => readFileSync(f).subarray(from).toString('utf8').split('\n').filter((l) => l.includes('skipping run')).length;
      skipped = [skips(logOf('r1'), logAt[0]!), skips(logOf('r2'), logAt[1]!)]; // from the election on
    }
    const ads = cap.find('vrrp', { vrid: VRID, after: t0 }).filter((p) => p.t <= t1);
    const own = ads.filter((p) => p.src === R1);
    const spans = own.slice(1).map((p, i) => ({ from: own[i]!.t, to: p.t, ms: (p.t - own[i]!.t) * 1000 }));
    const gaps = spans.map((g) => g.ms).sort((x, y) => x - y);
    const q = (f: number): number => gaps[Math.min(gaps.length - 1, Math.floor(f * gaps.length))] ?? Number.NaN;
    const pct = (x: number): number => (x / (t1 - t0)) * 100;
    const mdiMs = masterDownIntervalUs(3, 100, 10_000) / 1000;
    return {
      impl, hogs: o.hogs, seconds, scripts: n, adverts: own.length, p50: q(0.5), p99: q(0.99), max: gaps.at(-1) ?? Number.NaN,
      overMdi: gaps.filter((g) => g > mdiMs).length, spurious: ads.filter((p) => p.src !== R1).length,
      transitions: [tr[0]!.length, tr[1]!.length], transitionLines: [...tr[0]!.map((l) => `r1: ${l}`), ...tr[1]!.map((l) => `r2: ${l}`)],
      flaps, notifyRuns: o.notify ? [nEnd[0]! - nAt[0]!, nEnd[1]! - nAt[1]!] : null,
      runs: [runsEnd[0]! - runsAt[0]!, runsEnd[1]! - runsAt[1]!], skipped, statusRuns, timeouts,
      masterCpu: { self: pct(c1[0]!.self - c0[0]!.self), children: pct(c1[0]!.children - c0[0]!.children) },
      backupCpu: { self: pct(c1[1]!.self - c0[1]!.self), children: pct(c1[1]!.children - c0[1]!.children) },
      ...sampler.totals(),
      worst: [...spans].sort((x, y) => y.ms - x.ms).slice(0, 5).map((g) => sampler.around(g.from, g.to, g.ms)),
      load1,
    };
  } finally {
    flapping = false;
    await flapper;
    for (const h of hogs) h.kill('SIGKILL');
    await a.signal('SIGTERM');
    await b.signal('SIGTERM');
    await cap.stop();
    lab.exec(lab.node('r1').ns, ['ip', 'addr', 'del', '192.0.2.203/24', 'dev', 'eth0'], { allowFail: true });
    lab.exec(lab.node('r1').ns, ['ip', 'addr', 'del', '192.0.2.204/24', 'dev', 'eth0'], { allowFail: true });
    for (const node of ['r1', 'r2']) for (const f of [counter(node), nCounter(node), ...(o.notify ? [notify(node)!.script, notify(node)!.fifo] : [])]) rmSync(f, { force: true });
    rmSync(join(dir, 'flap-r1'), { force: true });
  }
}

export interface SpawnProbeResult {
  rt: boolean;
  hogs: boolean;
  /** how long one child_process.spawn() call kept the caller's event loop, ms */
  p50: number;
  p99: number;
  max: number;
  /** how long a tick of 50 spawns in a row kept it, ms, each round */
  bursts: number[];
}

/**
 * How long Node's child_process.spawn() holds the event loop on this machine: libuv's
 * uv_spawn forks, then waits on a close-on-exec pipe until the child has called execve
 * (its answer to the kill-before-exec race), so the caller is blocked for the fork and
 * for however long the new child waits for a CPU. A `node` with vipd's flags (scripts/bundle.mjs)
 * spawns the benchmark's sh script (in `dir`) 50 times in a row, 5 rounds, optionally under SCHED_RR 50 with reset-on-fork
 * (as vipd with vrrp_rt_priority) and beside two busy loops. A script run by vipd's
 * script-runner.ts goes through the same call.
 */
export async function spawnProbe(dir: string, o: { rt: boolean; hogs: boolean }): Promise<SpawnProbeResult> {
  const script = join(dir, 'check-probe.sh');
  writeFileSync(script, `#!/bin/sh\nprintf . >> ${join(dir, 'script-runs-probe')}\n`, { mode: 0o755 });
  const code = `const { spawn } = require('node:child_process');
const opts = { detached: true, stdio: ['ignore', 'pipe', 'pipe'], uid: 0, gid: 0, cwd: '/', env: { PATH: '/usr/bin:/bin' } };
const each = []; const bursts = [];
const one = () => { const t = performance.now(); const c = spawn(${JSON.stringify(script)}, [], opts); each.push(performance.now() - t); return new Promise((r) => c.on('exit', r)); };
(async () => {
  for (let k = 0; k < 5; k++) { const ps = []; const t = performance.now(); for (let i = 0; i < 50; i++) ps.push(one()); bursts.push(performance.now() - t); await Promise.all(ps); await new Promise((r) => setTimeout(r, 200)); }
  each.sort((a, b) => a - b);
  console.log(JSON.stringify({ p50: each[(each.length - 1) >> 1], p99: each[Math.ceil(0.99 * each.length) - 1], max: each.at(-1), bursts }));
})();`;
  const node = [process.execPath, '--max-semi-space-size=1', '--v8-pool-size=1', '--optimize-for-size', '-e', code];
  const argv = o.rt ? ['chrt', '--reset-on-fork', '--rr', '50', ...node] : node;
  const hogs = o.hogs ? [0, 1].map(() => spawn('sh', ['-c', 'while :; do :; done'], { stdio: 'ignore' })) : [];
  try {
    const { stdout } = await promisify(execFile)(argv[0]!, argv.slice(1), { encoding: 'utf8', env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } });
    return { rt: o.rt, hogs: o.hogs, ...(JSON.parse(stdout) as Omit<SpawnProbeResult, 'rt' | 'hogs'>) };
  } finally {
    for (const h of hogs) h.kill('SIGKILL');
    rmSync(join(dir, 'script-runs-probe'), { force: true });
  }
}
