/** vipd or keepalived in a lab namespace (the lab and the benchmarks); CPU and RSS from /proc; stopped by pid. */
import type { ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cliCommand } from './cli-command.js';
import type { NetnsLab } from './netns.js';

export type Impl = 'vipd' | 'keepalived';
const TICK = 100; // USER_HZ on Linux

/**
 * One vipd or keepalived process on a lab node (not the daemon itself: src/daemon/daemon.ts):
 * its files are `<dir>/<impl>-<node>.{conf,log,sock,pid,vpid,maintenance.json}`.
 */
export class LabDaemon {
  proc: ChildProcess | null = null;
  startedAt = 0;
  constructor(
    readonly lab: NetnsLab,
    readonly impl: Impl,
    readonly node: string,
    readonly dir: string,
  ) {}

  /** The configuration file start() writes (a test rewrites it before a reload). */
  get confFile(): string {
    return this.f('conf');
  }

  private f(ext: string): string {
    return join(this.dir, `${this.impl}-${this.node}.${ext}`);
  }

  /** vipd's control socket (`<dir>/vipd-<node>.sock`); null for keepalived. */
  get controlSocket(): string | null {
    return this.impl === 'vipd' ? this.f('sock') : null;
  }

  /** The last `lines` lines of the output file (start() without onOutput), or '' when there is none. */
  logTail(lines: number): string {
    try {
      return readFileSync(this.f('log'), 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  }

  /** Output goes to `<impl>-<node>.log` in `dir`, or to `onOutput` when given. */
  start(config: string, onOutput?: (chunk: string) => void): void {
    writeFileSync(this.f('conf'), config);
    for (const e of ['pid', 'vpid']) rmSync(this.f(e), { force: true });
    const argv = this.impl === 'keepalived'
      ? ['keepalived', '-n', '-l', '-P', '-f', this.f('conf'), '-p', this.f('pid'), '-r', this.f('vpid')]
      : [...cliCommand('vipd'), 'run', '-f', this.f('conf'), '--control-socket', this.f('sock'), '--maintenance-file', this.f('maintenance.json'), '--log-level', 'warn'];
    this.startedAt = Date.now() / 1000;
    // The environment a service manager gives a daemon, not this shell's: variables such as
    // NODE_EXTRA_CA_CERTS (set on the development machine) cost Node 80 ms at start.
    const env = { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8' };
    if (onOutput) {
      this.proc = this.lab.spawn(this.lab.node(this.node).ns, argv, { stdio: ['ignore', 'pipe', 'pipe'], env });
      this.proc.stdout!.on('data', (d: Buffer) => onOutput(d.toString()));
      this.proc.stderr!.on('data', (d: Buffer) => onOutput(d.toString()));
      return;
    }
    const log = openSync(this.f('log'), 'w');
    this.proc = this.lab.spawn(this.lab.node(this.node).ns, argv, { stdio: ['ignore', log, log], env });
    closeSync(log);
  }

  /** Has the process we spawned not exited yet (by its exit event, never by probing a pid)? */
  running(): boolean {
    const p = this.proc;
    return Boolean(p?.pid) && p!.exitCode === null && p!.signalCode === null;
  }

  /**
   * Every pid doing the work: vipd's node process; keepalived's parent and VRRP child. Only
   * live ones: the child's pid comes from its pid file and counts only while /proc says it
   * is a live child of our keepalived (a stale file, or a pid reused since, is skipped).
   */
  pids(): number[] {
    if (!this.running()) return [];
    const parent = this.proc!.pid!;
    const out = [parent];
    if (this.impl === 'keepalived') {
      try {
        const child = Number(readFileSync(this.f('vpid'), 'utf8').trim());
        if (Number.isInteger(child) && child > 0 && parentOf(child) === parent) out.push(child);
      } catch {
        // not yet written
      }
    }
    return out;
  }

  /** The process that runs the VRRP instances: vipd's only one, keepalived's VRRP child. */
  vrrpPid(): number | undefined {
    return this.pids().at(-1);
  }

  /** CPU seconds used so far (user + system) by all pids. */
  cpuSeconds(): number {
    let ticks = 0;
    for (const pid of this.pids()) {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        ticks += Number(f[11]) + Number(f[12]);
      } catch {
        // gone
      }
    }
    return ticks / TICK;
  }

  /** Resident memory of the daemon's processes, kB (VmRSS; RssAnon: the private part, no file pages). */
  rssKb(field: 'VmRSS' | 'RssAnon' = 'VmRSS'): number {
    let kb = 0;
    const re = new RegExp(`${field}:\\s+(\\d+)`);
    for (const pid of this.pids()) {
      try {
        kb += Number(re.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
      } catch {
        // gone
      }
    }
    return kb;
  }

  /** SIGKILL the whole daemon (keepalived's VRRP child first, so it cannot resign); only live pids of ours. */
  async crash(): Promise<number> {
    if (this.impl === 'keepalived') {
      for (const pid of this.pids().slice(1)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
    }
    const t = Date.now() / 1000;
    await this.signal('SIGKILL');
    return t;
  }

  /** Send `sig` to the daemon if it still runs; wait up to 8 s for it to exit, then SIGKILL it. */
  async signal(sig: NodeJS.Signals): Promise<void> {
    const p = this.proc;
    if (!p?.pid || !this.running()) return;
    const done = new Promise((r) => p.once('exit', r));
    // p.kill: a no-op once Node has reaped the child, so never a pid reused since
    p.kill(sig);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([done, new Promise((r) => (timer = setTimeout(r, 8000)))]);
    clearTimeout(timer);
    if (this.running()) p.kill('SIGKILL');
  }
}

/** The parent pid of a live, non-zombie process, or null (gone, zombie, unreadable). */
function parentOf(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return f[0] === 'Z' || f[0] === 'X' ? null : Number(f[1]);
  } catch {
    return null;
  }
}
