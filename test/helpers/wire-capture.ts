/**
 * A capture on one interface of a lab namespace (tcpdump writing a pcap file, packet-buffered),
 * dissected afterwards by tshark (Wireshark's dissectors as referee), for the interop tests.
 */
import type { ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import type { NetnsLab } from '../../src/lab/netns.js';

/** One packet as `tshark -T json --no-duplicate-keys` gives it: protocol layer → fields (strings, arrays or subtrees). */
export type Layers = Record<string, Record<string, unknown>>;

export class WireCapture {
  private proc: ChildProcess | null = null;
  private stderr = '';

  /** `filter`: a pcap filter expression, e.g. `ip proto 112` for VRRP. */
  constructor(
    readonly lab: NetnsLab,
    readonly node: string,
    readonly iface: string,
    readonly file: string,
    readonly filter: string,
  ) {}

  /** Start tcpdump and wait (up to `timeoutMs`) until it says it is listening. */
  async start(timeoutMs = 5000): Promise<void> {
    this.stderr = '';
    const p = this.lab.spawn(this.lab.node(this.node).ns, ['tcpdump', '-i', this.iface, '-n', '-U', '-s', '0', '-w', this.file, this.filter], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.proc = p;
    p.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString()));
    const end = Date.now() + timeoutMs;
    while (!/listening on/.test(this.stderr)) {
      if (p.exitCode !== null || Date.now() > end) throw new Error(`tcpdump in ${this.node} did not start: ${this.stderr}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Stop tcpdump (SIGTERM by pid: it flushes the file), at most `timeoutMs`, then SIGKILL. */
  async stop(timeoutMs = 3000): Promise<void> {
    const p = this.proc;
    if (!p?.pid || p.exitCode !== null || p.signalCode !== null) return;
    const done = new Promise((r) => p.once('exit', r));
    process.kill(p.pid, 'SIGTERM');
    await Promise.race([done, new Promise((r) => setTimeout(r, timeoutMs))]);
    if (p.exitCode === null && p.signalCode === null) process.kill(p.pid, 'SIGKILL');
  }

  /** Every captured packet as tshark dissects it (run after `stop`). */
  dissect(): Layers[] {
    const out = execFileSync('tshark', ['-r', this.file, '-T', 'json', '--no-duplicate-keys'], { maxBuffer: 256 << 20, stdio: ['ignore', 'pipe', 'pipe'] });
    return (JSON.parse(out.toString()) as { _source: { layers: Layers } }[]).map((p) => p._source.layers);
  }
}

/**
 * Every expert-info message and malformed-packet mark anywhere in one dissected packet. tshark
 * nests `_ws.expert` inside the field that raised it (e.g. `vrrp.checksum_tree`) and puts
 * `_ws.malformed` at the top, so the whole tree is walked.
 */
export function tsharkComplaints(layers: unknown): string[] {
  const found: string[] = [];
  const walk = (x: unknown, path: string): void => {
    if (Array.isArray(x)) {
      x.forEach((y, i) => walk(y, `${path}[${i}]`));
      return;
    }
    if (x === null || typeof x !== 'object') return;
    for (const [k, v] of Object.entries(x as Record<string, unknown>)) {
      if (k.startsWith('_ws.expert') || k.startsWith('_ws.malformed')) found.push(`${path}.${k}: ${JSON.stringify(v)}`);
      else walk(v, `${path}.${k}`);
    }
  };
  walk(layers, '');
  return found;
}

/** A tshark field that may be absent, one value or repeated, as a list of strings. */
export function fieldList(x: unknown): string[] {
  return x === undefined ? [] : Array.isArray(x) ? (x as string[]) : [x as string];
}
