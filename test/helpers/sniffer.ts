/** `vipctl sniff -i eth0 --json` running in a lab namespace; events kept with their times. */
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { cliCommand } from '../../src/lab/cli-command.js';
import type { NetnsLab } from '../../src/lab/netns.js';

export interface SniffLine {
  type: 'vrrp' | 'arp' | 'na' | 'summary';
  time: number;
  src?: string;
  srcMac?: string;
  vrid?: number;
  priority?: number;
  valid?: boolean;
  senderIp?: string;
  senderMac?: string;
  target?: string;
  targetMac?: string;
  version?: number;
  [k: string]: unknown;
}

export class Sniffer {
  readonly lines: SniffLine[] = [];
  private proc: ChildProcess;

  constructor(lab: NetnsLab, node: string) {
    this.proc = lab.spawn(lab.node(node).ns, [...cliCommand('vipctl'), 'sniff', '-i', 'eth0', '--json']);
    createInterface({ input: this.proc.stdout! }).on('line', (l) => this.lines.push(JSON.parse(l) as SniffLine));
  }

  /** Wait until the sniffer sees traffic (it needs a moment to start). */
  async ready(timeoutMs = 10_000): Promise<void> {
    await this.waitFor(() => true, timeoutMs, 'first packet');
  }

  /** `from`: a time (seconds, as `mark` returns); only lines captured after it count. */
  async waitFor(pred: (l: SniffLine) => boolean, timeoutMs: number, what: string, from = 0): Promise<SniffLine> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.lines.find((l) => l.time >= from && pred(l));
      if (hit) return hit;
      if (Date.now() > end) throw new Error(`sniffer: timed out waiting for ${what}; last lines:\n${this.lines.slice(-10).map((l) => JSON.stringify(l)).join('\n')}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  adverts(vrid: number, from = 0): SniffLine[] {
    return this.lines.filter((l) => l.time >= from && l.type === 'vrrp' && l.vrid === vrid && l.valid);
  }

  /** Now, on the clock the sniffer stamps packets with (same host). */
  get mark(): number {
    return Date.now() / 1000;
  }

  async stop(): Promise<void> {
    if (this.proc.pid && this.proc.exitCode === null) {
      const done = new Promise((r) => this.proc.once('exit', r));
      process.kill(this.proc.pid, 'SIGTERM');
      await Promise.race([done, new Promise((r) => setTimeout(r, 3000))]);
    }
  }
}

/** Time (ms) from the last advert of `oldSrc` before the first advert of `newSrc` after time `from`. */
export function takeoverMs(s: Sniffer, vrid: number, oldSrc: string, newSrc: string, from: number): { ms: number; lastOld: SniffLine; firstNew: SniffLine } {
  const ads = s.adverts(vrid, 0);
  const i = ads.findIndex((a) => a.time >= from && a.src === newSrc && (a.priority ?? 0) > 0);
  if (i < 0) throw new Error(`no advert from ${newSrc}`);
  const firstNew = ads[i]!;
  const lastOld = [...ads.slice(0, i)].reverse().find((a) => a.src === oldSrc);
  if (!lastOld) throw new Error(`no advert from ${oldSrc} before ${newSrc} took over`);
  return { ms: (firstNew.time - lastOld.time) * 1000, lastOld, firstNew };
}
