/** Real keepalived (Debian package) in a lab namespace, with its own pid files; stopped by pid. */
import type { ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NetnsLab } from '../../src/lab/netns.js';

export class KeepalivedProcess {
  proc: ChildProcess | null = null;
  log = '';
  private readonly conf: string;

  constructor(
    readonly lab: NetnsLab,
    readonly node: string,
    readonly dir: string,
    config: string,
  ) {
    this.conf = join(dir, `keepalived-${node}.conf`);
    writeFileSync(this.conf, config);
  }

  private get pidFile(): string {
    return join(this.dir, `ka-${this.node}.pid`);
  }
  private get vrrpPidFile(): string {
    return join(this.dir, `ka-${this.node}-vrrp.pid`);
  }

  /** SIGKILL the main process and its VRRP child (a crash of the whole daemon). */
  crash(): void {
    // The VRRP child first: after its parent it would get SIGTERM (parent-death signal) and resign cleanly.
    const child = Number(readFileSync(this.vrrpPidFile, 'utf8').trim());
    try {
      if (child > 0) process.kill(child, 'SIGKILL');
    } catch {
      // already gone
    }
    this.signal('SIGKILL');
  }

  get state(): 'MASTER' | 'BACKUP' | 'FAULT' | undefined {
    const all = [...this.log.matchAll(/Entering (MASTER|BACKUP|FAULT) STATE/g)];
    return all.at(-1)?.[1] as 'MASTER' | 'BACKUP' | 'FAULT' | undefined;
  }

  mark = 0;
  setMark(): void {
    this.mark = this.log.length;
  }

  async waitState(state: string, timeoutMs = 10_000): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (!this.log.slice(this.mark).includes(`Entering ${state} STATE`)) {
      if (Date.now() > end) throw new Error(`keepalived in ${this.node} did not enter ${state}:\n${this.log}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async start(): Promise<void> {
    this.log = '';
    this.mark = 0;
    const pid = this.pidFile;
    const vpid = this.vrrpPidFile;
    this.proc = this.lab.spawn(this.lab.node(this.node).ns, ['keepalived', '-n', '-l', '-D', '-P', '-f', this.conf, '-p', pid, '-r', vpid]);
    this.proc.stdout!.on('data', (d: Buffer) => (this.log += d.toString()));
    this.proc.stderr!.on('data', (d: Buffer) => (this.log += d.toString()));
    await new Promise((r) => setTimeout(r, 200));
    if (this.proc.exitCode !== null) throw new Error(`keepalived exited at once: ${this.log}`);
  }

  /** Wait until keepalived logs that it entered MASTER state. */
  waitForMaster(timeoutMs: number): Promise<void> {
    return this.waitState('MASTER', timeoutMs);
  }

  signal(sig: NodeJS.Signals): void {
    if (this.proc?.pid && this.proc.exitCode === null) process.kill(this.proc.pid, sig);
  }

  async exited(timeoutMs = 5000): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    await Promise.race([new Promise((r) => p.once('exit', r)), new Promise((r) => setTimeout(r, timeoutMs))]);
  }

  async stop(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    this.signal('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
    if (p.exitCode === null && p.signalCode === null) this.signal('SIGKILL');
  }
}
