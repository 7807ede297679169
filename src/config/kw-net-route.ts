/**
 * Lines of virtual_routes and static_routes, as keepalived 2.2.7 reads them (vrrp_iproute.c
 * alloc_route, parse_nexthops, parse_encap; vrrp_ip_rule_route_parser.c). Pure.
 *
 * keepalived 2.2.7 drops a route on most bad words ("unknown route keyword", "Cannot mix IPv4
 * and IPv6"); vipd refuses the file at that word. It also logs some words and carries on
 * ("gw"/"or" deprecated, "cannot track route … with no interface"): vipd warns. Where it logs a
 * bad value and keeps the route with something else, vipd refuses (the route would not be the
 * one written). A missing value at the end of a line makes keepalived 2.2.7 stop reading the
 * whole configuration.
 */
import { formatIP, type Family } from '../protocol/addr.js';
import { DEFAULT_RT_NAMES, lookupName, MAX, namesList, type RtNames } from './kw-net-names.js';
import { hostBits, ifName, LineReader, network, parsePrefix, plainAddr, prefixText, type Word } from './kw-net-words.js';
import type { NextHop, RouteModel } from './model-net.js';
import type { Builder } from './spec.js';
import type { Statement } from './tree.js';

const DROP = 'keepalived 2.2.7 drops the route';
const U32 = 0xffffffff;
export const RTPROT_KEEPALIVED = 18;

/** Route types (rtnetlink RTN_*), as keepalived's find_rttables_rtntype names them. */
const TYPES: Record<string, number> = {
  unicast: 1, local: 2, broadcast: 3, brd: 3, anycast: 4, multicast: 5, blackhole: 6, unreachable: 7, prohibit: 8, throw: 9, nat: 10, xresolve: 11,
};
const TYPE_NAMES = ['unicast', 'local', 'broadcast', 'anycast', 'multicast', 'blackhole', 'unreachable', 'prohibit', 'throw', 'nat', 'xresolve'];

const LOCKABLE_U32 = ['mtu', 'advmss', 'reordering', 'cwnd', 'ssthresh'];
const PLAIN_U32 = ['window', 'initcwnd', 'initrwnd'];
/** Time metrics and keepalived's kernel units per millisecond (rtt 1/8 ms, rttvar 1/4 ms, rto_min 1 ms). */
const TIMES: Record<string, number> = { rtt: 8, rttvar: 4, rto_min: 1 };
const KEYWORDS = [
  'inet', 'inet6', 'src', 'as', 'via', 'gw', 'from', 'tos', 'dsfield', 'table', 'protocol', 'scope', 'metric', 'priority', 'preference', 'dev', 'oif', 'onlink',
  'encap', 'expires', 'hoplimit', 'realms', 'features', 'quickack', 'congctl', 'pref', 'ttl-propagate', 'fastopen_no_cookie', 'add', 'prepend', 'append', 'or',
  'nexthop', 'no_track', 'track_group', 'vrf', 'to', 'default', ...LOCKABLE_U32, ...PLAIN_U32, ...Object.keys(TIMES), ...TYPE_NAMES,
];

/**
 * One line of virtual_routes / static_routes:
 * `[src ADDR] [from PREFIX] [to|TYPE] DEST[/LEN]|default [via|gw [inet|inet6] ADDR [or ADDR]]
 * [dev|oif IF] [table N|NAME] [vrf NAME] [metric|priority|preference N] [scope S] [protocol P]
 * [tos|dsfield T] [onlink] [mtu|advmss|reordering|cwnd|ssthresh [lock] N] [rtt|rttvar|rto_min
 * [lock] TIME] [hoplimit|window|initcwnd|initrwnd N] [realms R[/R]] [expires N] [pref P]
 * [features ecn] [quickack 0|1] [fastopen_no_cookie 0|1] [congctl [lock] NAME] [ttl-propagate
 * enabled|disabled] [encap …] [add|prepend|append] [no_track] [track_group G] [nexthop …]…`.
 * TYPE: unicast, blackhole, unreachable, prohibit, throw, local, broadcast, anycast, multicast,
 * nat, xresolve or 0..255. Defaults as keepalived 2.2.7: IPv4 unless an address says
 * otherwise, table main (254), prepend, tracked with protocol 18 when it has a `dev`.
 * `where` names the block (`static_routes` allows `track_group`); `names` gives the table,
 * protocol, scope, DS field and realm names (keepalived's built-ins unless the caller read
 * /etc/iproute2: see kw-net-names.ts). Null after reporting an error through `b`.
 */
