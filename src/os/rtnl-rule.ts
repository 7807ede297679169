/**
 * Policy-routing rules in rtnetlink (RTM_NEWRULE/RTM_DELRULE, struct fib_rule_hdr and FRA_*
 * attributes, linux/fib_rules.h): the request keepalived 2.2.7 sends for a virtual_rules /
 * static_rules line (vrrp_iprule.c netlink_rule), the parse of dumps and events, the identity
 * shared by both, keepalived's numbering of rules written without a priority, and the
 * `ip -batch` line the crash guardian deletes a rule with. Pure.
 */
import { formatIP, type Family } from '../protocol/addr.js';
import type { RuleAction, RuleModel } from '../config/model-net.js';
import { AF_INET, AF_INET6 } from './linux.js';
import { batchWord, prefixBytes } from './rtnl-addr.js';
import { attrString, cstr, NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REQUEST, nlmsg, parseAttrs, rtattr, RTM_DELRULE, RTM_NEWRULE, u32, type NlMessage } from './rtnl-msg.js';
import type { IfindexOf } from './rtnl-route.js';

const FRA_DST = 1;
const FRA_SRC = 2;
const FRA_IIFNAME = 3;
const FRA_GOTO = 4;
const FRA_PRIORITY = 6;
const FRA_FWMARK = 10;
const FRA_FLOW = 11;
const FRA_TUN_ID = 12;
const FRA_SUPPRESS_IFGROUP = 13;
const FRA_SUPPRESS_PREFIXLEN = 14;
const FRA_TABLE = 15;
const FRA_FWMASK = 16;
const FRA_OIFNAME = 17;
const FRA_L3MDEV = 19;
const FRA_UID_RANGE = 20;
const FRA_PROTOCOL = 21;
const FRA_IP_PROTO = 22;
const FRA_SPORT_RANGE = 23;
const FRA_DPORT_RANGE = 24;
const FIB_RULE_INVERT = 0x2;
const RT_TABLE_MAIN = 254;
/** FR_ACT_* by action. */
const FR_ACT: Record<RuleAction, number> = { table: 1, goto: 2, nop: 3, blackhole: 6, unreachable: 7, prohibit: 8 };
const ACT_NAME: Record<number, RuleAction> = { 1: 'table', 2: 'goto', 3: 'nop', 6: 'blackhole', 7: 'unreachable', 8: 'prohibit' };
/** keepalived's RULE_START_PRIORITY: the first number it gives a rule without a priority. */
export const RULE_START_PRIORITY = 16384;

/**
 * keepalived 2.2.7's numbering of rules written without `priority` (vrrp_iprule.c alloc_rule):
 * each gets the next number of its family, counting down from 16384 (one counter for IPv4,
 * one for IPv6), in the order keepalived reads the lines — static_rules and each instance's
 * virtual_rules in file order — and it starts again at 16384 on every reload. `rules` must be
 * every rule of the configuration in that order; returns copies, numbered, the others as they are.
 */
export function keepalivedRulePriorities(rules: readonly RuleModel[]): RuleModel[] {
  const next = { 4: RULE_START_PRIORITY, 6: RULE_START_PRIORITY };
  return rules.map((r) => (r.priority !== null ? r : { ...r, priority: next[r.family]-- }));
}

function needPriority(r: RuleModel): number {
  if (r.priority === null) {
    throw new Error(`rule without a priority: number it as keepalived does first (keepalivedRulePriorities over the whole configuration), else the kernel picks one and it cannot be matched`);
  }
  return r.priority;
}

const prefix = (text: string, what: string): { bytes: Uint8Array; len: number } => prefixBytes(text, `rule ${what}`);
/** struct fib_rule_port_range (u16 start, end) or fib_rule_uid_range (u32 start, end). */
function range(x: { start: number; end: number }, size: 2 | 4): Buffer {
  const b = Buffer.alloc(2 * size);
  b.writeUIntLE(x.start, 0, size);
  b.writeUIntLE(x.end, size, size);
  return b;
}
/** The table a `table`/`lookup` rule is sent with (keepalived: main when none). */
const tableOf = (r: RuleModel): number => (r.action === 'table' && !r.l3mdev ? r.table || RT_TABLE_MAIN : 0);

