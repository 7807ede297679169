/**
 * Lines of virtual_rules and static_rules, as keepalived 2.2.7 reads them (vrrp_iprule.c
 * alloc_rule). Pure. keepalived 2.2.7 drops a rule on most bad words; on a few (`protocol`,
 * `ipproto`, `sport`, `dport`) it logs the value and keeps the rule without it: vipd refuses
 * the file at the word in both cases. A rule without `priority` is numbered by keepalived
 * (16384 downwards, per family, in file order) with a log line: vipd warns.
 */
import { DEFAULT_RT_NAMES, base0, lookupName, MAX, namesList, type RtNames } from './kw-net-names.js';
import { FamilyOf, realms, RTPROT_KEEPALIVED } from './kw-net-route.js';
import { ifName, LineReader, parsePrefix, prefixText, type Prefix, type Word } from './kw-net-words.js';
import type { RuleAction, RuleModel } from './model-net.js';
import type { Builder } from './spec.js';
import type { Statement } from './tree.js';

const DROP = 'keepalived 2.2.7 drops the rule';
const KEPT = 'keepalived 2.2.7 logs it and keeps the rule without it';
const U32 = 0xffffffff;
const KEYWORDS = [
  'inet', 'inet6', 'from', 'to', 'table', 'lookup', 'not', 'preference', 'order', 'priority', 'tos', 'dsfield', 'fwmark', 'realms', 'suppress_prefixlength', 'sup_pl',
  'suppress_ifgroup', 'sup_group', 'dev', 'iif', 'oif', 'tunnel-id', 'uidrange', 'l3mdev', 'protocol', 'ipproto', 'sport', 'dport', 'no_track', 'track_group', 'type',
  'goto', 'nop', 'blackhole', 'unreachable', 'prohibit',
];
/** The route types keepalived accepts as rule actions (by name or RTN_* number). */
const RTN_ACTIONS: Record<string, RuleAction> = { blackhole: 'blackhole', unreachable: 'unreachable', prohibit: 'prohibit', 6: 'blackhole', 7: 'unreachable', 8: 'prohibit' };
const RTN_OTHER = ['local', 'nat', 'broadcast', 'brd', 'anycast', 'multicast', 'xresolve', 'unicast', 'throw'];

/**
 * One line of virtual_rules / static_rules: `[not] [from PREFIX|all] [to PREFIX|all]
 * [priority|preference|order N] [iif|dev IF] [oif IF] [fwmark N[/MASK]] [tos|dsfield T]
 * [uidrange A-B] [sport A-B] [dport A-B] [ipproto P] [protocol N] [tunnel-id N] [realms R[/R]]
 * [suppress_prefixlength N] [suppress_ifgroup G] [no_track] [track_group G]` and one action:
 * `table|lookup T`, `goto N`, `nop`, `[type] blackhole|unreachable|prohibit` or `l3mdev`.
 * Numbers of priority and fwmark may be hex (0x…) as in keepalived. ip(8)'s `pref` is not a
 * keepalived 2.2.7 word (it drops the rule). Family IPv4 unless an address says otherwise;
 * tracked rules get protocol 18. `where` names the block (`static_rules` allows
 * track_group); `names` as for parseRoute. Null after reporting an error through `b`.
 */
export function parseRule(b: Builder, st: Statement, where = 'virtual_rules', names: RtNames = DEFAULT_RT_NAMES): RuleModel | null {
  return LineReader.run(() => new LineReader(b, st, where), (r) => readRule(r, names));
}

/** A whole virtual_rules / static_rules block (empty allowed). */
export function parseRuleBlock(b: Builder, st: Statement, names: RtNames = DEFAULT_RT_NAMES): RuleModel[] {
  if (st.args.length) b.err(st.args[0]!.pos, `'${st.keyword}' takes a { block } of rules, not arguments on its line`);
  const out: RuleModel[] = [];
  for (const line of b.block(st)) {
    const v = parseRule(b, line, st.keyword, names);
    if (v) out.push(v);
  }
  return out;
}

