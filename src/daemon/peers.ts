/**
 * The other routers an instance has heard, from their valid adverts: address, the priority it
 * took over with, when it was last heard. `vipctl handover --to` chooses among them (a router
 * that never advertised has an unknown priority: VRRP backups are silent).
 *
 * The priority kept is the first above 0 of each period in which the router advertises as
 * master (a period begins when the previous advert came from another router, or after more
 * than three of its intervals of silence): a master that hands over with `--to` advertises a
 * lower or higher priority at the end of its period, which says nothing of its own. A change
 * within a period (its trackers) shows at its next period.
 *
 * Noting an advert from a known peer allocates nothing (a byte compare over a handful of
 * entries); a new peer is copied and formatted once.
 */
import { formatIP } from '../protocol/addr.js';

export interface Peer {
  /** The address as text (canonical). */
  address: string;
  /** The priority it took over with in its last period as master (0: only resignations heard). */
  priority: number;
  /** When (monotonic µs, the daemon's clock) its last advert arrived. */
  at: number;
}

export class PeerTable {
  private readonly keys: Uint8Array[] = [];
  private readonly peers: Peer[] = [];
  /** The peer of the last advert (-1: none yet). */
  private last = -1;

  constructor(private readonly family: 4 | 6) {}

  /** An advert from `src` (bytes, not kept) with `priority` and `intervalUs` arrived at `at`. */
  note(src: Uint8Array, priority: number, at: number, intervalUs: number): void {
    for (let i = 0; i < this.keys.length; i++) {
      if (Buffer.compare(this.keys[i]!, src) !== 0) continue;
      const p = this.peers[i]!;
      const fresh = this.last !== i || at - p.at > 3 * intervalUs;
      if (priority > 0 && (fresh || p.priority === 0)) p.priority = priority;
      p.at = at;
      this.last = i;
      return;
    }
    this.keys.push(Uint8Array.from(src));
    this.peers.push({ address: formatIP(this.family, src), priority, at });
    this.last = this.peers.length - 1;
  }

  /** Every peer heard, in the order first heard. */
  list(): readonly Peer[] {
    return this.peers;
  }

  get(address: string): Peer | undefined {
    return this.peers.find((p) => p.address === address);
  }
}
