/**
 * keepalived.conf -> DaemonConfig, as keepalived 2.2.7 reads it. The keyword tables
 * (kw-*.ts) say what each keyword means and what vipd does with it; this file walks the top
 * level, derives each instance's defaults and checks what spans instances. Errors carry
 * file:line:column and are fatal; warnings say what vipd reads but will not act on.
 */
import { parseIP } from '../protocol/addr.js';
import { defaultGlobals, globalDefsTable } from './kw-global.js';
import { instanceTable, newInstance, type InstanceDraft } from './kw-instance.js';
import { parseRouteBlock, parseRuleBlock, parseVipBlock } from './kw-net.js';
import { crossCheckTracking, topTrackKeywords } from './kw-track.js';
import { ConfigError, type Pos } from './lexer.js';
import { ConfigErrors, type DaemonConfig, type GarpGroupModel, type InstanceModel } from './model.js';
import { Builder, warned, type Kw, type Table } from './spec.js';
import { parseFileWithWarnings, type FileSource, type Statement } from './tree.js';

type C = DaemonConfig;

/** Sub-blocks walked for typos only: what they say is warned about at the block (issue #18). */
const quiet = (name: string, syntax: string, note: string, min = 0, max = Infinity): Kw<C> => ({
  name, syntax, status: 'implemented', note, repeat: true, handle: (b, st) => { if (st.block) b.block(st); else b.words(st, min, max); },
});
const trackGroupTable: Table<C> = { block: 'track_group', keywords: [quiet('group', '{ INSTANCE … }', 'The instances whose tracking the group follows.')] };
/** The garp_group being read (the handler pushes it before walking its block). */
const lastGroup = (c: C): GarpGroupModel => c.garpGroups[c.garpGroups.length - 1]!;
/** keepalived 2.2.7: one interface in one garp_group only ("garp_group already specified"). */
function groupInterface(b: Builder, st: Statement, c: C, name: string, at: Statement['pos']): void {
  if (c.garpGroups.some((g) => g.interfaces.includes(name))) b.warn(at, `garp_group already specified for ${name}: this one is ignored (as keepalived does)`);
  else lastGroup(c).interfaces.push(name);
}
const garpGroupTable: Table<C> = {
  block: 'garp_group',
  keywords: [
    { name: 'garp_interval', syntax: 'SECONDS (decimal)', status: 'implemented', note: 'Least time between two gratuitous ARPs on the group\'s interfaces.', handle: (b, st, c) => { const v = b.num(st, 0, 2147); if (v !== null) lastGroup(c).garpIntervalS = v; } },
    { name: 'gna_interval', syntax: 'SECONDS (decimal)', status: 'implemented', note: 'Least time between two unsolicited NAs on the group\'s interfaces.', handle: (b, st, c) => { const v = b.num(st, 0, 2147); if (v !== null) lastGroup(c).gnaIntervalS = v; } },
    { name: 'interface', syntax: 'IFNAME', status: 'implemented', note: 'One interface of the group.', repeat: true, handle: (b, st, c) => { const w = b.word(st); if (w !== null) groupInterface(b, st, c, w, st.args[0]!.pos); } },
    {
      name: 'interfaces', syntax: '{ IF … }', status: 'implemented', note: 'Several interfaces of the group.', repeat: true,
      handle: (b, st, c) => { for (const s of b.block(st)) { b.words(s, 0, 0); groupInterface(b, s, c, s.keyword, s.pos); } },
    },
  ],
};

const LVS = 'LVS virtual servers are keepalived\'s checker process, not VRRP: run `keepalived --check -f FILE` beside vipd for them';

function instanceKw(): Kw<C> {
  return {
    name: 'vrrp_instance', syntax: 'NAME { … }', status: 'implemented', repeat: true, sub: instanceTable as Table<never>,
    note: 'A VRRP router for one VRID on one interface (RFC 9568).',
    handle: (b, st, c) => {
      const name = st.args[0]?.text;
      if (!name || st.args.length !== 1) b.err(st.pos, 'vrrp_instance needs exactly one name');
      const d = newInstance(name ?? '?', st.pos, c);
      d.seen.broken = b.walk(instanceTable, b.block(st), d, `vrrp_instance ${d.name}`);
      c.instances.push(d);
    },
  };
}

