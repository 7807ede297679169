/**
 * Address lines of virtual_ipaddress, virtual_ipaddress_excluded and static_ipaddress, as
 * keepalived 2.2.7 reads them (vrrp_ipaddress.c), and the family rules of one instance.
 * Routes and rules are in kw-net-route.ts and kw-net-rule.ts (re-exported here).
 *
 * Where keepalived 2.2.7 drops a line, or logs a bad value and carries on with a default,
 * vipd refuses the file (error at the word, file:line:col); where keepalived only logs a
 * deprecation or ignores something that has no effect, vipd warns. The daemon acts on every
 * option (src/os/rtnl-addr.ts sends them as keepalived does); the one it reads and does not act
 * on, `track_group` of static_ipaddress, gets a warning naming it.
 */
import { formatIP, formatIPv4, type Family } from '../protocol/addr.js';
import type { Pos } from './lexer.js';
import { DEFAULT_RT_NAMES, lookupName, MAX, namesList, type RtNames } from './kw-net-names.js';
import { ifName, LineReader, parseAddr, parsePrefix, plainAddr, type Word } from './kw-net-words.js';
import type { RouteModel, RuleModel, VipConfig, VipFlag } from './model-net.js';
import type { Builder } from './spec.js';
import type { Statement } from './tree.js';

export { parseRoute, parseRouteBlock } from './kw-net-route.js';
export { parseRule, parseRuleBlock } from './kw-net-rule.js';
export { DEFAULT_RT_NAMES, rtNamesFromFiles, type RtNames } from './kw-net-names.js';

/** Which block an address line is in: the options differ (use_vmac vs track_group). */
export type VipKind = 'vip' | 'evip' | 'static';

const FLAGS: readonly VipFlag[] = ['home', '-nodad', 'mngtmpaddr', 'noprefixroute', 'autojoin'];
const VALUED = ['dev', 'scope', 'brd', 'broadcast', 'label', 'peer', 'preferred_lft'];
const DROP = 'keepalived 2.2.7 skips the address';

/** What keepalived 2.2.7 does with each option vipd does not act on (a warning names it). */
const KA_DOES: Record<string, string> = {
  use_vmac: 'puts the address on a VMAC interface of its own device',
  track_group: 'adds or removes the address as the track group\'s instances\' tracking goes',
};

function kindOf(where: string): VipKind {
  if (where.startsWith('virtual_ipaddress_excluded')) return 'evip';
  if (where.startsWith('static_ipaddress')) return 'static';
  return 'vip';
}

/**
 * One line of a virtual_ipaddress / virtual_ipaddress_excluded / static_ipaddress block: the
 * address is `st.keyword`, the options `st.args`:
 * `ADDR[/LEN] [dev IF] [scope SCOPE] [brd|broadcast ADDR|+|-] [label LABEL] [peer ADDR] [home]
 * [-nodad] [mngtmpaddr] [noprefixroute] [autojoin] [no_track] [preferred_lft N|forever]`, plus
 * `use_vmac` (not static) and `track_group NAME` (static only). keepalived 2.2.7's defaults:
 * /32 or /128, scope global, no broadcast, IPv6 /128 deprecated (preferred_lft 0).
 * Returns null after reporting an error through `b`; `where` names the block in messages;
 * `names` gives the scope names (keepalived's built-ins unless the caller read /etc/iproute2).
 */
export function parseVip(b: Builder, st: Statement, where: string, kind: VipKind = kindOf(where), names: RtNames = DEFAULT_RT_NAMES): VipConfig | null {
  return LineReader.run(() => new LineReader(b, st, where), (r) => readVip(r, kind, names));
}

