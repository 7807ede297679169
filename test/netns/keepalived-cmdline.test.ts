/**
 * vipd started with keepalived's command line, as Neutron, systemd and Kolla start keepalived:
 * forking (the parent returns once the daemon runs, pid files written), pid files read back to
 * signal it, two daemons in two namespaces with default paths side by side (each vipctl talks
 * to its own), --namespace, and failures reported by the parent with nothing left behind.
 * Run-time files go under a temporary VIPD_RUNSTATEDIR instead of /run.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliCommand } from '../../src/lab/cli-command.js';
import { labConfig } from '../../src/lab/conf.js';
import { NetnsLab } from '../../src/lab/netns.js';
import { runtimePaths } from '../../src/os/paths.js';
import { expectHolders, holdersOf } from '../helpers/holders.js';
import { processAlive, runCliIn } from '../helpers/vipd.js';

const lab = new NetnsLab('vt', 'k');
const dir = mkdtempSync(join(tmpdir(), 'vipd-kacmd-'));
const run = join(dir, 'run');
const env = { VIPD_RUNSTATEDIR: run };
const ROUTERS = ['r1', 'r2', 'r3'];
const vip = (n: number): string => `192.0.2.${210 + n}`;
/** Daemons this file started (by pid): stopped in afterAll whatever happens. */
const started = new Set<number>();

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const pidIn = (file: string): number => Number(readFileSync(file, 'utf8').trim());
const nsInode = (path: string): number => statSync(path).ino;
const pathsOf = (node: string): ReturnType<typeof runtimePaths> => runtimePaths({ kind: 'named', name: lab.node(node).ns }, null, run);

/** A configuration file (VRRPv3, 100 ms adverts) for `node`, in a Neutron-like directory. */
function conf(node: string, n: number, o: { extra?: string[]; iface?: string; authPass?: string; edit?: (text: string) => string } = {}): string {
  const d = join(dir, 'ha_confs', `router-${node}-${n}`);
  mkdirSync(d, { recursive: true });
  const f = join(d, 'keepalived.conf');
  const text = labConfig(node, [{ vrid: 50 + n, priority: 150, advertInt: 0.1, version: 3, interface: o.iface ?? 'eth0', vips: [`${vip(n)}/24`], extra: o.extra, authPass: o.authPass }]);
  writeFileSync(f, o.edit ? o.edit(text) : text);
  return f;
}

