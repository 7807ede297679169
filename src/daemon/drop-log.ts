/**
 * Warnings for adverts an operator can do something about: a peer speaking another VRRP
 * version, with another password, another advert_int (VRRPv2) or other VIPs for the same
 * VRID, or a TTL that says the advert crossed a router. Each is counted by the runner; this
 * logs it at warn, at most once a minute per (peer, reason), with how many came meanwhile.
 * Malformed packets (truncated, bad type, ...) are counted only: nothing to configure.
 */
import type { Logger } from 'pino';
import type { DropReason, VrrpAdvert } from '../protocol/vrrp.js';
import { intervalFieldToUs } from '../core/timers.js';

/** What the operator is told for each reason worth telling (keepalived logs the same cases). */
export type Told = DropReason | 'addresses-differ';

const EVERY_MS = 60_000;
/** Bound on remembered (peer, reason) pairs: a flood of forged sources cannot grow it. */
const MAX_KEYS = 1024;

export interface DropContext {
  instance: string;
  vrid: number;
  version: 2 | 3;
  /** Own advert interval, microseconds. */
  intervalUs: number;
  vips: readonly string[];
}

/** The reasons worth telling (advice() has words for them); the others are only counted. */
const TOLD: ReadonlySet<Told> = new Set<Told>(['version-mismatch', 'auth-mismatch', 'interval-mismatch', 'addresses-mismatch', 'addr-count-mismatch', 'addresses-differ', 'bad-ttl', 'ttl-out-of-range', 'bad-checksum']);

export class DropLog {
  /** Per reason, per peer: when it was last told and how many came since. */
  private readonly last = new Map<Told, Map<string, { at: number; since: number }>>();
  private peers = 0;

  constructor(
    private readonly log: Logger,
    private readonly ctx: DropContext,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Count and maybe log one advert from `peer`; `advert` is the best-effort decode. Returns
   * whether it logged. A flood of bad packets costs a lookup each: the text is made only
   * when it is logged.
   */
  note(reason: Told, peer: string, advert: VrrpAdvert | undefined, ttl: number): boolean {
    if (!TOLD.has(reason)) return false;
    let byPeer = this.last.get(reason);
    if (!byPeer) this.last.set(reason, (byPeer = new Map()));
    const now = this.now();
    const l = byPeer.get(peer);
    if (l && now - l.at < EVERY_MS) {
      l.since++;
      return false;
    }
    if (!l && ++this.peers > MAX_KEYS) {
      this.last.clear();
      this.peers = 1;
      this.last.set(reason, (byPeer = new Map()));
    }
    const suppressed = l?.since ?? 0;
    byPeer.set(peer, { at: now, since: 0 });
    this.log.warn({ instance: this.ctx.instance, peer, reason, ...(suppressed ? { suppressed } : {}) }, `(${this.ctx.instance}) ${advice(reason, peer, advert, ttl, this.ctx)!}`);
    return true;
  }
}

/** One line that says what is wrong and what to do, or null for reasons with nothing to configure. */
export function advice(reason: Told, peer: string, a: VrrpAdvert | undefined, ttl: number, c: DropContext): string | null {
  const same = `every router of VRID ${c.vrid} needs the same`;
  switch (reason) {
    case 'version-mismatch':
      return `advert from ${peer} is VRRPv${a?.version ?? '?'}, this instance speaks VRRPv${c.version}: ${same} vrrp_version (keepalived's default is 2)`;
    case 'auth-mismatch':
      return `advert from ${peer} has other authentication: ${same} auth_type and auth_pass (only the first 8 characters count)`;
    case 'interval-mismatch':
      return `advert from ${peer} says advert_int ${a ? intervalFieldToUs(2, a.interval) / 1e6 : '?'} s, this instance ${c.intervalUs / 1e6} s: VRRPv2 needs the same advert_int on every router of VRID ${c.vrid}`;
    case 'addresses-mismatch':
    case 'addr-count-mismatch':
    case 'addresses-differ':
      return `advert from ${peer} lists other addresses (${a ? a.addresses.join(' ') || 'none' : '?'}) than this instance (${c.vips.join(' ')}): ${same} virtual_ipaddress${reason === 'addresses-differ' ? ' (accepted: VRRPv3 only warns)' : ''}`;
    case 'bad-ttl':
      return `advert from ${peer} arrived with TTL/hop limit ${ttl}, not 255: it crossed a router (RFC 9568 7.1); VRRP peers must share the link`;
    case 'ttl-out-of-range':
      return `advert from ${peer} arrived with TTL/hop limit ${ttl}, outside this peer's min_ttl..max_ttl (unicast_peer): dropped, as keepalived drops it`;
    case 'bad-checksum':
      return `advert from ${peer} has a checksum that matches no known way of computing it: a peer with old_unicast_checksum, or corruption`;
    default:
      return null;
  }
}