/**
 * RTM_NEWRULE (NLM_F_CREATE|NLM_F_EXCL: EEXIST when the kernel has the same rule) or
 * RTM_DELRULE with an ack, as keepalived 2.2.7's netlink_rule: fib_rule_hdr with family, tos,
 * `not` (FIB_RULE_INVERT), the action (FR_ACT_*) and the table (above 255: FRA_TABLE, header
 * table 0; none for l3mdev and non-table actions); then FRA_SRC (`from`), FRA_DST (`to`),
 * FRA_PRIORITY, FRA_FWMARK, FRA_FWMASK (`fwmark V/M`), FRA_FLOW (`realms`),
 * FRA_SUPPRESS_PREFIXLEN, FRA_SUPPRESS_IFGROUP, FRA_IIFNAME (`iif`/`dev`), FRA_OIFNAME,
 * FRA_TUN_ID (big-endian u64), FRA_UID_RANGE, FRA_L3MDEV, FRA_PROTOCOL (18 on a tracked rule),
 * FRA_IP_PROTO, FRA_SPORT_RANGE, FRA_DPORT_RANGE, FRA_GOTO. A delete carries the same (the
 * kernel deletes the rule they all match). Interfaces go by name (the kernel keeps rules for
 * interfaces that do not exist yet): `ifindexOf` is not needed and is accepted for symmetry
 * with routeRequest. Throws for a rule without priority (see keepalivedRulePriorities).
 */
export function ruleRequest(op: 'add' | 'del', r: RuleModel, _ifindexOf: IfindexOf | undefined, seq: number): Buffer {
  const priority = needPriority(r);
  const hdr = Buffer.alloc(12);
  hdr[0] = r.family === 4 ? AF_INET : AF_INET6;
  hdr[3] = r.tos ?? 0;
  hdr[7] = FR_ACT[r.action];
  hdr.writeUInt32LE(r.invert ? FIB_RULE_INVERT : 0, 8);
  const attrs: Buffer[] = [];
  const table = tableOf(r);
  if (table > 255) attrs.push(rtattr(FRA_TABLE, u32(table)));
  else hdr[4] = table;
  if (r.from !== null) {
    const p = prefix(r.from, 'from');
    attrs.push(rtattr(FRA_SRC, p.bytes));
    hdr[2] = p.len;
  }
  if (r.to !== null) {
    const p = prefix(r.to, 'to');
    attrs.push(rtattr(FRA_DST, p.bytes));
    hdr[1] = p.len;
  }
  attrs.push(rtattr(FRA_PRIORITY, u32(priority)));
  if (r.fwmark) {
    attrs.push(rtattr(FRA_FWMARK, u32(r.fwmark.value)));
    if (r.fwmark.mask !== null) attrs.push(rtattr(FRA_FWMASK, u32(r.fwmark.mask)));
  }
  if (r.realms) attrs.push(rtattr(FRA_FLOW, u32(r.realms)));
  if (r.suppressPrefixLength !== null) attrs.push(rtattr(FRA_SUPPRESS_PREFIXLEN, u32(r.suppressPrefixLength)));
  if (r.suppressIfgroup !== null) attrs.push(rtattr(FRA_SUPPRESS_IFGROUP, u32(r.suppressIfgroup)));
  if (r.iif !== null) attrs.push(rtattr(FRA_IIFNAME, cstr(r.iif)));
  if (r.oif !== null) attrs.push(rtattr(FRA_OIFNAME, cstr(r.oif)));
  if (r.tunnelId !== null && BigInt(r.tunnelId) !== 0n) {
    const b = Buffer.alloc(8);
    b.writeBigUInt64BE(BigInt(r.tunnelId), 0);
    attrs.push(rtattr(FRA_TUN_ID, b));
  }
  if (r.uidRange) attrs.push(rtattr(FRA_UID_RANGE, range(r.uidRange, 4)));
  if (r.l3mdev) attrs.push(rtattr(FRA_L3MDEV, Buffer.of(1)));
  if (r.protocol !== null) attrs.push(rtattr(FRA_PROTOCOL, Buffer.of(r.protocol)));
  if (r.ipProto !== null) attrs.push(rtattr(FRA_IP_PROTO, Buffer.of(r.ipProto)));
  if (r.sport) attrs.push(rtattr(FRA_SPORT_RANGE, range(r.sport, 2)));
  if (r.dport) attrs.push(rtattr(FRA_DPORT_RANGE, range(r.dport, 2)));
  if (r.action === 'goto') attrs.push(rtattr(FRA_GOTO, u32(r.gotoTarget ?? 0)));
  return op === 'add'
    ? nlmsg(RTM_NEWRULE, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, seq, [hdr, ...attrs])
    : nlmsg(RTM_DELRULE, NLM_F_REQUEST | NLM_F_ACK, seq, [hdr, ...attrs]);
}