export function parseRoute(b: Builder, st: Statement, where = 'virtual_routes', names: RtNames = DEFAULT_RT_NAMES): RouteModel | null {
  return LineReader.run(() => new LineReader(b, st, where), (r) => readRoute(r, names));
}

/** A whole virtual_routes / static_routes block (empty allowed). */
export function parseRouteBlock(b: Builder, st: Statement, names: RtNames = DEFAULT_RT_NAMES): RouteModel[] {
  if (st.args.length) b.err(st.args[0]!.pos, `'${st.keyword}' takes a { block } of routes, not arguments on its line`);
  const out: RouteModel[] = [];
  for (const line of b.block(st)) {
    const v = parseRoute(b, line, st.keyword, names);
    if (v) out.push(v);
  }
  return out;
}

/** The family of a line being read: set by the first word that tells, then checked. */
export class FamilyOf {
  f: Family | null = null;
  constructor(
    private readonly r: LineReader,
    private readonly what: string,
  ) {}
  set(f: Family, w: Word, consequence: string): void {
    if (this.f === null) this.f = f;
    else if (this.f !== f) this.r.fail(w.pos, `${this.r.where}: '${w.text}' is IPv${f} in an IPv${this.f} ${this.what} (${consequence})`);
  }
  /** `inet`/`inet6`: keepalived 2.2.7 also skips the word after it (its index moves twice). */
  keyword(w: Word, consequence: string): void {
    this.set(w.text === 'inet6' ? 6 : 4, w, consequence);
    const lost = this.r.peek();
    if (lost) {
      this.r.fail(lost.pos, `${this.r.where}: keepalived 2.2.7 skips the word after '${w.text}', so '${lost.text}' would be lost; leave '${w.text}' out (the addresses give the family; '::/0' is the IPv6 default) or put it last`);
    }
  }
}

