/**
 * Learns the source MAC of each master's adverts, for `vipctl status` on backups too (raw IP
 * sockets do not tell the link-layer source). A packet socket per interface with a BPF
 * filter that lets only VRRP frames through; it is open only until every instance on the
 * interface knows its master's MAC, and again after a master change or every
 * MAC_REFRESH_MS (a NIC swap keeps the address but changes the MAC), so that a backup does
 * not read each advert twice.
 */
import type { Logger } from 'pino';
import type { Interface } from '../os/iface.js';
import { vrrpFramesFilter } from '../os/linux.js';
import { PacketSocket } from '../os/packet-socket.js';
import { formatIP, formatMac } from '../protocol/addr.js';
import { parseIPPacket } from '../protocol/ip.js';
import type { DaemonEvent, InstanceRunner } from './runner.js';

const MAC_REFRESH_MS = 60_000;

export class MacLearner {
  /** Source MAC of the last advert seen from each address. */
  private readonly macs = new Map<string, string>();
  private readonly learners = new Map<string, PacketSocket>();
  private refresh: NodeJS.Timeout | null = null;

  constructor(
    /** The running instances (the daemon's map). */
    private readonly runners: ReadonlyMap<string, InstanceRunner>,
    private readonly ifaceOf: (name: string) => Interface | undefined,
    private readonly log: Logger,
  ) {}

  macOf(ip: string): string | null {
    return this.macs.get(ip) ?? null;
  }

  /** Start the periodic re-learning. */
  start(): void {
    this.refresh = setInterval(() => {
      for (const name of new Set([...this.runners.values()].map((r) => r.model.interface))) {
        const i = this.ifaceOf(name);
        if (i) this.learn(i);
      }
    }, MAC_REFRESH_MS);
    this.refresh.unref();
  }

  /** An event of an instance on `iface`: open the learner for an unknown master, close it when nothing waits. */
  onEvent(iface: Interface, e: DaemonEvent): void {
    if (e.type === 'master' && e.master && !this.macs.has(e.master)) this.learn(iface);
    // A learner that only waited for this instance (now master itself) is no longer needed.
    if (e.type === 'transition' && this.learners.has(iface.name) && this.known(iface.name)) this.stopLearning(iface.name);
  }

  private learn(iface: Interface): void {
    if (this.learners.has(iface.name) || this.known(iface.name)) return;
    const sock = new PacketSocket(iface.index, true, vrrpFramesFilter(), true);
    sock.on('frame', (f) => {
      if (f.outgoing || f.data.length < 34) return;
      const ip = parseIPPacket(f.data.subarray(14));
      if (!ip) return;
      this.macs.set(formatIP(ip.family, ip.header.src), formatMac(f.data, 6));
      if (this.known(iface.name)) this.stopLearning(iface.name);
    });
    sock.on('error', (e) => this.log.warn({ err: e.message }, 'MAC learner socket error'));
    this.learners.set(iface.name, sock);
  }

  private known(ifname: string): boolean {
    for (const r of this.runners.values()) {
      if (r.model.interface !== ifname) continue;
      const m = r.masterText();
      if (!r.core.master?.self && (!m || !this.macs.has(m))) return false;
    }
    return true;
  }

  private stopLearning(ifname: string): void {
    this.learners.get(ifname)?.close();
    this.learners.delete(ifname);
  }

  close(): void {
    for (const l of this.learners.values()) l.close();
    this.learners.clear();
    if (this.refresh) clearInterval(this.refresh);
  }
}
