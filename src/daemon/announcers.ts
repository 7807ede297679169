/**
 * The daemon's announcers: one per interface (src/daemon/announcer.ts) with its send-only
 * packet socket, and the pacers that space their frames (src/daemon/pacer.ts): one per
 * `garp_group` (shared by its interfaces), else one per interface when the global
 * vrrp_garp_interval / vrrp_gna_interval is set, as keepalived 2.2.7 does.
 */
import type { Logger } from 'pino';
import type { DaemonConfig } from '../config/model.js';
import type { Interface } from '../os/iface.js';
import { PacketSocket } from '../os/packet-socket.js';
import { Announcer } from './announcer.js';
import { Pacer } from './pacer.js';

export class Announcers {
  /** Per interface: its announcer and the send-only packet socket it sends on. */
  private readonly byIface = new Map<string, { a: Announcer; sock: PacketSocket }>();
  /** Pacer of each interface that has one. */
  private pacers = new Map<string, Pacer>();

  constructor(
    private config: DaemonConfig,
    private readonly log: Logger,
  ) {}

  /** The announcer of `iface` (made on first use). */
  of(iface: Interface): Announcer {
    const known = this.byIface.get(iface.name);
    if (known) return known.a;
    const sock = new PacketSocket(iface.index);
    // owners: a runner (MASTER bursts) or { owner: runner } (its re-announcements)
    const a = new Announcer(sock, iface.mac, iface.name, (e, owner) => {
      const o = (owner as { owner?: { model: { name: string } } }).owner ?? (owner as { model: { name: string } });
      this.log.warn({ err: e.message, instance: o.model.name }, 'announce send failed');
    });
    a.setPacer(this.pacerOf(iface.name));
    this.byIface.set(iface.name, { a, sock });
    return a;
  }

  /** A reload: pacers as the new configuration says (frames still queued in the old ones are dropped). */
  reconfigure(config: DaemonConfig): void {
    const before = JSON.stringify([this.config.garpGroups, this.config.global.garpIntervalS, this.config.global.gnaIntervalS]);
    this.config = config;
    if (JSON.stringify([config.garpGroups, config.global.garpIntervalS, config.global.gnaIntervalS]) === before) return;
    for (const p of new Set(this.pacers.values())) p.close();
    this.pacers = new Map();
    for (const [name, { a }] of this.byIface) a.setPacer(this.pacerOf(name));
  }

  private pacerOf(ifname: string): Pacer | null {
    let p = this.pacers.get(ifname);
    if (p) return p;
    const ms = (s: number | null): number => Math.round((s ?? 0) * 1000);
    const group = this.config.garpGroups.find((g) => g.interfaces.includes(ifname));
    if (group) {
      // the group's one pacer serves every interface of it
      p = [...this.pacers.entries()].find(([n]) => group.interfaces.includes(n))?.[1] ?? new Pacer(ms(group.garpIntervalS), ms(group.gnaIntervalS));
    } else {
      const g = this.config.global;
      if (!g.garpIntervalS && !g.gnaIntervalS) return null;
      p = new Pacer(ms(g.garpIntervalS), ms(g.gnaIntervalS));
    }
    this.pacers.set(ifname, p);
    return p;
  }

  close(): void {
    for (const { a, sock } of this.byIface.values()) {
      a.close();
      sock.close();
    }
    for (const p of new Set(this.pacers.values())) p.close();
    this.byIface.clear();
    this.pacers.clear();
  }
}