function readRoute(r: LineReader, names: RtNames): RouteModel {
  const fam = new FamilyOf(r, 'route');
  const rt: RouteModel = {
    family: 4, type: 'unicast', dst: '', src: null, from: null, via: null, nexthops: [], multipath: null, dev: null, table: 254, vrf: null, metric: null,
    scope: null, protocol: null, tos: null, onlink: false, noTrack: false, trackGroup: null, mode: 'prepend', metrics: {}, locked: [], options: {}, pos: r.words[0]!.pos,
  };
  const isStatic = r.where.startsWith('static');
  let dst: { p: ReturnType<typeof parsePrefix>; w: Word } | null = null;
  const seen = new Map<string, Word>();
  const once = (w: Word, key = w.text): void => {
    if (seen.has(key)) r.warn(w.pos, `${r.where}: '${w.text}' given twice; the last one counts, as in keepalived 2.2.7`);
    seen.set(key, w);
  };
  const named = (o: Word, map: Map<string, number>, max: number, what: string): number => {
    const v = r.value(o);
    const n = lookupName(v.text, map, max);
    if (n === null) r.fail(v.pos, `${r.where}: unknown ${what} '${v.text}' (${namesList(map, max)}; ${DROP})`);
    return n;
  };
  while (!r.done()) {
    const w = r.next();
    const k = w.text;
    if (k === 'inet' || k === 'inet6') fam.keyword(w, DROP);
    else if (k === 'src') {
      once(w);
      const a = plainAddr(r, w, r.value(w), DROP);
      fam.set(a.family, w, DROP);
      rt.src = a.text;
    } else if (k === 'as') {
      const v = r.value(w);
      if (v.text === 'to') r.value(v);
      r.fail(w.pos, `${r.where}: 'as [to]' (NAT/MPLS) is not supported for routes by keepalived 2.2.7 (it logs it and ignores it)`);
    } else if (k === 'via' || k === 'gw') {
      once(w, 'via');
      if (k === 'gw') r.warn(w.pos, `${r.where}: 'gw' is deprecated in keepalived 2.2.7; write 'via'`);
      rt.via = gateway(r, w, fam);
    } else if (k === 'from') {
      once(w);
      const v = r.value(w);
      const p = parsePrefix(r, v, 'source prefix', true, DROP);
      if (p.family !== 6) r.fail(v.pos, `${r.where}: 'from' (a source prefix) is for IPv6 routes only (${DROP}); for IPv4 use a rule, or 'src' for the preferred source address`);
      fam.set(6, v, DROP);
      rt.from = prefixText(p, 6);
    } else if (k === 'tos' || k === 'dsfield') rt.tos = named(w, names.dsfield, MAX.dsfield, 'DS field');
    else if (k === 'table') {
      once(w);
      rt.table = named(w, names.tables, MAX.tables, 'routing table');
    } else if (k === 'protocol') {
      once(w);
      rt.protocol = named(w, names.protos, MAX.protos, 'route protocol');
    }
    else if (k === 'scope') rt.scope = named(w, names.scopes, MAX.scopes, 'scope');
    else if (k === 'metric' || k === 'priority' || k === 'preference') {
      once(w, 'metric');
      rt.metric = r.decimal(w, r.value(w), 0, U32, DROP);
    } else if (k === 'dev' || k === 'oif') {
      once(w, 'dev');
      rt.dev = ifName(r, w, r.value(w), DROP);
    } else if (k === 'onlink') rt.onlink = true;
    else if (k === 'encap') rt.options.encap = encap(r, w, names);
    else if (k === 'expires') {
      if (fam.f === 4) r.fail(w.pos, `${r.where}: 'expires' is for IPv6 routes only (${DROP})`);
      fam.f = 6;
      rt.options.expires = String(r.decimal(w, r.value(w), 0, U32, DROP));
    } else if (LOCKABLE_U32.includes(k) || PLAIN_U32.includes(k) || k === 'hoplimit') {
      let v = r.value(w);
      if (v.text === 'lock' && LOCKABLE_U32.includes(k)) {
        rt.locked.push(k);
        v = r.value(v);
      }
      rt.metrics[k] = r.decimal(w, v, 0, k === 'hoplimit' ? 255 : U32, DROP);
    } else if (k in TIMES) {
      let v = r.value(w);
      if (v.text === 'lock') {
        rt.locked.push(k);
        v = r.value(v);
      }
      rt.metrics[k] = rttUnits(r, w, v, TIMES[k]!);
    } else if (k === 'realms') {
      if (fam.f === 6) r.fail(w.pos, `${r.where}: 'realms' is for IPv4 routes only (${DROP})`);
      fam.f = 4;
      rt.options.realms = String(realms(r, w, names));
    } else if (k === 'features') {
      const v = r.value(w);
      if (v.text !== 'ecn') r.fail(v.pos, `${r.where}: the only route feature is 'ecn', got '${v.text}' (keepalived 2.2.7 logs it and ignores it)`);
      rt.options.features = 'ecn';
    } else if (k === 'quickack' || k === 'fastopen_no_cookie') rt.metrics[k] = r.decimal(w, r.value(w), 0, 1, DROP);
    else if (k === 'congctl') {
      let v = r.value(w);
      if (v.text === 'lock') {
        rt.locked.push(k);
        v = r.value(v);
      }
      rt.options.congctl = v.text;
    } else if (k === 'pref') {
      if (fam.f === 4) r.fail(w.pos, `${r.where}: 'pref' (router preference) is for IPv6 routes only (${DROP})`);
      fam.f = 6;
      const v = r.value(w);
      rt.options.pref = ['low', 'medium', 'high'].includes(v.text) ? v.text : String(r.decimal(w, v, 0, 255, DROP));
    } else if (k === 'ttl-propagate') {
      const v = r.value(w);
      if (v.text !== 'enabled' && v.text !== 'disabled') r.fail(v.pos, `${r.where}: 'ttl-propagate' takes 'enabled' or 'disabled', got '${v.text}' (keepalived 2.2.7 logs it and sends 'disabled')`);
      rt.options['ttl-propagate'] = v.text;
    } else if (k === 'add' || k === 'prepend' || k === 'append') rt.mode = k;
    else if (k === 'or') orHop(r, w, rt, fam);
    else if (k === 'nexthop') {
      if (rt.multipath === 'or') r.fail(w.pos, `${r.where}: 'nexthop' after 'or' (${DROP})`);
      r.i--;
      nexthops(r, rt, fam, names);
    } else if (k === 'no_track') rt.noTrack = true;
    else if (k === 'track_group' && isStatic) {
      if (rt.trackGroup !== null) r.fail(w.pos, `${r.where}: 'track_group' given twice (${DROP})`);
      rt.trackGroup = r.value(w).text;
      r.warn(w.pos, `${r.where}: 'track_group' is read but not acted on: keepalived 2.2.7 adds or removes the route as the track group's instances' tracking goes; vipd adds it at start and leaves it`);
    } else if (k === 'track_group') r.fail(w.pos, `${r.where}: 'track_group' is for static_routes only (${DROP})`);
    else if (k === 'vrf') {
      once(w);
      rt.vrf = ifName(r, w, r.value(w), 'keepalived 2.2.7 drops the route unless it names a VRF interface');
    } else {
      // [to] [TYPE] DEST
      let d = w;
      if (k === 'to') d = r.value(w, 'a destination');
      else if (k in TYPES || /^(0|[1-9]\d{0,2}|0[xX][0-9a-fA-F]{1,2})$/.test(k)) {
        const n = TYPES[k] ?? Number(k);
        if (n > 255) r.unknown(w, KEYWORDS, DROP);
        rt.type = k in TYPES ? (k === 'brd' ? 'broadcast' : k) : String(n);
        d = r.value(w, 'a destination');
      }
      if (!/[\d:]/.test(d.text) && !['default', 'any', 'all', 'default6'].includes(d.text)) {
        if (d === w) r.unknown(d, KEYWORDS, DROP);
        r.fail(d.pos, `${r.where}: '${d.text}' is not a destination after '${w.text}' (${DROP})`);
      }
      const p = parsePrefix(r, d, 'destination', true, DROP);
      if (dst) r.fail(d.pos, `${r.where}: a second destination '${d.text}' (the first is '${dst.w.text}'; keepalived 2.2.7 silently keeps the last one)`);
      if (p.family !== null) fam.set(p.family, d, DROP);
      dst = { p, w: d };
    }
  }
  if (!dst) r.fail(r.words[0]!.pos, `${r.where}: the route has no destination (${DROP})`);
  rt.family = fam.f ?? 4;
  if (rt.family === 4 && dst.p.bytes && hostBits(dst.p.bytes, dst.p.len)) {
    r.fail(dst.w.pos, `${r.where}: '${dst.w.text}' has host bits set: the kernel refuses such an IPv4 route (keepalived 2.2.7 fails when it adds it); write ${formatIP(4, network(dst.p.bytes, dst.p.len))}/${dst.p.len}`);
  }
  rt.dst = prefixText(dst.p, rt.family);
  for (const h of rt.nexthops) {
    if (h.address && (h.address.includes(':') ? 6 : 4) !== rt.family) r.fail(r.words[0]!.pos, `${r.where}: next hop ${h.address} is not of the route's family (the kernel refuses it)`);
  }
  if (!rt.noTrack) {
    if (rt.protocol !== null && rt.protocol !== RTPROT_KEEPALIVED) {
      const pw = seen.get('protocol')!;
      r.fail(pw.pos, `${r.where}: 'protocol ${r.words[r.words.indexOf(pw) + 1]!.text}' on a tracked route: keepalived 2.2.7 replaces it by ${RTPROT_KEEPALIVED} (keepalived); add 'no_track' to keep it`);
    }
    rt.protocol = RTPROT_KEEPALIVED;
    if (!rt.dev) {
      const effect = isStatic ? 'it will not put it back if it is removed' : 'its removal will not put the instance in FAULT';
      r.warn(dst.w.pos, `${r.where}: keepalived 2.2.7 cannot track a route without 'dev' and does not (as with no_track): ${effect}`);
      rt.noTrack = true;
    }
  }
  if (rt.trackGroup !== null && !rt.dev) r.fail(r.words[0]!.pos, `${r.where}: 'track_group' needs 'dev' (keepalived 2.2.7 ignores the track group)`);
  return rt;
}