function readRule(r: LineReader, names: RtNames): RuleModel {
  const fam = new FamilyOf(r, 'rule');
  const ru: RuleModel = {
    family: 4, from: null, to: null, table: null, priority: null, iif: null, oif: null, fwmark: null, action: 'table', gotoTarget: null, l3mdev: false,
    invert: false, tos: null, realms: null, suppressPrefixLength: null, suppressIfgroup: null, tunnelId: null, uidRange: null, protocol: null, ipProto: null,
    sport: null, dport: null, noTrack: false, trackGroup: null, pos: r.words[0]!.pos,
  };
  let action: { w: Word; a: RuleAction } | null = null;
  let tableOption: Word | null = null;
  const ends: { from?: Prefix; to?: Prefix } = {};
  const seen = new Map<string, Word>();
  const setAction = (w: Word, a: RuleAction): void => {
    if (action) r.fail(w.pos, `${r.where}: a second action '${w.text}' (the first is '${action.w.text}'; one of table/lookup, goto, nop, blackhole, unreachable, prohibit, l3mdev; ${DROP})`);
    action = { w, a };
  };
  while (!r.done()) {
    const w = r.next();
    const k = w.text;
    if (seen.has(k) && !['not', 'no_track'].includes(k)) r.warn(w.pos, `${r.where}: '${k}' given twice; the last one counts, as in keepalived 2.2.7`);
    seen.set(k, w);
    if (k === 'inet' || k === 'inet6') fam.keyword(w, DROP);
    else if (k === 'from' || k === 'to') {
      const v = r.value(w);
      const p = parsePrefix(r, v, `rule ${k} address`, true, DROP);
      if (p.family !== null) fam.set(p.family, v, DROP);
      ends[k] = p;
    } else if (k === 'table' || k === 'lookup') {
      const v = r.value(w);
      const t = lookupName(v.text, names.tables, MAX.tables);
      if (t === null) r.fail(v.pos, `${r.where}: unknown routing table '${v.text}' (${namesList(names.tables, MAX.tables)}; ${DROP})`);
      if (t === 0) r.fail(v.pos, `${r.where}: table 0 is not valid (${DROP})`);
      ru.table = t;
      setAction(w, 'table');
    } else if (k === 'not') ru.invert = true;
    else if (k === 'preference' || k === 'order' || k === 'priority') ru.priority = u32base0(r, w, r.value(w), DROP);
    else if (k === 'tos' || k === 'dsfield') {
      const v = r.value(w);
      const t = lookupName(v.text, names.dsfield, MAX.dsfield);
      if (t === null) r.fail(v.pos, `${r.where}: unknown DS field '${v.text}' (${namesList(names.dsfield, MAX.dsfield)}; ${DROP})`);
      ru.tos = t;
    } else if (k === 'fwmark') ru.fwmark = fwmark(r, w, r.value(w));
    else if (k === 'realms') {
      if (fam.f === 6) r.fail(w.pos, `${r.where}: 'realms' is for IPv4 rules only (${DROP})`);
      fam.f = 4;
      ru.realms = realms(r, w, names, DROP);
      tableOption = w;
    } else if (k === 'suppress_prefixlength' || k === 'sup_pl') {
      ru.suppressPrefixLength = r.decimal(w, r.value(w), 0, 0x7fffffff, DROP);
      tableOption = w;
    } else if (k === 'suppress_ifgroup' || k === 'sup_group') {
      const v = r.value(w);
      const g = lookupName(v.text, names.groups, MAX.groups);
      if (g === null) r.fail(v.pos, `${r.where}: unknown device group '${v.text}' (${namesList(names.groups, MAX.groups)}; ${DROP})`);
      ru.suppressIfgroup = g;
      tableOption = w;
    } else if (k === 'dev' || k === 'iif') ru.iif = ifName(r, w, r.value(w), DROP);
    else if (k === 'oif') ru.oif = ifName(r, w, r.value(w), DROP);
    else if (k === 'tunnel-id') {
      const v = r.value(w);
      if (!/^\d+$/.test(v.text) || BigInt(v.text) > 0xffffffffffffffffn) r.fail(v.pos, `${r.where}: 'tunnel-id' must be an integer from 0 to 2^64-1, got '${v.text}' (${DROP})`);
      ru.tunnelId = BigInt(v.text).toString();
    } else if (k === 'uidrange') ru.uidRange = range(r, w, r.value(w), U32, false, DROP);
    else if (k === 'l3mdev') {
      setAction(w, 'table');
      ru.l3mdev = true;
    } else if (k === 'protocol') ru.protocol = r.decimal(w, r.value(w), 0, 255, KEPT);
    else if (k === 'ipproto') ru.ipProto = ipProto(r, w, r.value(w), names);
    else if (k === 'sport' || k === 'dport') ru[k] = range(r, w, r.value(w), 0xffff, true, KEPT);
    else if (k === 'no_track') ru.noTrack = true;
    else if (k === 'track_group') {
      if (!r.where.startsWith('static')) r.fail(w.pos, `${r.where}: 'track_group' is for static_rules only (${DROP})`);
      if (ru.trackGroup !== null) r.fail(w.pos, `${r.where}: 'track_group' given twice (${DROP})`);
      ru.trackGroup = r.value(w).text;
      r.warn(w.pos, `${r.where}: 'track_group' is read but not acted on: keepalived 2.2.7 adds or removes the rule as the track group's instances' tracking goes; vipd adds it at start and leaves it`);
    } else {
      const a = k === 'type' ? r.value(w, 'an action') : w;
      if (a.text === 'goto') {
        ru.gotoTarget = r.decimal(a, r.value(a, 'a target priority'), 0, U32, DROP);
        setAction(a, 'goto');
      } else if (a.text === 'nop') setAction(a, 'nop');
      else if (a.text in RTN_ACTIONS) setAction(a, RTN_ACTIONS[a.text]!);
      else if (RTN_OTHER.includes(a.text) || (base0(a.text) ?? 256) <= 255) r.fail(a.pos, `${r.where}: '${a.text}' is not a rule action (goto, nop, blackhole, unreachable, prohibit; ${DROP})`);
      else if (a.text === 'pref') r.fail(a.pos, `${r.where}: ip rule's 'pref' is 'priority' (or 'preference', 'order') in keepalived 2.2.7 (${DROP})`);
      else r.unknown(a, KEYWORDS, DROP);
    }
  }
  const act = action as { w: Word; a: RuleAction } | null;
  if (!act) r.fail(r.words[0]!.pos, `${r.where}: the rule has no action (table/lookup, goto, nop, blackhole, unreachable, prohibit or l3mdev; ${DROP})`);
  ru.action = act.a;
  if (ru.action === 'goto') {
    if (ru.priority === null) r.fail(act.w.pos, `${r.where}: 'goto' needs 'priority N' below its target (${DROP})`);
    if (ru.priority >= ru.gotoTarget!) r.fail(act.w.pos, `${r.where}: goto target ${ru.gotoTarget} must be above the rule's priority ${ru.priority} (${DROP})`);
  }
  if (tableOption && ru.action !== 'table') r.fail(tableOption.pos, `${r.where}: '${tableOption.text}' needs a table action (${DROP})`);
  if (ru.l3mdev && ru.table !== null) r.fail(seen.get('l3mdev')!.pos, `${r.where}: 'l3mdev' with a table (${DROP})`);
  if (!ru.noTrack) {
    if (ru.protocol !== null && ru.protocol !== RTPROT_KEEPALIVED) {
      r.fail(seen.get('protocol')!.pos, `${r.where}: 'protocol ${ru.protocol}' on a tracked rule: keepalived 2.2.7 replaces it by ${RTPROT_KEEPALIVED} (keepalived); add 'no_track' to keep it`);
    }
    ru.protocol = RTPROT_KEEPALIVED;
  }
  if (ru.trackGroup !== null && ru.iif === null) r.fail(seen.get('track_group')!.pos, `${r.where}: 'track_group' needs 'iif'/'dev' (keepalived 2.2.7 ignores the track group)`);
  ru.family = fam.f ?? 4;
  if (ends.from && ends.from.family !== null) ru.from = prefixText(ends.from, ru.family);
  if (ends.to && ends.to.family !== null) ru.to = prefixText(ends.to, ru.family);
  if (ru.priority === null) {
    r.warn(r.words[0]!.pos, `${r.where}: no 'priority': keepalived 2.2.7 numbers such rules itself, 16384 downwards per family in file order, and logs that it is probably not what you want; give 'priority N'`);
  }
  return ru;
}