/** A rule from a dump or an event. Absent attributes read as the kernel's defaults (0, null). */
export interface RuleInfo {
  family: Family;
  /** FRA_PRIORITY (0 when absent: the kernel's first rule). */
  priority: number;
  invert: boolean;
  /** `ADDR/LEN` (FRA_SRC, FRA_DST); null for all. */
  from: string | null;
  to: string | null;
  tos: number;
  /** FRA_FWMARK / FRA_FWMASK (0 when absent). */
  fwmark: number;
  fwmask: number;
  iif: string | null;
  oif: string | null;
  /** FR_ACT_* as RuleAction, or the number as text. */
  action: RuleAction | string;
  /** FRA_TABLE, else the header's table; 0 for non-table actions and l3mdev. */
  table: number;
  gotoTarget: number | null;
  l3mdev: boolean;
  realms: number;
  suppressPrefixLength: number | null;
  suppressIfgroup: number | null;
  /** u64 as decimal text; null when 0/absent. */
  tunnelId: string | null;
  uidRange: { start: number; end: number } | null;
  /** FRA_PROTOCOL (RTPROT_*; 0 when absent). */
  protocol: number;
  ipProto: number;
  sport: { start: number; end: number } | null;
  dport: { start: number; end: number } | null;
}

/** An RTM_NEWRULE / RTM_DELRULE of IPv4 or IPv6, or null (another type or family, or malformed). */
export function parseRuleMsg(m: NlMessage): RuleInfo | null {
  if ((m.type !== RTM_NEWRULE && m.type !== RTM_DELRULE) || m.body.length < 12) return null;
  const b = m.body;
  const family: Family | null = b[0] === AF_INET ? 4 : b[0] === AF_INET6 ? 6 : null;
  if (!family) return null;
  const alen = family === 4 ? 4 : 16;
  const a = parseAttrs(b, 12);
  const num = (t: number): number | null => {
    const v = a.get(t);
    return v && v.length >= 4 ? v.readUInt32LE(0) : null;
  };
  const pfx = (t: number, len: number): string | null => {
    const v = a.get(t);
    return len > 0 && v && v.length === alen ? `${formatIP(family, v)}/${len}` : null;
  };
  const rng = (t: number, size: 2 | 4): { start: number; end: number } | null => {
    const v = a.get(t);
    if (!v || v.length < 2 * size) return null;
    return size === 2 ? { start: v.readUInt16LE(0), end: v.readUInt16LE(2) } : { start: v.readUInt32LE(0), end: v.readUInt32LE(4) };
  };
  const str = (t: number): string | null => {
    const v = a.get(t);
    return v ? attrString(v) || null : null;
  };
  const tun = a.get(FRA_TUN_ID);
  const tunnelId = tun && tun.length === 8 ? tun.readBigUInt64BE(0) : 0n;
  const act = b[7] as number;
  const sup = (t: number): number | null => {
    const v = num(t);
    return v === null || v === 0xffffffff ? null : v;
  };
  return {
    family,
    priority: num(FRA_PRIORITY) ?? 0,
    invert: (b.readUInt32LE(8) & FIB_RULE_INVERT) !== 0,
    from: pfx(FRA_SRC, b[2] as number),
    to: pfx(FRA_DST, b[1] as number),
    tos: b[3] as number,
    fwmark: num(FRA_FWMARK) ?? 0,
    fwmask: num(FRA_FWMASK) ?? 0,
    iif: str(FRA_IIFNAME),
    oif: str(FRA_OIFNAME),
    action: ACT_NAME[act] ?? String(act),
    table: num(FRA_TABLE) ?? (b[4] as number),
    gotoTarget: act === FR_ACT.goto ? num(FRA_GOTO) : null,
    l3mdev: (a.get(FRA_L3MDEV)?.[0] ?? 0) !== 0,
    realms: num(FRA_FLOW) ?? 0,
    suppressPrefixLength: sup(FRA_SUPPRESS_PREFIXLEN),
    suppressIfgroup: sup(FRA_SUPPRESS_IFGROUP),
    tunnelId: tunnelId ? tunnelId.toString() : null,
    uidRange: rng(FRA_UID_RANGE, 4),
    protocol: a.get(FRA_PROTOCOL)?.[0] ?? 0,
    ipProto: a.get(FRA_IP_PROTO)?.[0] ?? 0,
    sport: rng(FRA_SPORT_RANGE, 2),
    dport: rng(FRA_DPORT_RANGE, 2),
  };
}