/** `via [inet|inet6] ADDR`: the gateway. */
function gateway(r: LineReader, w: Word, fam: FamilyOf): string {
  let v = r.value(w);
  if (v.text === 'inet' || v.text === 'inet6') {
    fam.set(v.text === 'inet6' ? 6 : 4, v, DROP);
    v = r.value(v);
  }
  const a = plainAddr(r, w, v, DROP);
  fam.set(a.family, v, DROP);
  return a.text;
}

/** keepalived's deprecated `via A or B`: a two-hop multipath route. */
function orHop(r: LineReader, w: Word, rt: RouteModel, fam: FamilyOf): void {
  r.warn(w.pos, `${r.where}: 'or' is deprecated in keepalived 2.2.7 (it sends 'nexthop via A nexthop via B'); write that`);
  if (rt.multipath === 'or') r.fail(w.pos, `${r.where}: 'or' given twice (keepalived 2.2.7 ignores the second)`);
  if (rt.via === null) r.fail(w.pos, `${r.where}: 'or' needs 'via ADDR' before it (keepalived 2.2.7 would make a next hop without gateway)`);
  const v = r.value(w);
  const a = plainAddr(r, w, v, DROP);
  if (fam.f !== null && a.family !== fam.f) r.fail(v.pos, `${r.where}: 'or ${v.text}' is not of the route's family (the kernel refuses it)`);
  const hop = (address: string): NextHop => ({ address, dev: null, weight: null, onlink: false, realms: null, encap: null });
  rt.nexthops = [hop(rt.via), hop(a.text)];
  rt.via = null;
  rt.multipath = 'or';
}

