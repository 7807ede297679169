/**
 * The sniffer's model: turn captured frames into one event per VRRP advert / ARP / NA and keep
 * a per-(family, VRID) view of who is master, from the packets alone. Pure (no I/O).
 */
import type { Family } from '../protocol/addr.js';
import { classifyFrame } from '../protocol/frame.js';
import { advertIntervalMs, type ChecksumMode, type DropReason } from '../protocol/vrrp.js';

export interface VrrpEvent {
  type: 'vrrp';
  time: number;
  srcMac: string | null;
  src: string;
  dst: string;
  ttl: number;
  version: number;
  vrid: number | null;
  priority: number | null;
  advertIntervalMs: number | null;
  addresses: string[];
  authType?: number;
  checksum: 'ok' | 'bad';
  checksumMode: ChecksumMode | null;
  valid: boolean;
  reason?: DropReason;
}
export interface ArpEvent {
  type: 'arp';
  time: number;
  op: number;
  senderMac: string;
  senderIp: string;
  targetMac: string;
  targetIp: string;
  gratuitous: boolean;
}
export interface NaEvent {
  type: 'na';
  time: number;
  srcMac: string | null;
  src: string;
  target: string;
  router: boolean;
  override: boolean;
  solicited: boolean;
  targetMac: string | null;
}
export type SniffEvent = VrrpEvent | ArpEvent | NaEvent;

export interface MasterView {
  family: Family;
  vrid: number;
  address: string;
  mac: string | null;
  priority: number;
  advertIntervalMs: number;
  addresses: string[];
  lastSeen: number;
}
export interface Summary {
  type: 'summary';
  masters: MasterView[];
  /** Groups whose last advert had priority 0 (the master resigned and nobody has taken over yet). */
  resigned: { family: Family; vrid: number; address: string; lastSeen: number }[];
  counts: { vrrp: number; invalid: number; arp: number; na: number; other: number };
}

export class SniffModel {
  private readonly last = new Map<string, MasterView>();
  private readonly counts = { vrrp: 0, invalid: 0, arp: 0, na: 0, other: 0 };

  /** Classify one frame; returns the event to print or null for frames of no interest. */
  onFrame(linktype: number, data: Uint8Array, time: number): SniffEvent | null {
    const c = classifyFrame(linktype, data);
    switch (c.kind) {
      case 'vrrp': {
        this.counts.vrrp++;
        const r = c.vrrp;
        const a = r.advert;
        const ev: VrrpEvent = {
          type: 'vrrp',
          time,
          srcMac: c.srcMac,
          src: c.src,
          dst: c.dst,
          ttl: c.ttl,
          version: c.rawVersion,
          vrid: a?.vrid ?? null,
          priority: a?.priority ?? null,
          advertIntervalMs: a ? advertIntervalMs(a) : null,
          addresses: a?.addresses ?? [],
          checksum: (r.valid || r.checksumMode) ? 'ok' : 'bad',
          checksumMode: r.checksumMode ?? null,
          valid: r.valid,
        };
        if (a && a.version === 2) ev.authType = a.authType ?? 0;
        if (!r.valid) {
          ev.reason = r.reason;
          this.counts.invalid++;
        } else if (a) {
          this.last.set(`${c.family}/${a.vrid}`, {
            family: c.family, vrid: a.vrid, address: c.src, mac: c.srcMac, priority: a.priority,
            advertIntervalMs: advertIntervalMs(a), addresses: a.addresses, lastSeen: time,
          });
        }
        return ev;
      }
      case 'arp':
        this.counts.arp++;
        return { type: 'arp', time, ...c.arp };
      case 'na':
        this.counts.na++;
        return { type: 'na', time, srcMac: c.srcMac, src: c.src, target: c.na.target, router: c.na.router, override: c.na.override, solicited: c.na.solicited, targetMac: c.na.targetMac };
      default:
        this.counts.other++;
        return null;
    }
  }

  /** Master per (family, VRID): the sender of the latest valid advert, unless it had priority 0. */
  summary(): Summary {
    const views = [...this.last.values()].sort((x, y) => x.family - y.family || x.vrid - y.vrid);
    return {
      type: 'summary',
      masters: views.filter((v) => v.priority > 0),
      resigned: views.filter((v) => v.priority === 0).map(({ family, vrid, address, lastSeen }) => ({ family, vrid, address, lastSeen })),
      counts: { ...this.counts },
    };
  }
}

function clock(t: number): string {
  const d = new Date(t * 1000);
  return `${d.toISOString().slice(11, 23)}${String(Math.round((t % 1) * 1e6) % 1000).padStart(3, '0')}`;
}

/** One human line per event. */
export function formatEvent(e: SniffEvent): string {
  const t = clock(e.time);
  if (e.type === 'arp') {
    const what = e.gratuitous ? 'GARP' : 'ARP';
    return `${t} ${what} ${e.op === 1 ? 'request' : e.op === 2 ? 'reply' : `op ${e.op}`} ${e.senderIp} is-at ${e.senderMac} (target ${e.targetIp} ${e.targetMac})`;
  }
  if (e.type === 'na') {
    const flags = `${e.router ? 'R' : '-'}${e.solicited ? 'S' : '-'}${e.override ? 'O' : '-'}`;
    return `${t} NA ${e.target} is-at ${e.targetMac ?? '?'} flags ${flags} from ${e.srcMac ?? '?'}`;
  }
  const head = `${t} VRRPv${e.version} ${e.src} > ${e.dst}`;
  const body = e.vrid === null
    ? ''
    : ` vrid ${e.vrid} prio ${e.priority} int ${e.advertIntervalMs}ms addrs [${e.addresses.join(' ')}]${e.authType !== undefined ? ` auth ${e.authType}` : ''}`;
  const ck = e.checksum === 'ok' ? `cksum ok (${e.checksumMode})` : 'cksum BAD';
  const verdict = e.valid ? '' : ` INVALID: ${e.reason}`;
  return `${head}${body} ttl ${e.ttl} ${ck} mac ${e.srcMac ?? '?'}${verdict}`;
}

export function formatSummary(s: Summary): string {
  const rows = [['FAMILY', 'VRID', 'MASTER', 'MAC', 'PRIO', 'INTERVAL', 'VIPS', 'LAST SEEN']];
  for (const m of s.masters) {
    rows.push([`IPv${m.family}`, String(m.vrid), m.address, m.mac ?? '?', String(m.priority), `${m.advertIntervalMs}ms`, m.addresses.join(',') || '-', new Date(m.lastSeen * 1000).toISOString()]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const lines = s.masters.length === 0 ? ['(no master seen)'] : rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd());
  for (const r of s.resigned) lines.push(`IPv${r.family} vrid ${r.vrid}: ${r.address} resigned (priority 0) at ${new Date(r.lastSeen * 1000).toISOString()}, no master since`);
  const c = s.counts;
  lines.push(`${c.vrrp} VRRP (${c.invalid} invalid), ${c.arp} ARP, ${c.na} NA, ${c.other} other`);
  return lines.join('\n');
}