type KeyFields = Omit<RuleInfo, 'protocol' | 'gotoTarget'> & { gotoTarget: number | null };

/**
 * The identity both keys are made of: every selector and the action, as the kernel's own
 * duplicate check (rule_exists) compares them, with the kernel's defaults filled in (a fwmark
 * without a mask has mask 0xffffffff; tables only for table actions). Not part of it: the
 * protocol (`ip rule add` of the same line leaves it 0 where keepalived sets 18).
 */
function key(k: KeyFields): string {
  const w: string[] = [`${k.family}`, `pref ${k.priority}`];
  if (k.invert) w.push('not');
  w.push(`from ${k.from ?? 'all'}`);
  if (k.to) w.push(`to ${k.to}`);
  if (k.tos) w.push(`tos ${k.tos}`);
  if (k.fwmark || k.fwmask) w.push(`fwmark ${k.fwmark}/${k.fwmask}`);
  if (k.iif) w.push(`iif ${k.iif}`);
  if (k.oif) w.push(`oif ${k.oif}`);
  if (k.ipProto) w.push(`ipproto ${k.ipProto}`);
  if (k.sport) w.push(`sport ${k.sport.start}-${k.sport.end}`);
  if (k.dport) w.push(`dport ${k.dport.start}-${k.dport.end}`);
  if (k.uidRange) w.push(`uidrange ${k.uidRange.start}-${k.uidRange.end}`);
  if (k.tunnelId) w.push(`tun_id ${k.tunnelId}`);
  if (k.realms) w.push(`realms ${k.realms}`);
  if (k.suppressPrefixLength !== null) w.push(`suppress_prefixlength ${k.suppressPrefixLength}`);
  if (k.suppressIfgroup !== null) w.push(`suppress_ifgroup ${k.suppressIfgroup}`);
  if (k.l3mdev) w.push('l3mdev');
  else if (k.action === 'table') w.push(`table ${k.table}`);
  else if (k.action === 'goto') w.push(`goto ${k.gotoTarget ?? 0}`);
  else w.push(String(k.action));
  return w.join(' ');
}

/** The identity of a rule from a dump or an event (equal to modelRuleKey's when it is the model's rule). */
export function ruleKey(r: RuleInfo): string {
  return key(r);
}

/**
 * The identity of the rule a model line describes: the same string as ruleKey gives for the
 * rule the kernel holds after ruleRequest('add') of it, or after `ip rule add` of the same
 * line. Throws for a rule without priority (see keepalivedRulePriorities).
 */