function readVip(r: LineReader, kind: VipKind, names: RtNames): VipConfig {
  const first = r.next();
  const a = parsePrefix(r, first, 'IP address', false, DROP);
  const family = a.family!;
  const max = family === 4 ? 32 : 128;
  const v: VipConfig = {
    address: formatIP(family, a.bytes!),
    family, prefixLen: a.len, dev: null, label: null, broadcast: null, scope: 0, peer: null, noTrack: false,
    preferredLft: null, flags: [], useVmac: false, trackGroup: null, pos: first.pos,
  };
  const seen = new Map<string, Word>();
  let brd: Word | null = null;
  let lft: number | null | undefined;
  const known = [...VALUED, ...FLAGS, 'no_track', kind === 'static' ? 'track_group' : 'use_vmac'];
  while (!r.done()) {
    const o = r.next();
    const key = o.text === 'broadcast' ? 'brd' : o.text;
    if (VALUED.includes(o.text) || (kind === 'static' && o.text === 'track_group')) {
      const val = r.value(o, 'a value', DROP);
      const again = seen.get(key);
      if (again && (key === 'dev' || key === 'peer' || key === 'track_group')) r.fail(o.pos, `${r.where}: '${o.text}' given twice for ${first.text} (${DROP})`);
      if (again) r.warn(o.pos, `${r.where}: '${o.text}' given twice for ${first.text}; the last one counts, as in keepalived 2.2.7`);
      seen.set(key, o);
      if (key === 'dev') v.dev = ifName(r, o, val, DROP);
      else if (key === 'scope') {
        const s = lookupName(val.text, names.scopes, MAX.scopes);
        if (s === null) r.fail(val.pos, `${r.where}: unknown scope '${val.text}' (${namesList(names.scopes, MAX.scopes)}; keepalived 2.2.7 ignores it and uses global)`);
        v.scope = s;
      } else if (key === 'brd') {
        if (family === 6) r.fail(o.pos, `${r.where}: IPv6 addresses have no broadcast address (${DROP})`);
        if (val.text !== '+' && val.text !== '-' && parseAddr(val.text)?.family !== 4) r.fail(val.pos, `${r.where}: '${o.text}' needs an IPv4 address, '+' or '-', got '${val.text}' (${DROP})`);
        brd = val;
      } else if (key === 'label') {
        if (Buffer.byteLength(val.text) > 15) r.fail(val.pos, `${r.where}: label '${val.text}' is longer than 15 bytes (${DROP})`);
        v.label = val.text;
      } else if (key === 'peer') {
        const p = plainAddr(r, o, val, 'keepalived 2.2.7 logs "Invalid peer address" and adds the address without a peer');
        if (p.family !== family) r.fail(val.pos, `${r.where}: peer ${val.text} is not of the address's family (keepalived 2.2.7 adds the address without a peer)`);
        if (a.explicit && a.len !== max) r.fail(first.pos, `${r.where}: no /LEN with 'peer' (keepalived 2.2.7 ignores /${a.len} and uses /${max})`);
        v.peer = p.text;
        v.prefixLen = max;
      } else if (key === 'preferred_lft') {
        if (val.text === 'forever') lft = null;
        else {
          const n = r.decimal(o, val, 0, 0xffffffff, 'keepalived 2.2.7 ignores it');
          lft = n === 0xffffffff ? null : n;
        }
      } else v.trackGroup = val.text;
    } else if ((FLAGS as readonly string[]).includes(o.text)) {
      if (v.flags.includes(o.text as VipFlag)) r.warn(o.pos, `${r.where}: '${o.text}' given twice for ${first.text}`);
      else v.flags.push(o.text as VipFlag);
      seen.set(key, o);
    } else if (o.text === 'no_track') {
      v.noTrack = true;
      seen.set(key, o);
    } else if (o.text === 'use_vmac' && kind !== 'static') {
      v.useVmac = true;
      seen.set(key, o);
    } else {
      const other = o.text === 'track_group' || o.text === 'use_vmac' ? ` ('${o.text}' is for ${o.text === 'use_vmac' ? 'virtual_ipaddress and virtual_ipaddress_excluded' : 'static_ipaddress'} only)` : '';
      if (other) r.fail(o.pos, `${r.where}: '${o.text}' is not an option here${other}; keepalived 2.2.7 logs it and ignores the word`);
      r.unknown(o, known, 'keepalived 2.2.7 logs it and ignores the word');
    }
  }
  if (brd !== null) {
    const at = seen.get('brd')!;
    if (v.peer) r.fail(at.pos, `${r.where}: 'brd' and 'peer' together (keepalived 2.2.7 ignores the broadcast address)`);
    if (brd.text === '+' || brd.text === '-') {
      if (v.prefixLen > 30) r.fail(brd.pos, `${r.where}: 'brd ${brd.text}' needs a prefix of /30 or shorter, the address is /${v.prefixLen} (keepalived 2.2.7 sets no broadcast address)`);
      const host = 0xffffffff >>> v.prefixLen;
      const ip = parseAddr(v.address)!.bytes;
      const n = ((ip[0]! << 24) | (ip[1]! << 16) | (ip[2]! << 8) | ip[3]!) >>> 0;
      const out = brd.text === '+' ? (n | host) >>> 0 : (n & ~host) >>> 0;
      v.broadcast = formatIPv4(Uint8Array.of(out >>> 24, (out >>> 16) & 255, (out >>> 8) & 255, out & 255));
    } else v.broadcast = plainAddr(r, at, brd, DROP).text;
  }
  if (family === 6) {
    const sc = seen.get('scope');
    if (sc && v.scope !== 0) {
      r.warn(sc.pos, `${r.where}: 'scope' is ignored for IPv6 addresses, by keepalived 2.2.7 too (the kernel derives an IPv6 address's scope from the address)`);
      v.scope = 0;
    }
    if (v.label !== null) r.fail(seen.get('label')!.pos, `${r.where}: IPv6 addresses have no label (keepalived 2.2.7 ignores it)`);
    v.preferredLft = lft !== undefined ? lft : v.prefixLen === 128 ? 0 : null;
  } else if (lft !== undefined) r.warn(seen.get('preferred_lft')!.pos, `${r.where}: 'preferred_lft' has no effect on IPv4 addresses (keepalived 2.2.7 ignores it too)`);
  notActedOn(r, seen);
  return v;
}