const topKeywords: Kw<C>[] = [
  {
    name: 'global_defs', syntax: '{ … }', status: 'implemented', repeat: true, sub: globalDefsTable as Table<never>,
    note: 'Settings for the whole daemon; read before the instances wherever it stands.',
    handle: () => undefined, // walked first, in buildConfig
  },
  instanceKw(),
  ...topTrackKeywords,
  { name: 'static_ipaddress', syntax: '{ ADDR … }', status: 'implemented', repeat: true, note: 'Added at start whatever the VRRP state (put back if deleted, unless no_track) and left at stop, as keepalived does.', handle: (b, st, c) => { c.staticAddresses.push(...parseVipBlock(b, st, 'static_ipaddress')); } },
  { name: 'static_routes', syntax: '{ ROUTE … }', status: 'implemented', repeat: true, note: 'Added at start whatever the VRRP state (put back if deleted, unless no_track) and left at stop, as keepalived does.', handle: (b, st, c) => { c.staticRoutes.push(...parseRouteBlock(b, st)); } },
  { name: 'static_rules', syntax: '{ RULE … }', status: 'implemented', repeat: true, note: 'Added at start whatever the VRRP state (put back if deleted, unless no_track) and left at stop, as keepalived does.', handle: (b, st, c) => { c.staticRules.push(...parseRuleBlock(b, st)); } },
  {
    name: 'track_group', syntax: 'NAME { group { INSTANCE … } }', status: 'planned', repeat: true, sub: trackGroupTable as Table<never>,
    note: 'keepalived lets static addresses, routes and rules with `track_group NAME` follow these instances\' tracking.',
    handle: (b, st, c) => { b.walk(trackGroupTable, b.block(st), c, `track_group ${st.args[0]?.text ?? ''}`); },
  },
  {
    name: 'garp_group', syntax: '{ garp_interval S; gna_interval S; interface IF | interfaces { IF … } }', status: 'implemented', repeat: true, sub: garpGroupTable as Table<never>,
    note: 'Announcements on these interfaces share one spacing, whichever instance sends them (beats the global vrrp_garp_interval / vrrp_gna_interval there).',
    handle: (b, st, c) => {
      c.garpGroups.push({ garpIntervalS: null, gnaIntervalS: null, interfaces: [] });
      b.walk(garpGroupTable, b.block(st), c, 'garp_group');
    },
  },
  {
    name: 'interface_up_down_delays', syntax: '{ IF DOWN_DELAY [UP_DELAY] … }', status: 'implemented', kaDefault: 'none (link changes act at once)', repeat: true,
    note: 'Seconds (0..255) a link change of IF waits before it counts; a change back within the delay cancels it. Only after the interface was first seen up; capped below (down_timer_adverts - 1) × the advert interval of the instances on it, as keepalived does.',
    handle: (b, st, c) => {
      for (const l of b.block(st)) {
        const vals = l.args.map((a) => (/^\d+(\.\d{1,6})?$/.test(a.text) && Number(a.text) <= 255 ? Number(a.text) : NaN));
        if (!vals.length || vals.length > 2) b.err(l.pos, `interface_up_down_delays: '${l.keyword} DOWN_DELAY [UP_DELAY]' expected (seconds), got ${vals.length} value(s)`);
        else if (vals.some((v) => Number.isNaN(v))) b.err(l.pos, `interface_up_down_delays: ${l.keyword}: delays are seconds from 0 to 255, got '${l.args.map((a) => a.text).join(' ')}'`);
        else if (c.ifDelays.some((d) => d.name === l.keyword)) b.err(l.pos, `interface_up_down_delays: ${l.keyword} given twice`);
        else c.ifDelays.push({ name: l.keyword, downUs: Math.round(vals[0]! * 1e6), upUs: Math.round((vals[1] ?? 0) * 1e6), pos: l.pos });
      }
    },
  },
  {
    name: 'net_namespace', syntax: 'NAME', status: 'implemented', note: 'vipd runs in network namespace NAME (as `--namespace NAME`), with per-namespace pid files and control socket.',
    handle: (b, st, c) => { const w = b.word(st); if (w !== null) c.netNamespace = w; },
  },
  {
    name: 'instance', syntax: 'NAME', status: 'implemented', note: 'Names this daemon (as `-i NAME` for paths): pid files and control socket per instance name.',
    handle: (b, st, c) => { const w = b.word(st); if (w !== null) c.instanceName = w; },
  },
  warned('use_pid_dir', 'not-needed', 'vipd\'s pid files and control socket are already per namespace and instance (docs/daemon.md).', ''),
  warned('linkbeat_use_polling', 'not-needed', 'vipd follows links through rtnetlink events, never by polling.', ''),
  warned('linkbeat_interfaces', 'not-needed', 'vipd follows links through rtnetlink events, never by polling.', '{ IF … }'),
  warned('child_wait_time', 'not-needed', 'keepalived waits for its children at exit; vipd has none.', 'SECONDS'),
  ...['virtual_server', 'virtual_server_group', 'SSL'].map((n) => warned<C>(n, 'outside', LVS, 'ADDR PORT { … }')),
  warned('net_namespace_ipvs', 'outside', LVS, 'NAME'),
  warned('namespace_with_ipsets', 'not-needed', 'keepalived\'s ipset names per namespace; vipd uses no ipsets.', ''),
  warned('bfd_instance', 'outside', 'vipd has no BFD; keepalived\'s BFD process is not replaced (run FRR bfdd).', 'NAME { … }'),
];