export function modelRuleKey(r: RuleModel, _ifindexOf?: IfindexOf): string {
  const fw = r.fwmark ? { fwmark: r.fwmark.value >>> 0, fwmask: (r.fwmark.mask ?? (r.fwmark.value ? 0xffffffff : 0)) >>> 0 } : { fwmark: 0, fwmask: 0 };
  const pfx = (t: string | null, what: string): string | null => {
    if (t === null) return null;
    const p = prefix(t, what);
    return p.len > 0 ? `${formatIP(r.family, p.bytes)}/${p.len}` : null;
  };
  return key({
    family: r.family, priority: needPriority(r), invert: r.invert, from: pfx(r.from, 'from'), to: pfx(r.to, 'to'), tos: r.tos ?? 0, ...fw, iif: r.iif, oif: r.oif,
    action: r.action, table: tableOf(r), gotoTarget: r.gotoTarget, l3mdev: r.l3mdev, realms: r.realms ?? 0, suppressPrefixLength: r.suppressPrefixLength,
    suppressIfgroup: r.suppressIfgroup, tunnelId: r.tunnelId !== null && BigInt(r.tunnelId) !== 0n ? BigInt(r.tunnelId).toString() : null, uidRange: r.uidRange,
    ipProto: r.ipProto ?? 0, sport: r.sport, dport: r.dport,
  });
}

/**
 * An `ip -batch` line (no newline) deleting the rule of `r`, for the crash guardian, in
 * ip-rule(8) words: `rule del [not] [from P] [to P] priority N [tos 0xT] [fwmark V/M] [iif I]
 * [oif O] [ipproto N] [sport A-B] [dport A-B] [uidrange A-B] [tun_id N] [realms F/T]
 * [suppress_prefixlength N] [suppress_ifgroup N] [protocol P] ACTION`. `ip rule` takes its
 * family from the command line only (`-6`; an IPv6 `from` does not switch it, and a batch
 * line has no options): the line of an IPv6 rule must go to `ip -6 -force -batch -`, that of
 * an IPv4 rule to `ip -force -batch -` (or `ip -4`). Throws when a word could not be written
 * safely, or without priority.
 */
export function ruleDelLine(r: RuleModel): string {
  const w = ['rule', 'del'];
  if (r.invert) w.push('not');
  if (r.from !== null) w.push('from', batchWord(r.from, 'from'));
  if (r.to !== null) w.push('to', batchWord(r.to, 'to'));
  w.push('priority', String(needPriority(r)));
  if (r.tos !== null) w.push('tos', `0x${r.tos.toString(16)}`); // ip reads a DS field number as hex
  if (r.fwmark) w.push('fwmark', r.fwmark.mask === null ? String(r.fwmark.value) : `${r.fwmark.value}/${r.fwmark.mask}`);
  if (r.iif !== null) w.push('iif', batchWord(r.iif, 'interface name'));
  if (r.oif !== null) w.push('oif', batchWord(r.oif, 'interface name'));
  if (r.ipProto !== null) w.push('ipproto', String(r.ipProto));
  if (r.sport) w.push('sport', `${r.sport.start}-${r.sport.end}`);
  if (r.dport) w.push('dport', `${r.dport.start}-${r.dport.end}`);
  if (r.uidRange) w.push('uidrange', `${r.uidRange.start}-${r.uidRange.end}`);
  if (r.tunnelId !== null) w.push('tun_id', batchWord(r.tunnelId, 'tunnel-id'));
  if (r.realms) w.push('realms', `${r.realms >>> 16}/${r.realms & 0xffff}`);
  if (r.suppressPrefixLength !== null) w.push('suppress_prefixlength', String(r.suppressPrefixLength));
  if (r.suppressIfgroup !== null) w.push('suppress_ifgroup', String(r.suppressIfgroup));
  if (r.protocol !== null) w.push('protocol', String(r.protocol));
  if (r.l3mdev) w.push('l3mdev');
  else if (r.action === 'table') w.push('table', String(tableOf(r)));
  else if (r.action === 'goto') w.push('goto', String(r.gotoTarget ?? 0));
  else w.push(r.action);
  return w.join(' ');
}