/** One warning per option vipd reads and does not act on. */
function notActedOn(r: LineReader, seen: Map<string, Word>): void {
  const o = seen.get('track_group');
  if (o) r.warn(o.pos, `${r.where}: '${o.text}' is read but not acted on: keepalived 2.2.7 ${KA_DOES.track_group}; vipd adds the address at start and leaves it`);
  const u = seen.get('use_vmac');
  if (u) r.warn(u.pos, `${r.where}: '${u.text}' on an address is read but not acted on: keepalived 2.2.7 ${KA_DOES.use_vmac}; vipd puts it on its 'dev' (the instance's own use_vmac is acted on)`);
}

/** A whole address block (`{ line … }`); an empty block is allowed, as by keepalived. */
export function parseVipBlock(b: Builder, st: Statement, where: string, kind: VipKind = kindOf(where), names: RtNames = DEFAULT_RT_NAMES): VipConfig[] {
  if (st.args.length) b.err(st.args[0]!.pos, `'${st.keyword}' takes a { block } of addresses, not arguments on its line`);
  const out: VipConfig[] = [];
  for (const line of b.block(st)) {
    const v = parseVip(b, line, where, kind, names);
    if (v) out.push(v);
  }
  return out;
}

/**
 * The family of an instance, set by whichever came first in the block (keepalived sets it
 * when it reads the keyword): `unicast_src_ip`, `mcast_src_ip`, `mcast_dst_ip`, a
 * `unicast_peer`, `native_ipv6` — or the first address of virtual_ipaddress.
 */
export interface FamilySource {
  family: Family;
  pos: Pos;
  /** The keyword that set it, for the message. */
  keyword: string;
}

/**
 * keepalived 2.2.7's family rules for one vrrp_instance, reported through `b`; returns the
 * instance's family (IPv4 when nothing sets it).
 * - virtual_ipaddress: one family. The instance takes the family of whichever comes first in
 *   the file: `instanceFamily` (a keyword of the instance that set it, with its position) or
 *   the first address. An address of the other family: keepalived logs "address family must
 *   match VRRP instance" and drops it; vipd refuses it. When the address came first and the
 *   keyword later, keepalived drops the keyword's value instead; vipd refuses it at the
 *   keyword.
 * - virtual_ipaddress_excluded: any mix of families (keepalived checks nothing; that is what
 *   it is for), so nothing to check.
 * - virtual_routes, virtual_rules: each line is of one family (checked by parseRoute/parseRule);
 *   the instance's family does not matter, so nothing to check here either.
 */
export function checkFamilies(b: Builder, vips: readonly VipConfig[], excluded: readonly VipConfig[], routes: readonly RouteModel[], rules: readonly RuleModel[], instanceFamily: FamilySource | Family | null): Family {
  void excluded;
  void routes;
  void rules;
  const src = typeof instanceFamily === 'number' ? { family: instanceFamily, pos: null, keyword: '' } : instanceFamily;
  const firstVip = vips[0];
  const vipFirst = firstVip && (!src || (src.pos && firstVip.pos && before(firstVip.pos, src.pos)));
  const family = vipFirst ? firstVip.family : (src?.family ?? firstVip?.family ?? 4);
  for (const v of vips) {
    if (v.family === family) continue;
    b.err(v.pos ?? src?.pos ?? { file: '?', line: 0, col: 0 }, `${v.address} is IPv${v.family} but the instance is IPv${family}${src && !vipFirst ? (src.keyword ? ` (set by '${src.keyword}')` : '') : ' (set by its first virtual_ipaddress)'}: keepalived 2.2.7 drops it; use one instance per family, or virtual_ipaddress_excluded for the other family`);
  }
  if (vipFirst && src && src.pos && src.family !== family) {
    b.err(src.pos, `'${src.keyword}' is IPv${src.family} but the instance is IPv${family} (set by its first virtual_ipaddress, earlier in the block): keepalived 2.2.7 ignores the '${src.keyword}' value`);
  }
  return family;
}

function before(a: Pos, b: Pos): boolean {
  return a.file === b.file ? a.line < b.line || (a.line === b.line && a.col < b.col) : false;
}
