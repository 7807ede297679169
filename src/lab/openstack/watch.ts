/**
 * What the OpenStack scenario observes, each from its own vantage point:
 * - ClientLoop: provision/client.mjs in the client namespace (an HTTP GET to the VIP every
 *   10 ms on a new connection, 500 ms timeout), every finished request kept;
 * - Holders: `ip -o monitor address` in every controller namespace, the intervals during which
 *   each one holds the VIP (the kernel's view: two holders at once is the failure operators fear);
 * - Wire: `vipctl sniff --json` in the client namespace, the adverts as they are on the LAN.
 */
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { stopChild } from '../child.js';
import { cliCommand } from '../cli-command.js';
import type { NetnsLab } from '../netns.js';
import { PROVISION } from './controller.js';

export interface Request {
  /** start, epoch ms */
  t: number;
  ms: number;
  /** X-Served-By: the controller whose HAProxy answered (the VIP's holder) */
  via?: string;
  /** the backend that answered */
  by?: string;
  err?: string;
}

export interface WindowStats {
  requests: number;
  failed: number;
  /** longest time between two successful answers (by completion), ms; the last answer before the window counts */
  maxGapMs: number;
  /** runs of consecutive failed requests (one outage = one run) */
  outages: number;
  /** the HAProxy of the last answer before the window / of the last in it */
  before: string | null;
  after: string | null;
  /** answers by controller (via) */
  via: Record<string, number>;
}

export class ClientLoop {
  readonly requests: Request[] = [];
  private proc: ChildProcess | null = null;

  constructor(private readonly lab: NetnsLab, private readonly node: string, private readonly url: string) {}

  start(): void {
    this.proc = this.lab.spawn(this.lab.node(this.node).ns, [process.execPath, join(PROVISION, 'client.mjs'), '--url', this.url, '--interval-ms', '10', '--timeout-ms', '500', '--json'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
    });
    createInterface({ input: this.proc.stdout! }).on('line', (l) => this.requests.push(JSON.parse(l) as Request));
  }

  /** Requests started in [from, to) (epoch ms). */
  stats(from: number, to: number): WindowStats {
    const inside = this.requests.filter((r) => r.t >= from && r.t < to).sort((a, b) => a.t - b.t);
    const done = (r: Request): number => r.t + r.ms;
    const prior = this.requests.filter((r) => !r.err && done(r) < from).sort((a, b) => done(a) - done(b)).at(-1);
    const ok = inside.filter((r) => !r.err).sort((a, b) => done(a) - done(b));
    let maxGap = 0;
    let last = prior ? done(prior) : from;
    for (const r of ok) {
      maxGap = Math.max(maxGap, done(r) - last);
      last = done(r);
    }
    maxGap = Math.max(maxGap, Math.min(to, Date.now()) - last);
    let outages = 0;
    inside.forEach((r, i) => {
      if (r.err && (i === 0 || !inside[i - 1]!.err)) outages++;
    });
    const via: Record<string, number> = {};
    for (const r of ok) via[r.via!] = (via[r.via!] ?? 0) + 1;
    const lastOk = [...inside].reverse().find((r) => !r.err);
    return { requests: inside.length, failed: inside.length - ok.length, maxGapMs: Math.round(maxGap), outages, before: prior?.via ?? null, after: lastOk?.via ?? null, via };
  }

  stop(): Promise<void> {
    return stopChild(this.proc, 'SIGTERM');
  }
}

/** An interval during which a controller held the VIP (epoch ms; `to` null: still holds it). */
interface Hold {
  node: string;
  from: number;
  to: number | null;
}

export class Holders {
  readonly holds: Hold[] = [];
  private readonly procs: ChildProcess[] = [];

  constructor(private readonly lab: NetnsLab, private readonly nodes: string[], private readonly vip: string) {}

