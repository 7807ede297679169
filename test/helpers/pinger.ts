/**
 * A client pinging an address at a fixed rate in a lab namespace (`ping -n -D -i S -W 0.2`),
 * for "the client lost no reply" assertions: replies kept with their receive times.
 */
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { NetnsLab } from '../../src/lab/netns.js';

export interface PingResult {
  /** Echo requests sent (ping's own summary). */
  sent: number;
  received: number;
  /** Requests without a reply between the first and the last reply (the one in flight when ping stopped does not count). */
  lost: number;
  /** Longest time between two replies, ms. */
  maxGapMs: number;
}

export class Pinger {
  /** Pingers not stopped yet (a test's afterEach stops them when the test failed first). */
  static readonly live = new Set<Pinger>();
  /** Replies: icmp_seq and receive time (epoch seconds, ping -D). */
  readonly replies: { seq: number; t: number }[] = [];
  private summary = '';
  private readonly proc: ChildProcess;
  private readonly closed: Promise<void>;

  constructor(lab: NetnsLab, node: string, target: string, intervalS = 0.01) {
    this.proc = lab.spawn(lab.node(node).ns, ['ping', '-n', '-D', '-i', String(intervalS), '-W', '0.2', target]);
    createInterface({ input: this.proc.stdout! }).on('line', (l) => {
      const m = /^\[(\d+\.\d+)\].*icmp_seq=(\d+)/.exec(l);
      if (m) this.replies.push({ seq: Number(m[2]), t: Number(m[1]) });
      else if (/packets transmitted/.test(l)) this.summary = l;
    });
    this.closed = new Promise((r) => this.proc.once('close', () => r()));
    Pinger.live.add(this);
  }

  /** Wait until `n` replies came (the path works before a measurement starts). */
  async ready(n = 5, timeoutMs = 10_000): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (this.replies.length < n) {
      if (Date.now() > end) throw new Error(`pinger: ${this.replies.length} replies after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Stop (SIGINT: ping prints its summary) and count. */
  async stop(): Promise<PingResult> {
    Pinger.live.delete(this);
    if (this.proc.pid && this.proc.exitCode === null) process.kill(this.proc.pid, 'SIGINT');
    await Promise.race([this.closed, new Promise((r) => setTimeout(r, 3000))]);
    const m = /(\d+) packets transmitted, (\d+) received/.exec(this.summary);
    if (!m) throw new Error(`pinger: no summary from ping (${this.replies.length} replies seen)`);
    let maxGapMs = 0;
    for (let i = 1; i < this.replies.length; i++) maxGapMs = Math.max(maxGapMs, (this.replies[i]!.t - this.replies[i - 1]!.t) * 1000);
    const seqs = new Set(this.replies.map((r) => r.seq));
    const first = Math.min(...seqs);
    const last = Math.max(...seqs);
    return { sent: Number(m[1]), received: Number(m[2]), lost: seqs.size ? last - first + 1 - seqs.size : 0, maxGapMs: Math.round(maxGapMs) };
  }
}
