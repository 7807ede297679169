/**
 * Real keepalived (Debian package) in a lab namespace for the tests: the lab's process helper
 * (own pid files, crash = VRRP child then parent, stopped by pid) plus its log, read for states.
 */
import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { LabDaemon } from '../../src/lab/daemon-proc.js';
import type { NetnsLab } from '../../src/lab/netns.js';

export class KeepalivedProcess {
  log = '';
  mark = 0;
  private readonly d: LabDaemon;

  constructor(
    readonly lab: NetnsLab,
    readonly node: string,
    dir: string,
    private readonly config: string,
  ) {
    this.d = new LabDaemon(lab, 'keepalived', node, dir);
  }

  /** Replace the configuration file (then SIGHUP reloads it). */
  rewrite(config: string): void {
    writeFileSync(this.d.confFile, config);
  }

  get proc(): ChildProcess | null {
    return this.d.proc;
  }

  async start(): Promise<void> {
    this.log = '';
    this.mark = 0;
    this.d.start(this.config, (chunk) => (this.log += chunk));
    await new Promise((r) => setTimeout(r, 200));
    if (this.d.proc?.exitCode !== null) throw new Error(`keepalived exited at once: ${this.log}`);
  }

  /** SIGKILL the whole daemon (VRRP child first, so that it cannot resign). */
  async crash(): Promise<void> {
    await this.d.crash();
  }

  get state(): 'MASTER' | 'BACKUP' | 'FAULT' | undefined {
    const all = [...this.log.matchAll(/Entering (MASTER|BACKUP|FAULT) STATE/g)];
    return all.at(-1)?.[1] as 'MASTER' | 'BACKUP' | 'FAULT' | undefined;
  }

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

  waitForMaster(timeoutMs: number): Promise<void> {
    return this.waitState('MASTER', timeoutMs);
  }

  signal(sig: NodeJS.Signals): void {
    const p = this.d.proc;
    if (p?.pid && p.exitCode === null && p.signalCode === null) process.kill(p.pid, sig);
  }

  async exited(timeoutMs = 5000): Promise<void> {
    const p = this.d.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    await Promise.race([new Promise((r) => p.once('exit', r)), new Promise((r) => setTimeout(r, timeoutMs))]);
  }

  /** SIGTERM, then SIGKILL after 8 s (by pid). */
  stop(): Promise<void> {
    return this.d.signal('SIGTERM');
  }
}