/** Exit code and stderr of a command in a lab node's namespace. */
function inNs(node: string, argv: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync('ip', ['netns', 'exec', lab.node(node).ns, ...argv], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 30_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

async function waitGone(pid: number, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (processAlive(pid) && Date.now() < end) await sleep(20);
  expect(processAlive(pid), `pid ${pid} still running`).toBe(false);
}

async function vipctlStatus(node: string, args: string[] = ['status', '--json']): Promise<{ name: string; state: string }[]> {
  const r = await runCliIn(lab, node, 'vipctl', args, env);
  expect(r.code, r.stderr).toBe(0);
  return (JSON.parse(r.stdout) as { instances: { name: string; state: string }[] }).instances;
}

/** Poll `vipctl status` until the instance is MASTER; the last answer is the one checked (each vipctl costs a Node start). */
async function untilMaster(node: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  let st = await vipctlStatus(node);
  while (st[0]?.state !== 'MASTER' && Date.now() < end) {
    await sleep(100);
    st = await vipctlStatus(node);
  }
  expect(st.map((i) => i.state)).toEqual(['MASTER']);
}

/** Processes whose command line mentions `text` (to show that nothing was left running). */
function processesWith(text: string): number[] {
  return readdirSync('/proc').filter((p) => /^\d+$/.test(p) && Number(p) !== process.pid).filter((p) => {
    try {
      return readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(text);
    } catch {
      return false;
    }
  }).map(Number);
}

beforeAll(() => {
  NetnsLab.requireRoot();
  NetnsLab.cleanStale();
  lab.build(ROUTERS.map((name, i) => ({ name, n: i + 1 })));
  mkdirSync(run);
});

afterAll(async () => {
  for (const pid of started) if (processAlive(pid)) process.kill(pid, 'SIGTERM');
  for (const pid of started) {
    for (let i = 0; i < 100 && processAlive(pid); i++) await sleep(50);
    if (processAlive(pid)) process.kill(pid, 'SIGKILL');
  }
  lab.destroy();
  rmSync(dir, { recursive: true, force: true });
});

describe('keepalived\'s command line, forking', () => {
  const neutron = { conf: '', pid: '' };

  it('Neutron: `-P -f CONF -p PID -r PID-vrrp` in the router namespace returns 0 with a live daemon in both pid files; it becomes MASTER', async () => {
    neutron.conf = conf('r1', 1);
    neutron.pid = join(dir, 'external', 'pids', 'router-r1-1.pid');
    mkdirSync(join(dir, 'external', 'pids'), { recursive: true });
    const r = await runCliIn(lab, 'r1', 'vipd', ['-P', '-f', neutron.conf, '-p', neutron.pid, '-r', `${neutron.pid}-vrrp`], env);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    const pid = pidIn(neutron.pid);
    started.add(pid);
    expect(pidIn(`${neutron.pid}-vrrp`)).toBe(pid); // one process: both files hold its pid
    expect(processAlive(pid)).toBe(true);
    // Neutron's ProcessManager.active: the router id is in the daemon's command line
    expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8')).toContain('router-r1-1');
    expect(nsInode(`/proc/${pid}/ns/net`)).toBe(nsInode(`/run/netns/${lab.node('r1').ns}`));
    await expectHolders(lab, ROUTERS, `${vip(1)}/24`, ['r1'], 10_000);
    await untilMaster('r1');
  });

  it('a second daemon in another namespace with default paths runs beside it; vipctl in each namespace finds its own', async () => {
    const r = await runCliIn(lab, 'r2', 'vipd', ['-f', conf('r2', 2)], env);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    const p = pathsOf('r2');
    expect(p.socket).toBe(join(run, 'vipd', lab.node('r2').ns, 'vipd.sock'));
    const pid = pidIn(p.mainPid);
    started.add(pid);
    expect(pidIn(p.vrrpPid)).toBe(pid);
    expect(processAlive(pid)).toBe(true);
    expect(existsSync(p.socket)).toBe(true);
    await expectHolders(lab, ROUTERS, `${vip(2)}/24`, ['r2'], 10_000);
    await untilMaster('r2');
    expect((await vipctlStatus('r1')).map((i) => i.name)).toEqual(['VI_51']);
    expect((await vipctlStatus('r2')).map((i) => i.name)).toEqual(['VI_52']);
    // the socket given before the command, or after it, wins over the namespace's default
    expect((await vipctlStatus('r2', ['--socket', pathsOf('r1').socket, 'status', '--json'])).map((i) => i.name)).toEqual(['VI_51']);
    expect((await vipctlStatus('r2', ['status', '--json', '--socket', pathsOf('r1').socket])).map((i) => i.name)).toEqual(['VI_51']);
    expect(holdersOf(lab, ROUTERS, `${vip(1)}/24`)).toEqual(['r1']);
  });

  it('--namespace NAME (started from another namespace): the daemon runs in NAME', async () => {
    const pidFile = join(dir, 'r3.pid');
    const r = await runCliIn(lab, 'r1', 'vipd', ['-P', '--namespace', lab.node('r3').ns, '-f', conf('r3', 3), '-p', pidFile, '-r', `${pidFile}-vrrp`], env);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    const pid = pidIn(pidFile);
    started.add(pid);
    expect(nsInode(`/proc/${pid}/ns/net`)).toBe(nsInode(`/run/netns/${lab.node('r3').ns}`));
    await expectHolders(lab, ROUTERS, `${vip(3)}/24`, ['r3'], 10_000);
    expect((await vipctlStatus('r3')).map((i) => i.name)).toEqual(['VI_53']);
  });

  it('SIGTERM to the pid in a pid file: VIP removed, pid files and socket removed, the process ends', async () => {
    const targets = [
      { node: 'r1', n: 1, files: [neutron.pid, `${neutron.pid}-vrrp`], socket: pathsOf('r1').socket },
      { node: 'r2', n: 2, files: [pathsOf('r2').mainPid, pathsOf('r2').vrrpPid], socket: pathsOf('r2').socket },
    ];
    for (const t of targets) {
      const pid = pidIn(t.files[1]!); // as Neutron does for an orphaned VRRP process: the VRRP pid file
      process.kill(pid, 'SIGTERM');
      await waitGone(pid);
      expect(holdersOf(lab, ROUTERS, `${vip(t.n)}/24`)).toEqual([]);
      for (const f of t.files) expect(existsSync(f), f).toBe(false);
      expect(existsSync(t.socket)).toBe(false);
    }
    // the per-namespace directories of the default paths go too
    expect(existsSync(join(run, 'vipd', lab.node('r2').ns))).toBe(false);
    expect(existsSync(join(run, 'keepalived', lab.node('r2').ns))).toBe(false);
    expect(holdersOf(lab, ROUTERS, `${vip(3)}/24`)).toEqual(['r3']); // the third one was not touched
  });

  it('a bad configuration: the parent exits 2 with FILE:LINE:COL on stderr; nothing is started or written', async () => {
    const bad = conf('r1', 4, { extra: ['priorty 100'] });
    const line = readFileSync(bad, 'utf8').split('\n').findIndex((l) => l.includes('priorty')) + 1;
    const pidFile = join(dir, 'bad.pid');
    const r = await runCliIn(lab, 'r1', 'vipd', ['-P', '-f', bad, '-p', pidFile, '-r', `${pidFile}-vrrp`], env);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`^${bad}:${line}:\\d+: .*priorty`, 'm'));
    await sleep(300);
    expect(existsSync(pidFile) || existsSync(`${pidFile}-vrrp`)).toBe(false);
    expect(processesWith('router-r1-4')).toEqual([]);
    expect(holdersOf(lab, ROUTERS, `${vip(4)}/24`)).toEqual([]);
  });

  it('a failure in the daemon child (no such interface) reaches the parent\'s stderr and exit code; no pid file', async () => {
    const noIf = conf('r2', 5, { iface: 'eth7' });
    const pidFile = join(dir, 'noif.pid');
    const r = await runCliIn(lab, 'r2', 'vipd', ['-P', '-f', noIf, '-p', pidFile, '-r', `${pidFile}-vrrp`], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/eth7/);
    expect(existsSync(pidFile) || existsSync(`${pidFile}-vrrp`)).toBe(false);
    await sleep(300);
    expect(processesWith('router-r2-5')).toEqual([]);
  });
});