export const topTable: Table<C> = { block: 'the top level', keywords: topKeywords };

function emptyConfig(file: string): C {
  return {
    file, routerId: null, vrrpPriority: null, vrrpRtPriority: null, netNamespace: null, instanceName: null, global: defaultGlobals(), instances: [], scripts: [],
    trackFiles: [], trackProcesses: [], syncGroups: [], staticAddresses: [], staticRoutes: [], staticRules: [], garpGroups: [], ifDelays: [], warnings: [],
  };
}

/** keepalived's vrrp_complete_instance: the defaults and checks that need the whole block. */
function finish(b: Builder, d: InstanceDraft, c: C): InstanceModel {
  const g = c.global;
  const s = d.seen;
  const where = `vrrp_instance ${d.name}`;
  d.strict = s.strict ?? g.strict;
  if (!d.interface && !s.broken.has('interface')) {
    b.err(d.pos, d.unicastPeers.length
      ? `${where}: 'interface' is required (keepalived can run a unicast instance on unicast_src_ip alone; vipd needs the interface)`
      : `${where}: 'interface' is required (keepalived refuses it too: "Unknown interface")`);
  }
  if (!d.vrid && !s.broken.has('virtual_router_id')) b.err(d.pos, `${where}: 'virtual_router_id' is required`);
  if ('track_src_ip' in d.other && !d.unicastSrc && !d.mcastSrc) b.warn(d.pos, `${where}: track_src_ip without unicast_src_ip or mcast_src_ip does nothing (keepalived 2.2.7 clears it silently): give the source address to track`);
  const fams = new Set(d.vips.map((v) => v.family));
  if (fams.size > 1) b.err(d.vips.find((v) => v.family !== d.vips[0]!.family)?.pos ?? d.pos, `${where}: IPv4 and IPv6 addresses in one virtual_ipaddress (keepalived ignores those of the other family; use one instance per family, or virtual_ipaddress_excluded)`);
  d.family = d.vips[0]?.family ?? (d.unicastSrc ? parseIP(d.unicastSrc)!.family : 4);
  if (d.family === 6) {
    if (s.version === 2) b.err(d.pos, `${where}: VRRPv2 has no IPv6 (RFC 3768); use version 3`);
    d.version = 3;
  } else d.version = s.version ?? g.vrrpVersion;
  if (d.vips.length === 0 && !s.broken.has('virtual_ipaddress')) {
    if (d.version === 3 || d.strict) b.err(d.pos, `${where}: 'virtual_ipaddress' with at least one address is required for VRRPv3 (keepalived refuses the instance too)`);
    else b.warn(d.pos, `${where} has no virtual_ipaddress: it elects a master that holds no address, as keepalived does`);
  }
  if (!s.priority && !s.broken.has('priority') && d.initialState === 'MASTER') {
    d.priority = 255;
    b.warn(d.pos, `${where}: state MASTER without priority makes it the address owner (priority 255), as keepalived does`);
  }
  authentication(b, d);
  if (d.priority === 255 && !d.preempt) {
    b.warn(s.nopreempt!, `${where}: nopreempt does nothing for the address owner (priority 255): ignored, as keepalived does`);
    d.preempt = true;
  }
  if (d.initialState === 'MASTER') {
    if (!d.preempt) {
      b.warn(s.nopreempt!, `${where}: nopreempt does not work with state MASTER: keepalived clears it, and so does vipd (use state BACKUP with nopreempt on every router)`);
      d.preempt = true;
    }
    if (d.preemptDelayUs) {
      b.warn(s.preemptDelay!, `${where}: preempt_delay does not work with state MASTER: cleared, as keepalived does`);
      d.preemptDelayUs = 0;
    }
  }
  if (d.preemptDelayUs && !d.preempt) {
    b.warn(s.preemptDelay!, `${where}: preempt_delay with nopreempt does nothing: cleared, as keepalived does`);
    d.preemptDelayUs = 0;
  }
  d.acceptMode = s.accept ?? (d.priority === 255 ? true : !d.strict);
  d.lowerPrioNoAdvert = s.lowerPrioNoAdvert ?? (d.strict ? true : g.lowerPrioNoAdvert);
  d.higherPrioSendAdvert = s.higherPrioSendAdvert ?? (d.strict ? false : g.higherPrioSendAdvert);
  d.garpLowerPrioDelayS = s.garpLowerPrioDelayS ?? (d.strict ? 0 : g.garpLowerPrioDelayS ?? g.garpMasterDelayS);
  d.garpLowerPrioRepeat = s.garpLowerPrioRepeat ?? (d.strict ? 0 : g.garpLowerPrioRepeat ?? g.garpMasterRepeat);
  d.smtpAlert = (d.smtpAlert as boolean | null) ?? g.mail.alert;
  advertInterval(b, d, s.advertInt);
  for (const p of d.unicastPeers) if (parseIP(p.address)!.family !== d.family) b.err(d.pos, `${where}: unicast_peer ${p.address} is not IPv${d.family}`);
  const { seen: _seen, ...model } = d;
  return model;
}

