/**
 * The other routers an instance has heard, from their valid adverts: address, last priority,
 * when. `vipctl handover --to` chooses among them (a router that never advertised has an
 * unknown priority: VRRP backups are silent). Noting an advert from a known peer allocates
 * nothing (a byte compare over a handful of entries); a new peer is copied and formatted once.
 */
import { formatIP } from '../protocol/addr.js';

export interface Peer {
  /** The address as text (canonical). */
  address: string;
  /** The last priority above 0 it advertised (a resignation, priority 0, says nothing of what it would be as master); 0: only resignations heard. */
  priority: number;
  /** When (monotonic µs, the daemon's clock) its last advert arrived. */
  at: number;
}

export class PeerTable {
  private readonly keys: Uint8Array[] = [];
  private readonly peers: Peer[] = [];

  constructor(private readonly family: 4 | 6) {}

  /** An advert from `src` (bytes, not kept) with `priority` arrived at `at`. */
  note(src: Uint8Array, priority: number, at: number): void {
    for (let i = 0; i < this.keys.length; i++) {
      if (Buffer.compare(this.keys[i]!, src) === 0) {
        if (priority > 0) this.peers[i]!.priority = priority;
        this.peers[i]!.at = at;
        return;
      }
    }
    this.keys.push(Uint8Array.from(src));
    this.peers.push({ address: formatIP(this.family, src), priority, at });
  }

  /** Every peer heard, in the order first heard. */
  list(): readonly Peer[] {
    return this.peers;
  }

  get(address: string): Peer | undefined {
    return this.peers.find((p) => p.address === address);
  }
}