/** `nexthop [via [inet|inet6] ADDR] [dev IF] [weight 1..256] [onlink] [realms R] [encap …]`, to the end of the line. */
function nexthops(r: LineReader, rt: RouteModel, fam: FamilyOf, names: RtNames): void {
  rt.multipath = 'nexthop';
  while (r.peek()?.text === 'nexthop') {
    const start = r.next();
    const h: NextHop = { address: null, dev: null, weight: null, onlink: false, realms: null, encap: null };
    for (let w = r.peek(); w && w.text !== 'nexthop'; w = r.peek()) {
      r.next();
      if (w.text === 'via') h.address = gateway(r, w, fam);
      else if (w.text === 'dev') h.dev = ifName(r, w, r.value(w), DROP);
      else if (w.text === 'weight') h.weight = r.decimal(w, r.value(w), 1, 256, DROP);
      else if (w.text === 'onlink') h.onlink = true;
      else if (w.text === 'encap') h.encap = encap(r, w, names);
      else if (w.text === 'realms') {
        if (fam.f === 6) r.fail(w.pos, `${r.where}: 'realms' is for IPv4 routes only (${DROP})`);
        fam.f = 4;
        h.realms = realms(r, w, names);
      } else if (w.text === 'as') r.fail(w.pos, `${r.where}: 'as [to]' (NAT) is not supported by keepalived 2.2.7 (it drops the next hop)`);
      else r.unknown(w, ['nexthop', 'via', 'dev', 'weight', 'onlink', 'encap', 'realms'], 'only next hop options may follow \'nexthop\'; keepalived 2.2.7 logs "trailing nonsense" and drops the next hop');
    }
    if (h.address === null && h.dev === null) r.fail(start.pos, `${r.where}: an empty 'nexthop' (give 'via ADDR' or 'dev IF')`);
    rt.nexthops.push(h);
  }
}

/** `realms [FROM/]TO`: names of rt_realms or 0..255, packed as keepalived does ((FROM << 16) | TO). */
export function realms(r: LineReader, w: Word, names: RtNames, consequence = DROP): number {
  const v = r.value(w);
  const parts = v.text.split('/');
  const ids = parts.map((p) => lookupName(p, names.realms, MAX.realms));
  if (parts.length > 2 || ids.some((x) => x === null)) r.fail(v.pos, `${r.where}: invalid realms '${v.text}' (REALM or FROM/TO, each ${namesList(names.realms, MAX.realms)}; ${consequence})`);
  return ids.length === 2 ? ((ids[0]! << 16) | ids[1]!) >>> 0 : ids[0]!;
}