describe('keepalived\'s command line, foreground', () => {
  it('Kolla `-nldD`: stays in the foreground, logs the configuration and its notes, ends with exit 0 on SIGTERM', async () => {
    const f = conf('r2', 6, { authPass: 'secret' }); // VRRPv3 ignores authentication: a warning
    const pidFile = join(dir, 'kolla.pid');
    const p = lab.spawn(lab.node('r2').ns, [...cliCommand('vipd'), '-nldD', '-f', f, '-p', pidFile, '-r', `${pidFile}-vrrp`], { env: { ...process.env, ...env } });
    const lines: { msg: string; level: number; config?: unknown; file?: string; line?: number; col?: number }[] = [];
    createInterface({ input: p.stdout! }).on('line', (l) => lines.push(JSON.parse(l) as (typeof lines)[number]));
    const end = Date.now() + 15_000;
    while (!lines.some((l) => l.msg.startsWith('ready')) && Date.now() < end && p.exitCode === null) await sleep(50);
    expect(lines.some((l) => l.msg.startsWith('ready'))).toBe(true);
    const pid = pidIn(pidFile);
    started.add(pid);
    expect(lines.find((l) => l.msg.startsWith('effective configuration'))?.config).toMatchObject({ instances: [{ name: 'VI_56' }] });
    expect(lines.filter((l) => /one process/.test(l.msg))).toHaveLength(1);
    const authLine = readFileSync(f, 'utf8').split('\n').findIndex((l) => l.includes('authentication')) + 1;
    expect(lines.find((l) => l.level === 40 && /authentication/.test(l.msg))).toMatchObject({ file: f, line: authLine, col: expect.any(Number) });
    await expectHolders(lab, ROUTERS, `${vip(6)}/24`, ['r2'], 10_000);
    process.kill(pid, 'SIGTERM');
    const code = await new Promise<number | null>((r) => (p.exitCode !== null ? r(p.exitCode) : p.once('exit', (c) => r(c))));
    expect(code).toBe(0);
    expect(existsSync(pidFile)).toBe(false);
    expect(holdersOf(lab, ROUTERS, `${vip(6)}/24`)).toEqual([]);
  });
});

