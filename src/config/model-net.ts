/**
 * Model of the kernel objects a master (or the host, for static_*) holds besides the VRRP
 * addresses' basics: keepalived 2.2.7's virtual_ipaddress options, virtual_routes and
 * virtual_rules (ip-route(8)/ip-rule(8) syntax, as keepalived 2.2.7 reads it; field names in
 * keepalived's terms). Written by src/config/kw-net*.ts; JSON-ready (no Map, no bigint).
 */
import type { Family } from '../protocol/addr.js';
import type { Pos } from './lexer.js';

/**
 * Address flags of a virtual_ipaddress line, as written. keepalived 2.2.7 sets the IFA_F_*
 * flag of the same name, except `-nodad`: keepalived adds every IPv6 address with
 * IFA_F_NODAD, and `-nodad` is what turns duplicate address detection back on.
 */
export type VipFlag = 'home' | '-nodad' | 'mngtmpaddr' | 'noprefixroute' | 'autojoin';

/** One line of virtual_ipaddress, virtual_ipaddress_excluded or static_ipaddress. */
export interface VipConfig {
  /** Canonical text (RFC 5952 for IPv6). */
  address: string;
  family: Family;
  /** Prefix length; keepalived's default /32 or /128, and /32 or /128 with `peer`. */
  prefixLen: number;
  /** Interface carrying the address; null = the instance's interface (static: global default_interface). */
  dev: string | null;
  /** IPv4 only, at most 15 bytes; keepalived does not require the `DEV:` prefix and neither does the kernel. */
  label: string | null;
  /** `brd ADDR|+|-` (IPv4), `+`/`-` resolved; null: none given (keepalived then sets none either). */
  broadcast: string | null;
  /** `scope SCOPE` as a number (RT_SCOPE_*); 0 (global) by default and always for IPv6. */
  scope: number;
  /** `peer ADDR` (no prefix in keepalived 2.2.7: the address becomes /32 or /128). */
  peer: string | null;
  /** `no_track`: its loss does not put the instance in FAULT. */
  noTrack: boolean;
  /**
   * IPv6 preferred lifetime in seconds; null = forever. keepalived's default: 0 (deprecated,
   * so never chosen as a source address) for a /128, forever for other prefixes. IPv4: null
   * (keepalived ignores `preferred_lft` there).
   */
  preferredLft: number | null;
  /** Address flags as written (deduplicated, in order). */
  flags: VipFlag[];
  /** `use_vmac` (not in static_ipaddress): put the address on a VMAC interface. */
  useVmac: boolean;
  /** `track_group NAME` (static_ipaddress only). */
  trackGroup: string | null;
  pos?: Pos;
}

/** One gateway of a multipath route (`nexthop …`, or keepalived's old `via A or B`). */
export interface NextHop {
  /** Gateway, canonical; null: a device-only hop. */
  address: string | null;
  dev: string | null;
  /** `weight 1..256` as written (the kernel gets weight-1); null: not given. */
  weight: number | null;
  onlink: boolean;
  /** `realms FROM/TO` packed as keepalived does ((from << 16) | to); IPv4 only. */
  realms: number | null;
  /** `encap TYPE …` as its words. */
  encap: string | null;
}

/** A route as keepalived's virtual_routes/static_routes read it (ip-route(8) subset). */
export interface RouteModel {
  family: Family;
  /** Route type: `unicast` (default), `blackhole`, `unreachable`, `prohibit`, `throw`, `local`, … or a number as text. */
  type: string;
  /** Destination prefix, canonical (`0.0.0.0/0` / `::/0` for `default`). */
  dst: string;
  /** `src ADDR`: preferred source address (RTA_PREFSRC). */
  src: string | null;
  /** `from PREFIX`: source prefix of an IPv6 source-specific route (RTA_SRC). */
  from: string | null;
  /** `via ADDR` (or the deprecated `gw`): the gateway of a single-path route. */
  via: string | null;
  /** `nexthop …` groups, or the two gateways of `via A or B`. */
  nexthops: NextHop[];
  /** 'or': keepalived's deprecated `via A or B` (sent as a two-hop multipath route); 'nexthop': ECMP. */
  multipath: 'or' | 'nexthop' | null;
  /** `dev`/`oif`. */
  dev: string | null;
  /** Routing table number (main = 254, the default). */
  table: number;
  /** `vrf NAME`: keepalived then uses the VRF's table (resolved at run time). */
  vrf: string | null;
  /** `metric`/`priority`/`preference`. */
  metric: number | null;
  /** RT_SCOPE_* when given; null: keepalived sends global (0). */
  scope: number | null;
  /** RTPROT_*; keepalived forces 18 (keepalived) on a tracked route; null: not given and not tracked. */
  protocol: number | null;
  /** `tos`/`dsfield`. */
  tos: number | null;
  onlink: boolean;
  /** `no_track`, or keepalived's own "cannot track a route without dev". */
  noTrack: boolean;
  /** `track_group NAME` (static_routes only). */
  trackGroup: string | null;
  /** `add` (fail if it exists, as `ip route add`), `prepend` (keepalived's default), `append`. */
  mode: 'add' | 'prepend' | 'append';
  /** RTAX_* metrics: mtu, advmss, hoplimit, window, cwnd, ssthresh, reordering, initcwnd, initrwnd, quickack, fastopen_no_cookie; rtt/rttvar/rto_min in milliseconds. */
  metrics: Record<string, number>;
  /** Metrics given with `lock`. */
  locked: string[];
  /** The rest, as words: realms, expires, pref, features, congctl, ttl-propagate, encap. */
  options: Record<string, string>;
  pos?: Pos;
}

/** What a rule does (FR_ACT_*); `l3mdev` rules look up the l3mdev's table. */
export type RuleAction = 'table' | 'goto' | 'nop' | 'blackhole' | 'unreachable' | 'prohibit';

/** A policy-routing rule as keepalived's virtual_rules/static_rules read it (ip-rule(8) subset). */
export interface RuleModel {
  family: Family;
  /** `from PREFIX`, canonical (`all`/`any`/`default`: null, as no selector). */
  from: string | null;
  to: string | null;
  /** `table`/`lookup` (never 0). */
  table: number | null;
  /**
   * `priority`/`preference`/`order` (ip's `pref` is not accepted by keepalived 2.2.7); null:
   * not given — keepalived then numbers such rules itself from 16384 downwards per family, in
   * file order, and says so.
   */
  priority: number | null;
  /** `iif`/`dev`. */
  iif: string | null;
  oif: string | null;
  fwmark: { value: number; mask: number | null } | null;
  action: RuleAction;
  /** `goto N` target. */
  gotoTarget: number | null;
  l3mdev: boolean;
  /** `not`. */
  invert: boolean;
  tos: number | null;
  /** `realms FROM/TO` packed ((from << 16) | to). */
  realms: number | null;
  suppressPrefixLength: number | null;
  suppressIfgroup: number | null;
  /** `tunnel-id N` (u64, as decimal text). */
  tunnelId: string | null;
  uidRange: { start: number; end: number } | null;
  /** FRA_PROTOCOL; keepalived forces 18 (keepalived) on a tracked rule; null: not given and not tracked. */
  protocol: number | null;
  /** `ipproto NAME|0..127`. */
  ipProto: number | null;
  sport: { start: number; end: number } | null;
  dport: { start: number; end: number } | null;
  noTrack: boolean;
  /** `track_group NAME` (static_rules only). */
  trackGroup: string | null;
  pos?: Pos;
}
