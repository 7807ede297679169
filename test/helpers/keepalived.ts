/** Real keepalived (Debian package) in a lab namespace, with its own pid files; stopped by pid. */
import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
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

  async start(): Promise<void> {
    const pid = join(this.dir, `ka-${this.node}.pid`);
    const vpid = join(this.dir, `ka-${this.node}-vrrp.pid`);
    this.proc = this.lab.spawn(this.lab.node(this.node).ns, ['keepalived', '-n', '-l', '-D', '-P', '-f', this.conf, '-p', pid, '-r', vpid]);
    this.proc.stdout!.on('data', (d: Buffer) => (this.log += d.toString()));
    this.proc.stderr!.on('data', (d: Buffer) => (this.log += d.toString()));
    await new Promise((r) => setTimeout(r, 200));
    if (this.proc.exitCode !== null) throw new Error(`keepalived exited at once: ${this.log}`);
  }

  /** Wait until keepalived logs that it entered MASTER state. */
  async waitForMaster(timeoutMs: number): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (!/Entering MASTER STATE/.test(this.log)) {
      if (Date.now() > end) throw new Error(`keepalived in ${this.node} did not become master:\n${this.log}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  signal(sig: NodeJS.Signals): void {
    if (this.proc?.pid && this.proc.exitCode === null) process.kill(this.proc.pid, sig);
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
