/**
 * Packet timestamps for the benchmarks, from tcpdump in the client namespace (an independent
 * referee: not our own decoder). Parses VRRP adverts, gratuitous ARPs and ICMP echo replies.
 */
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { NetnsLab } from '../../src/lab/netns.js';

export interface Pkt {
  t: number; // seconds since the epoch (same clock as Date.now)
  kind: 'vrrp' | 'garp' | 'reply';
  srcMac: string;
  src: string;
  vrid?: number;
  prio?: number;
  seq?: number;
}

const VRRP = /^(\d+\.\d+) (\S+) > \S+, .*?: (\S+) > \S+: VRRPv\d, Advertisement, vrid (\d+), prio (\d+)/;
const ARP = /^(\d+\.\d+) (\S+) > \S+, ethertype ARP .*Request who-has (\S+) \(\S+\) tell (\S+),/;
const REPLY = /^(\d+\.\d+) (\S+) > \S+, .*?: (\S+) > \S+: ICMP echo reply, id \d+, seq (\d+)/;

export class Capture {
  readonly pkts: Pkt[] = [];
  private proc: ChildProcess;
  private started: Promise<void>;

  constructor(lab: NetnsLab, node: string, iface = 'eth0') {
    this.proc = lab.spawn(lab.node(node).ns, ['tcpdump', '-i', iface, '-n', '-e', '-tt', '-l', '-B', '16384', 'vrrp or arp or icmp or (ip6 proto 112)']);
    let ready: () => void;
    this.started = new Promise((r) => (ready = r));
    this.proc.stderr!.on('data', (b: Buffer) => {
      if (b.toString().includes('listening on')) ready();
    });
    createInterface({ input: this.proc.stdout! }).on('line', (l) => {
      let m = VRRP.exec(l);
      if (m) return void this.pkts.push({ t: Number(m[1]), kind: 'vrrp', srcMac: m[2]!, src: m[3]!, vrid: Number(m[4]), prio: Number(m[5]) });
      m = ARP.exec(l);
      if (m && m[3] === m[4]) return void this.pkts.push({ t: Number(m[1]), kind: 'garp', srcMac: m[2]!, src: m[3]! });
      m = REPLY.exec(l);
      if (m) this.pkts.push({ t: Number(m[1]), kind: 'reply', srcMac: m[2]!, src: m[3]!, seq: Number(m[4]) });
    });
  }

  ready(): Promise<void> {
    return this.started;
  }

  /** Packets of a kind, optionally from a source and after a time. */
  find(kind: Pkt['kind'], f: { src?: string; srcMac?: string; vrid?: number; after?: number; prioAbove?: number } = {}): Pkt[] {
    return this.pkts.filter((p) => p.kind === kind && (f.src === undefined || p.src === f.src) && (f.srcMac === undefined || p.srcMac === f.srcMac) && (f.vrid === undefined || p.vrid === f.vrid)
      && (f.after === undefined || p.t >= f.after) && (f.prioAbove === undefined || (p.prio ?? 0) > f.prioAbove));
  }

  async stop(): Promise<void> {
    if (this.proc.pid && this.proc.exitCode === null) {
      const done = new Promise((r) => this.proc.once('exit', r));
      process.kill(this.proc.pid, 'SIGINT');
      await Promise.race([done, new Promise((r) => setTimeout(r, 3000))]);
    }
  }
}