/**
 * rtt/rttvar/rto_min as keepalived's get_time_rtt reads them: `Ns`, `N.NNNs`, `Nms` (also
 * `sec`/`secs`), or a bare number already in the kernel's units; returned in the kernel's
 * units (`perMs` of them per millisecond), brought into 200 ms..120 s as keepalived does.
 */
function rttUnits(r: LineReader, opt: Word, v: Word, perMs: number): number {
  const m = /^(\d+(?:\.\d{1,3})?)(m?)(s|sec|secs)$/i.exec(v.text);
  let units: number | null = null;
  if (m && !(m[2] && m[1]!.includes('.'))) units = Math.round(Number(m[1]) * (m[2] ? 1 : 1000)) * perMs;
  else if (/^\d+$/.test(v.text)) units = Number(v.text);
  if (units === null || (m ? units / perMs : units) > 120000 * perMs) {
    r.fail(v.pos, `${r.where}: invalid '${opt.text}' value '${v.text}' (Ns, N.NNNs, Nms or kernel units, at most 120 s; ${DROP})`);
  }
  const clamped = Math.min(Math.max(units, 200 * perMs), 120000 * perMs);
  if (clamped !== units) r.warn(v.pos, `${r.where}: '${opt.text} ${v.text}' is outside 200 ms..120 s; keepalived 2.2.7 uses ${clamped / perMs} ms`);
  return clamped;
}

/** `encap ip|ip6 …`, `encap mpls LABEL[/LABEL…]`, `encap ila LOCATOR`: checked, kept as words. */
function encap(r: LineReader, w: Word, names: RtNames): string {
  const t = r.value(w, 'an encapsulation type');
  const words = [t.text];
  const bad = (x: Word, what: string): never => r.fail(x.pos, `${r.where}: invalid ${what} '${x.text}' in 'encap ${t.text}' (keepalived 2.2.7 logs it)`);
  if (t.text === 'ip' || t.text === 'ip6') {
    const f: Family = t.text === 'ip' ? 4 : 6;
    const keys = f === 4 ? ['id', 'dst', 'src', 'tos', 'ttl', 'flags'] : ['id', 'dst', 'src', 'tc', 'hoplimit', 'flags'];
    let have = false;
    while (keys.includes(r.peek()?.text ?? '') && r.i + 1 < r.words.length) {
      const k = r.next();
      const v = r.next();
      if (k.text === 'id') {
        if (!/^\d+$/.test(v.text) || BigInt(v.text) > 0xffffffffffffffffn) bad(v, 'id');
        have = true;
      } else if (k.text === 'dst' || k.text === 'src') {
        const a = plainAddr(r, k, v, 'keepalived 2.2.7 logs it');
        if (a.family !== f) bad(v, `IPv${a.family} ${k.text}`);
        if (k.text === 'dst') have = true;
      } else if (k.text === 'tos' || k.text === 'tc') {
        if (lookupName(v.text, names.dsfield, MAX.dsfield) === null) bad(v, k.text);
      } else r.decimal(k, v, 0, k.text === 'flags' ? 0xffff : 255, 'keepalived 2.2.7 logs it');
      words.push(k.text, v.text);
    }
    if (!have) r.fail(t.pos, `${r.where}: 'encap ${t.text}' needs 'dst ADDR' or 'id N' (keepalived 2.2.7 logs it)`);
  } else if (t.text === 'mpls') {
    const v = r.value(t, 'MPLS labels');
    const labels = v.text.split('/');
    if (labels.length > 16 || labels.some((l) => !/^\d+$/.test(l) || Number(l) > 0xfffff)) bad(v, 'MPLS label stack');
    words.push(v.text);
  } else if (t.text === 'ila') {
    const v = r.value(t, 'an ILA locator');
    if (!/^[0-9a-fA-F]{1,4}(:[0-9a-fA-F]{1,4}){3}$/.test(v.text)) bad(v, 'ILA locator');
    words.push(v.text);
  } else r.fail(t.pos, `${r.where}: unknown encapsulation '${t.text}' (ip, ip6, mpls or ila; keepalived 2.2.7 logs it)`);
  return words.join(' ');
}