/** An unsigned 32-bit number as C strtoul base 0 reads it (decimal, 0x hex, 0 octal). */
function u32base0(r: LineReader, opt: Word, v: Word, consequence: string): number {
  const n = base0(v.text);
  if (n === null || n > U32) r.fail(v.pos, `${r.where}: '${opt.text}' must be an integer from 0 to ${U32} (decimal or 0x hex), got '${v.text}' (${consequence})`);
  return n;
}

/** `fwmark N[/MASK]`, each 0..2^32-1, decimal or 0x hex. */
function fwmark(r: LineReader, opt: Word, v: Word): { value: number; mask: number | null } {
  const [a, m, ...rest] = v.text.split('/');
  const value = base0(a!);
  const mask = m === undefined ? null : base0(m);
  if (rest.length || value === null || value > U32 || (m !== undefined && (mask === null || mask > U32))) {
    const ka = m === '' ? 'keepalived 2.2.7 would read an empty mask as 0' : DROP;
    r.fail(v.pos, `${r.where}: invalid '${opt.text}' '${v.text}' (N or N/MASK, each 0..${U32}, decimal or 0x hex; ${ka})`);
  }
  return { value, mask };
}

/** `A-B` (uidrange, sport, dport); `single`: keepalived 2.2.7 refuses one port alone (a bug). */
function range(r: LineReader, opt: Word, v: Word, max: number, single: boolean, consequence: string): { start: number; end: number } {
  const m = /^(\d+)(?:-(\d+))?$/.exec(v.text);
  if (m && m[2] === undefined && single) r.fail(v.pos, `${r.where}: a single port ('${opt.text} ${v.text}') is refused by keepalived 2.2.7: it logs it and keeps the rule without it; write '${v.text}-${v.text}'`);
  if (!m || m[2] === undefined || Number(m[1]) > max || Number(m[2]) > max || Number(m[1]) > Number(m[2])) {
    r.fail(v.pos, `${r.where}: invalid '${opt.text}' '${v.text}' (START-END, 0..${max}, START <= END; ${consequence})`);
  }
  return { start: Number(m[1]), end: Number(m[2]) };
}

/** `ipproto NAME|N`: keepalived 2.2.7 takes numbers up to 127 only, names from /etc/protocols. */
function ipProto(r: LineReader, opt: Word, v: Word, names: RtNames): number {
  if (/^\d+$/.test(v.text)) {
    if (Number(v.text) > 127) r.fail(v.pos, `${r.where}: 'ipproto' numbers above 127 are refused by keepalived 2.2.7 (it logs it and keeps the rule without it); use the protocol's name`);
    return Number(v.text);
  }
  const n = names.ipProtos.get(v.text);
  if (n === undefined) r.fail(v.pos, `${r.where}: unknown IP protocol '${v.text}' for '${opt.text}' (a name of /etc/protocols or 0..127; ${KEPT})`);
  return n;
}