/**
 * keepalived 2.2.7 (vrrp_complete_instance) drops an instance's authentication, reporting it
 * (so `keepalived -t` exits 5) but running the instance: under strict mode, for VRRPv3 (which
 * has none, RFC 9568), and for auth_type without auth_pass; auth_pass without auth_type is
 * dropped without a word. vipd drops it the same way (its adverts then match keepalived's)
 * with a warning that says what to change. None suggests giving up a password that is sent:
 * VRRPv2, keepalived's default version, carries it.
 */
function authentication(b: Builder, d: InstanceDraft): void {
  const s = d.seen;
  // a broken authentication block: its error is told and the file is refused
  if ((!d.authType && d.authPass === null) || s.broken.has('authentication')) return;
  const where = `vrrp_instance ${d.name}`;
  const everyRouter = 'on every router of this VRID';
  if (d.authType && (d.strict || d.version === 3)) {
    let why: string;
    let fix: string;
    if (d.strict) {
      why = `${s.strict !== null ? 'strict_mode' : 'vrrp_strict'} allows no authentication`;
      fix = d.version === 3 ? 'remove `authentication` (VRRPv3 has none either)' : `remove \`authentication\`, or remove \`${s.strict !== null ? 'strict_mode' : 'vrrp_strict'}\` to keep the password (${everyRouter})`;
    } else if (d.family === 6) {
      why = 'VRRPv3 has no authentication (RFC 9568), and IPv6 is VRRPv3 only';
      fix = 'remove `authentication`';
    } else {
      why = 'VRRPv3 has no authentication (RFC 9568)';
      fix = s.version === 3
        ? `remove \`authentication\`, or change \`version 3\` to \`version 2\` (keepalived's default) to keep the password (${everyRouter})`
        : `remove \`authentication\`, or add \`version 2\` to this instance to keep the password (global_defs has \`vrrp_version 3\`; keepalived's default is VRRPv2; ${everyRouter})`;
    }
    b.warn(s.authPos!, `${where}: ${why}: keepalived ignores \`authentication\` (\`keepalived -t\` reports it as an error), and so does vipd; ${fix}`);
    d.authType = 0;
    d.authPass = null;
  } else if (d.authType && !d.authPass) {
    b.warn(s.authPos!, `${where}: auth_type PASS without auth_pass: keepalived uses no authentication (\`keepalived -t\` reports it as an error), and so does vipd; add \`auth_pass\` with the password of the other routers, or remove \`auth_type\``);
    d.authType = 0;
  } else if (!d.authType) {
    b.warn(s.authPos!, `${where}: auth_pass without auth_type: keepalived uses no authentication, and so does vipd; add \`auth_type PASS\` to use the password (${everyRouter})`);
    d.authPass = null;
  }
}

