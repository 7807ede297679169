/**
 * vrrp_track_process against real processes and the real kernel connector.
 *
 * The tracker runs in this test process, which is in the initial network namespace (where the
 * connector answers); the processes it counts are copies of /bin/sleep and /bin/sh under names
 * unique to this run, in a temporary directory. The last tests prove the fd passing of
 * src/cli/daemonize.ts: a child entering a lab namespace through nsenter gets a connector
 * opened outside and sees events; one started inside with `ip netns exec` cannot open one and
 * procConnectorProblem says what to do.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Logger } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { netnsPrefix, passProcConnector } from '../../src/cli/daemonize.js';
import type { TrackProcessModel } from '../../src/config/model-track.js';
import { Scheduler } from '../../src/daemon/scheduler.js';
import { ProcessTracker, ProcessWatch } from '../../src/daemon/trackers/process.js';
import { NetnsLab } from '../../src/lab/netns.js';
import { PROC_CONNECTOR_FD_ENV } from '../../src/os/proc-connector.js';

const lab = new NetnsLab('vt', 'p');
const started: ChildProcess[] = [];
const groups: number[] = [];
const lines: string[] = [];
let dir = '';
let sleepPath = '';
let shPath = '';
let watch: ProcessWatch;
let scheduler: Scheduler;

const log = ((): Logger => {
  const f = (o: unknown, msg?: string): void => void lines.push(String(msg ?? o));
  return { info: f, warn: f, error: f, debug: () => undefined } as unknown as Logger;
})();
const model = (o: Partial<TrackProcessModel>): TrackProcessModel => ({
  name: 'tp', process: '', params: [], paramMatch: null, weight: 0, weightReverse: false, quorum: 1, quorumMax: null,
  terminateDelayS: 0, forkDelayS: 0, fullCommand: false, pos: { file: 'k.conf', line: 1, col: 1 }, ...o,
});
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
async function until(what: string, cond: () => boolean, ms = 5000): Promise<number> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}; log: ${lines.join(' | ')}`);
    await sleep(10);
  }
  return Date.now();
}
function run(path: string, args: string[], detached = false): ChildProcess {
  const c = spawn(path, args, { stdio: ['pipe', 'ignore', 'ignore'], detached });
  started.push(c);
  if (detached && c.pid) groups.push(c.pid);
  return c;
}
const exited = (c: ChildProcess): Promise<void> => (c.exitCode !== null || c.signalCode !== null ? Promise.resolve() : new Promise((r) => c.once('exit', () => r())));

beforeAll(async () => {
  NetnsLab.requireRoot();
  NetnsLab.cleanStale();
  dir = await mkdtemp(join(tmpdir(), 'vipd-tp-'));
  // names unique to this run, within the kernel's 15 bytes of comm
  sleepPath = join(dir, `vt${process.pid}s`);
  shPath = join(dir, `vt${process.pid}f`);
  await copyFile('/bin/sleep', sleepPath);
  await copyFile('/bin/dash', shPath);
  scheduler = new Scheduler();
  watch = new ProcessWatch({ log });
  lab.build([{ name: 'r1', n: 1 }]);
});

afterAll(async () => {
  for (const c of started) if (c.exitCode === null && c.signalCode === null && c.pid) process.kill(c.pid, 'SIGKILL');
  for (const g of groups) {
    try {
      process.kill(-g, 'SIGKILL');
    } catch {
      // the group is gone already
    }
  }
  watch?.close();
  scheduler?.stop();
  lab.destroy();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('ProcessTracker on real processes', () => {
  it('quorum 2: counted at start and on exec, up with two; one killed → down after terminate_delay', async () => {
    const a = run(sleepPath, ['1000']);
    await sleep(100); // exec'd before the start-up scan
    const t = new ProcessTracker(model({ name: 'sleepers', process: `vt${process.pid}s`, quorum: 2, terminateDelayS: 0.6 }), { watch, scheduler, log });
    // a second tracker on the same watch: the command line, exact parameters
    const full = new ProcessTracker(model({ name: 'sleep1000', process: sleepPath, params: ['1000'], paramMatch: 'exact', fullCommand: true }), { watch, scheduler, log });
    await Promise.all([t.start(), full.start()]);
    expect(t.status()).toMatchObject({ kind: 'process', processes: 1, quorum: 2, quorumMax: null, state: 'down' });
    expect(full.status()).toMatchObject({ processes: 1, state: 'up' });
    const changes: (boolean | null)[] = [];
    t.onChange = (l) => void changes.push(l.kind === 'bool' ? l.up : null);

    const b = run(sleepPath, ['2000']);
    await until('quorum gained', () => t.level().kind === 'bool' && (t.level() as { up: boolean }).up);
    expect(t.status()).toMatchObject({ processes: 2, state: 'up' });
    expect(full.status().processes).toBe(1); // 2000 is not the parameter

    a.kill('SIGKILL');
    const killed = Date.now();
    await until('the exit counted', () => t.status().processes === 1);
    expect(t.status().state).toBe('up'); // terminate_delay holds it
    const down = await until('quorum lost', () => t.status().state === 'down');
    expect(down - killed).toBeGreaterThanOrEqual(595); // the exit, and so the delay's start, come after the kill
    expect(down - killed).toBeLessThan(3000);
    expect(changes).toEqual([true, false]);
    expect(lines).toContain('Quorum gained for tracked process sleepers');
    expect(lines).toContain('Quorum lost for tracked process sleepers');
    await until('full_command exit counted', () => full.status().processes === 0);
    b.kill('SIGKILL');
    await exited(b);
    t.stop();
    full.stop();
  });

  it('fork_delay: a child forked by a counted process counts at once but gains quorum only after the delay', async () => {
    const t = new ProcessTracker(model({ name: 'forker', process: `vt${process.pid}f`, quorum: 2, forkDelayS: 0.8 }), { watch, scheduler, log });
    await t.start();
    expect(t.status().processes).toBe(0);
    // the copy of dash execs (counted at once: 1), then forks a subshell (a fork: 2 = quorum, after fork_delay); both wait on stdin
    const spawned = Date.now(); // the fork, and so the delay's start, come after this
    const sh = run(shPath, ['-c', 'exec 3<&0; (read a <&3) & read b'], true);
    await until('the forked child counted', () => t.status().processes === 2);
    expect(t.status().state).toBe('down');
    const up = await until('quorum gained after fork_delay', () => t.status().state === 'up');
    expect(up - spawned).toBeGreaterThanOrEqual(795);
    expect(up - spawned).toBeLessThan(3000);
    sh.stdin!.end(); // both reads see EOF and exit
    await until('both exits counted', () => t.status().processes === 0);
    expect(t.status().state).toBe('down');
    // everything the kernel sent was read and understood: no drop, no gap in its sequence numbers
    expect(watch.counters()).toMatchObject({ dropped: 0, missed: 0, overruns: 0, losses: 0, queueDrops: 0 });
    expect(watch.counters().applied).toBeGreaterThan(0);
    t.stop();
  });
});

describe('the process connector across a namespace entry (daemonize.ts)', () => {
  const childSource = (): string => `
import { readFileSync, readlinkSync } from 'node:fs';
const pc = await import(${JSON.stringify(pathToFileURL(fileURLToPath(new URL('../../src/os/proc-connector.ts', import.meta.url))).href)});
const out = (o) => process.stdout.write(JSON.stringify(o) + '\\n');
const problem = await pc.procConnectorProblem();
let openError = null;
try { pc.openConnectorFd(); } catch (e) { openError = e.code; }
let fd3 = null;
try { fd3 = /flags:\\s+(\\d+)/.exec(readFileSync('/proc/self/fdinfo/3', 'utf8')); } catch { /* no fd 3 */ }
const base = { netns: readlinkSync('/proc/self/ns/net'), problem, openError, envLeft: process.env.${PROC_CONNECTOR_FD_ENV} ?? null, cloexec: fd3 ? (parseInt(fd3[1], 8) & 0o2000000) !== 0 : null };
if (problem !== null) { out({ ready: true, ...base }); process.exit(0); }
const conn = pc.acquireProcConnector();
conn.start((e) => { if (e.what === 'exec') out({ exec: e.pid }); }, (why) => out({ lost: why }));
out({ ready: true, inherited: conn.inherited, ...base });
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
`;
  type Msg = { ready?: boolean; exec?: number; netns?: string; problem?: string | null; openError?: string | null; inherited?: boolean; envLeft?: string | null; cloexec?: boolean | null };
  function messages(c: ChildProcess): { all: Msg[]; err: () => string } {
    const all: Msg[] = [];
    let buf = '';
    let err = '';
    c.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        all.push(JSON.parse(buf.slice(0, nl)) as Msg);
        buf = buf.slice(nl + 1);
      }
    });
    c.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    return { all, err: () => err };
  }

  it('a child that enters the namespace with nsenter gets a connector opened outside and sees an exec event', async () => {
    const file = join(dir, 'child.mts');
    await writeFile(file, childSource());
    const ns = lab.node('r1').ns;
    const pc = passProcConnector(3);
    expect(pc.fd).not.toBeNull();
    const argv = [...netnsPrefix(ns), process.execPath, '--import', 'tsx', file];
    let child: ChildProcess;
    try {
      child = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe', pc.fd!], env: { ...process.env, ...pc.env }, cwd: fileURLToPath(new URL('../..', import.meta.url)) });
    } finally {
      pc.close();
    }
    started.push(child);
    const m = messages(child);
    await until('the child ready', () => m.all.some((x) => x.ready), 20_000).catch((e: Error) => {
      throw new Error(`${e.message}; child stderr: ${m.err()}`);
    });
    const ready = m.all.find((x) => x.ready)!;
    expect(ready.netns).toBe(`net:[${statSync(`/run/netns/${ns}`).ino}]`); // really inside the lab namespace
    // adopted; the variable is gone from its environment and the fd is close-on-exec: scripts inherit neither
    expect(ready).toMatchObject({ problem: null, inherited: true, openError: 'ECONNREFUSED', envLeft: null, cloexec: true });
    const probe = spawn('/bin/true'); // in this (initial) namespace: events are the whole host's
    await until('the child sees the exec', () => m.all.some((x) => x.exec === probe.pid));
    child.stdin!.end();
    await exited(child);
  });

  it('a child started inside with `ip netns exec` cannot subscribe (ECONNREFUSED) and is told what to do', async () => {
    const file = join(dir, 'child.mts');
    const ns = lab.node('r1').ns;
    const child = lab.spawn(ns, [process.execPath, '--import', 'tsx', file], { cwd: fileURLToPath(new URL('../..', import.meta.url)) });
    started.push(child);
    const m = messages(child);
    await until('the child ready', () => m.all.some((x) => x.ready), 20_000).catch((e: Error) => {
      throw new Error(`${e.message}; child stderr: ${m.err()}`);
    });
    const ready = m.all.find((x) => x.ready)!;
    expect(ready.openError).toBe('ECONNREFUSED');
    expect(ready.problem).toMatch(/initial network namespace.*--namespace NAME.*net_namespace/);
    await exited(child);
  });
});