  start(): void {
    for (const node of this.nodes) {
      // -tshort: each event stamped by `ip` as it reads it, not when this process gets to it (a
      // step that waits synchronously would otherwise give every event of that time one stamp)
      const p = this.lab.spawn(this.lab.node(node).ns, ['ip', '-tshort', '-o', 'monitor', 'address'], { stdio: ['ignore', 'pipe', 'pipe'] });
      this.procs.push(p);
      createInterface({ input: p.stdout! }).on('line', (l) => this.event(node, l));
      if (this.lab.addresses(node).some((a) => a.startsWith(`${this.vip}/`))) this.holds.push({ node, from: Date.now(), to: null });
    }
  }

  /** One `ip -tshort -o monitor address` line: `[2026-11-30T02:52:02.004474] [Deleted ]N: IF inet ADDR/LEN ...` (local time). */
  private event(node: string, line: string): void {
    if (!line.includes(` ${this.vip}/`)) return;
    const m = /^\[([\d-]+T[\d:.]+)\] (.*)$/.exec(line);
    const at = m ? new Date(m[1]!).getTime() : Date.now();
    const rest = m ? m[2]! : line;
    const open = this.holds.find((h) => h.node === node && h.to === null);
    if (rest.startsWith('Deleted')) {
      if (open) open.to = at;
    } else if (!open) this.holds.push({ node, from: at, to: null });
  }

  /** Who holds the VIP now, by the monitor. */
  now(): string[] {
    return this.holds.filter((h) => h.to === null).map((h) => h.node);
  }

  /** The longest time (ms) two controllers held the VIP at once within [from, to), and who. */
  overlap(from: number, to: number): { ms: number; who: string[] } {
    let best = { ms: 0, who: [] as string[] };
    const end = (h: Hold): number => Math.min(h.to ?? Date.now(), to);
    for (const a of this.holds) {
      for (const b of this.holds) {
        if (a.node >= b.node) continue;
        const ms = Math.min(end(a), end(b)) - Math.max(a.from, b.from, from);
        if (ms > best.ms) best = { ms: Math.round(ms), who: [a.node, b.node] };
      }
    }
    return best;
  }

  stop(): Promise<void> {
    return Promise.all(this.procs.map((p) => stopChild(p, 'SIGTERM'))).then(() => undefined);
  }
}

export interface Advert {
  /** epoch seconds (kernel timestamp) */
  time: number;
  src: string;
  priority: number;
  type: string;
  vrid?: number;
}

export class Wire {
  readonly adverts: Advert[] = [];
  private proc: ChildProcess | null = null;

  constructor(private readonly lab: NetnsLab, private readonly node: string, private readonly vrid: number) {}

  start(): void {
    this.proc = this.lab.spawn(this.lab.node(this.node).ns, [...cliCommand('vipctl'), 'sniff', '-i', 'eth0', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    createInterface({ input: this.proc.stdout! }).on('line', (l) => {
      const a = JSON.parse(l) as Advert;
      if (a.type === 'vrrp' && a.vrid === this.vrid) this.adverts.push(a);
    });
  }

  /**
   * Adverts (priority > 0) in [from, to) ms sent while another router was also acting as
   * master: the other sent one within the last `advertS` seconds *and* goes on sending after
   * it. A takeover (the old master silent) or a preemption (the old one stops at the new
   * one's first advert) does not count; two routers that keep advertising do.
   */
  dualMaster(from: number, to: number, advertS: number): number {
    const live = this.adverts.filter((a) => a.priority > 0);
    let n = 0;
    for (const a of live) {
      if (a.time * 1000 < from || a.time * 1000 >= to) continue;
      const other = live.find((b) => b.src !== a.src && b.time < a.time && b.time >= a.time - 0.9 * advertS);
      if (other && live.some((b) => b.src === other.src && b.time > a.time && b.time <= a.time + 1.1 * advertS)) n++;
    }
    return n;
  }

  stop(): Promise<void> {
    return stopChild(this.proc, 'SIGTERM');
  }
}