/** advert_int as keepalived rounds it: v2 to whole seconds (at least 1), v3 to centiseconds, with a warning. */
function advertInterval(b: Builder, d: InstanceDraft, ai: { v: number; pos: Pos } | null): void {
  const v = ai?.v ?? 1;
  let cs = Math.round(v * 100);
  if (d.version === 2) {
    if (cs % 100) {
      const r = Math.max(1, Math.round(v));
      b.warn(ai!.pos, `VRRPv2 advert_int is whole seconds (RFC 3768 5.3.7): ${v} s is rounded to ${r} s, as keepalived does`);
      cs = r * 100;
    }
  } else {
    if (Math.abs(v * 100 - cs) > 1e-9) b.warn(ai!.pos, `VRRPv3 advert_int is in steps of 10 ms: ${v} s is rounded to ${Math.max(1, cs) / 100} s, as keepalived does`);
    if (cs > 4095) {
      b.warn(ai!.pos, `VRRPv3 advert_int is at most 40.95 s (RFC 9568 5.2.7): ${v} s becomes 40.95 s, as keepalived does`);
      cs = 4095;
    }
    cs = Math.max(1, cs);
  }
  d.advertIntervalUs = cs * 10_000;
}

/** The top level of a parsed file: global_defs first (its defaults apply to every instance), then the rest in order. */
export function buildConfig(file: string, stmts: Parameters<Builder['walk']>[1], preWarnings: C['warnings'] = []): DaemonConfig {
  const b = new Builder();
  b.know(topTable as Table<never>, globalDefsTable as Table<never>, instanceTable as Table<never>);
  const c = emptyConfig(file);
  for (const st of stmts) if (st.keyword === 'global_defs') b.walk(globalDefsTable, b.block(st), c);
  c.routerId = c.global.routerId;
  b.walk(topTable, stmts, c);
  c.instances = c.instances.map((d) => finish(b, d as InstanceDraft, c));
  crossCheckTracking(b, c);
  const names = new Map<string, Pos>();
  const vrids = new Map<string, string>();
  for (const i of c.instances) {
    if (names.has(i.name)) b.err(i.pos, `vrrp_instance ${i.name} defined twice (first at line ${names.get(i.name)!.line})`);
    names.set(i.name, i.pos);
    const key = `${i.interface}/${i.family}/${i.vrid}`;
    if (i.vrid && vrids.has(key)) b.err(i.pos, `vrrp_instance ${i.name}: VRID ${i.vrid} on ${i.interface} (IPv${i.family}) already used by ${vrids.get(key)}`);
    vrids.set(key, i.name);
  }
  const warnings = [...preWarnings, ...b.warnings];
  if (b.errors.length) throw new ConfigErrors(b.errors, warnings);
  c.warnings = warnings;
  return c;
}

export async function loadKeepalivedConfig(file: string, src: FileSource, opts: { configId?: string; pause?: () => Promise<void> } = {}): Promise<DaemonConfig> {
  try {
    const { statements, warnings } = await parseFileWithWarnings(file, src, opts);
    await opts.pause?.();
    return buildConfig(file, statements, warnings);
  } catch (e) {
    if (e instanceof ConfigError) throw new ConfigErrors([{ pos: e.pos, message: e.detail }]);
    throw e;
  }
}