describe('-t and check-config in a router namespace (interfaces exist there, as keepalived -t wants)', () => {
  const vipd = (args: string[]): ReturnType<typeof inNs> => inNs('r3', [...cliCommand('vipd'), ...args]);
  const keepalived = (file: string): ReturnType<typeof inNs> => inNs('r3', ['keepalived', '-t', '-f', file]);

  it('-t exits as keepalived -t does on the same files: 0 when valid, 5 with errors (typo, bad value, missing brace)', () => {
    const files = {
      valid: conf('r3', 7),
      typo: conf('r3', 8, { extra: ['priorty 100'] }),
      badValue: conf('r3', 9, { edit: (t) => t.replace(/virtual_router_id \d+/, 'virtual_router_id 300') }),
      noBrace: conf('r3', 10, { edit: (t) => t.trimEnd().replace(/}$/, '') }),
    };
    const want = { valid: 0, typo: 5, badValue: 5, noBrace: 5 };
    for (const [what, f] of Object.entries(files)) {
      expect(keepalived(f).code, `keepalived -t ${what}`).toBe(want[what as keyof typeof want]);
      const r = vipd(['-t', '-f', f]);
      expect(r.code, `vipd -t ${what}: ${r.stderr}`).toBe(want[what as keyof typeof want]);
      if (what !== 'valid') expect(r.stderr).toMatch(new RegExp(`^${f}:\\d+:\\d+: `, 'm'));
    }
  });

  it('-t on a missing file: keepalived exits 0 (it only says so); vipd exits 4, keepalived\'s "cannot be run"', () => {
    const f = join(dir, 'nowhere.conf');
    expect(keepalived(f).code).toBe(0);
    expect(vipd(['-t', '-f', f])).toMatchObject({ code: 4, stderr: expect.stringContaining('nowhere.conf') });
  });

  it('-t=FILE appends the diagnostics to FILE; warnings do not fail -t or check-config, but do with --strict', () => {
    const warned = conf('r3', 11, { authPass: 'secret' });
    const log = join(dir, 'config-test.log');
    // keepalived reports "VRRP version 3 does not support authentication. Ignoring." as a config error (-t exits 5)
    // and runs the same; vipd gives a warning, which does not fail -t
    expect(keepalived(warned).code).toBe(5);
    expect(vipd([`--config-test=${log}`, '-f', warned])).toMatchObject({ code: 0, stderr: '' });
    expect(readFileSync(log, 'utf8')).toMatch(new RegExp(`^${warned}:\\d+:\\d+: warning: .*authentication`, 'm'));
    expect(vipd(['check-config', warned])).toMatchObject({ code: 0, stderr: expect.stringMatching(/: warning: .*authentication/) });
    expect(vipd(['check-config', '--strict', warned])).toMatchObject({ code: 2, stderr: expect.stringMatching(/--strict/) });
    expect(vipd(['check-config', '--strict', conf('r3', 7)]).code).toBe(0);
  });

  it('check-config --dump prints the effective model as JSON on stdout', () => {
    const r = vipd(['check-config', '--dump', conf('r3', 12, { authPass: 'secret' })]);
    expect(r.code).toBe(0);
    const model = JSON.parse(r.stdout) as { instances: { name: string; vrid: number; version: number; authType: number }[] };
    expect(model.instances).toMatchObject([{ name: 'VI_62', vrid: 62, version: 3, authType: 0 }]);
  });
});
