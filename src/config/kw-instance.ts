/**
 * `vrrp_instance NAME { … }` of keepalived.conf(5), keepalived 2.2.7: the keyword table and
 * the defaults keepalived derives after the block is read (vrrp.c vrrp_complete_instance):
 * version 2 unless told (3 for IPv6), priority 255 for `state MASTER` without `priority`
 * else 100, auth_pass cut to 8 bytes, advert_int rounded, accept mode unless strict, garp
 * and advert defaults from global_defs. Where keepalived logs a problem and carries on with a
 * default, vipd says so as a warning; where the result would differ on the wire, an error.
 */
import { canonicalIP, parseIP } from '../protocol/addr.js';
import { bool } from './kw-global.js';
import { parseRouteBlock, parseRuleBlock, parseVipBlock } from './kw-net.js';
import { emptyNotify, instanceTrackKeywords, notifyKeywords } from './kw-track.js';
import type { Pos } from './lexer.js';
import type { DaemonConfig, InstanceModel } from './model.js';
import { type Builder, type Kw, type Table } from './spec.js';
import type { Statement } from './tree.js';

/** What the walk records besides the model, to derive keepalived's defaults afterwards. */
interface Seen {
  advertInt: { v: number; pos: Pos } | null;
  priority: boolean;
  version: 2 | 3 | null;
  accept: boolean | null;
  lowerPrioNoAdvert: boolean | null;
  higherPrioSendAdvert: boolean | null;
  garpLowerPrioDelayS: number | null;
  garpLowerPrioRepeat: number | null;
  strict: boolean | null;
  nopreempt: Pos | null;
  preemptDelay: Pos | null;
  authPos: Pos | null;
  /** Keywords written but broken (an error is already told): the checks that need them stay quiet. */
  broken: Set<string>;
}

export type InstanceDraft = InstanceModel & { seen: Seen };
type D = InstanceDraft;

function impl(name: string, syntax: string, kaDefault: string, note: string, handle: Kw<D>['handle'], repeat = false): Kw<D> {
  return { name, syntax, status: 'implemented', kaDefault, note, handle, repeat };
}
function planned(name: string, issue: number, syntax: string, kaDefault: string, note: string, handle: Kw<D>['handle'], repeat = false): Kw<D> {
  return { name, syntax, status: 'planned', issue, kaDefault, note, handle, repeat };
}
function keep(b: Builder, st: Statement, d: D, min = 0, max = Infinity): void {
  const w = b.words(st, min, max);
  if (w) d.other[st.keyword] = w;
}
function address(b: Builder, st: Statement): string | null {
  const w = b.word(st);
  if (w === null) return null;
  if (!parseIP(w)) {
    b.err(st.args[0]!.pos, `'${st.keyword}' must be an IP address, got '${w}'`);
    return null;
  }
  return canonicalIP(w);
}

const authTable: Table<D> = {
  block: 'authentication',
  keywords: [
    impl('auth_type', 'PASS|AH', 'none', 'PASS: VRRPv2 simple text password (RFC 3768 5.3.6). AH is refused: vipd cannot speak IPsec AH, and a keepalived peer using it would not accept vipd\'s adverts.', (b, st, d) => {
      const t = b.word(st);
      if (t === 'PASS') d.authType = 1;
      else if (t === 'AH') b.err(st.args[0]!.pos, 'auth_type AH is not supported: vipd cannot send IPsec AH adverts, so keepalived peers using AH would ignore it (two masters). Use PASS or no authentication on every router');
      else if (t !== null) b.err(st.args[0]!.pos, `auth_type must be PASS or AH, got '${t}'`);
    }),
    impl('auth_pass', 'PASSWORD', 'none', 'At most 8 bytes are sent; a longer password is cut to its first 8 bytes with a warning, as keepalived does (its peers compare those 8).', (b, st, d) => {
      const p = b.word(st);
      if (p === null) return;
      const bytes = Buffer.from(p);
      if (bytes.length > 8) {
        b.warn(st.args[0]!.pos, `auth_pass is ${bytes.length} bytes; VRRPv2 carries 8, so only '${bytes.subarray(0, 8).toString()}' is sent and compared, as keepalived does`);
        d.authPass = bytes.subarray(0, 8).toString('latin1');
      } else d.authPass = p;
    }),
  ],
};

const keywords: Kw<D>[] = [
  impl('state', 'MASTER|BACKUP', 'BACKUP (MASTER for priority 255)', 'Informational except that `state MASTER` without `priority` makes the instance the address owner (255), as keepalived; every non-owner starts in BACKUP and waits Master_Down_Interval (RFC 9568 6.4.1), as keepalived 2.2.7 does.', (b, st, d) => {
    const s = b.word(st);
    if (s === 'MASTER') d.initialState = 'MASTER';
    else if (s === 'BACKUP') {
      if (d.initialState === 'MASTER') b.warn(st.pos, 'state MASTER given earlier in this instance: BACKUP is ignored, as keepalived does');
      else d.initialState = 'BACKUP';
    } else if (s !== null) b.err(st.args[0]!.pos, `state must be MASTER or BACKUP, got '${s}'`);
  }),
  impl('interface', 'IFNAME', 'required', 'Interface the instance speaks VRRP on.', (b, st, d) => {
    const w = b.word(st);
    if (w !== null && (w === '' || Buffer.byteLength(w) > 15 || w.includes('/'))) b.err(st.args[0]!.pos, `'${w}' is not a valid interface name (1 to 15 bytes, no '/')`);
    else if (w !== null) d.interface = w;
  }),
  impl('virtual_router_id', '1..255', 'required', 'Virtual Router Identifier (RFC 9568 5.2.3), one per interface and family.', (b, st, d) => { const v = b.int(st, 1, 255); if (v !== null) d.vrid = v; }),
  impl('priority', '1..255', '100 (255 with state MASTER)', 'Base priority; 255 = address owner.', (b, st, d) => { const v = b.int(st, 1, 255); if (v !== null) { d.priority = v; d.seen.priority = true; } }),
  impl('advert_int', 'SECONDS (decimal)', '1', 'Advertisement_Interval: VRRPv2 whole seconds (rounded with a warning, as keepalived), VRRPv3 centiseconds.', (b, st, d) => {
    const v = b.num(st, 0.01, 255);
    if (v !== null) d.seen.advertInt = { v, pos: st.args[0]!.pos };
  }),
  impl('version', '2|3', 'global vrrp_version (2); 3 for IPv6', 'VRRP version of this instance.', (b, st, d) => { const v = b.int(st, 2, 3); if (v !== null) d.seen.version = v as 2 | 3; }),
  impl('nopreempt', '', 'preempt', 'A higher-priority backup does not take over from a lower-priority master (RFC 9568 Preempt_Mode false).', (b, st, d) => { if (b.flag(st)) { d.preempt = false; d.seen.nopreempt = st.pos; } }),
  impl('preempt', '', 'preempt', 'Preempt_Mode true (the default).', (b, st, d) => { if (b.flag(st)) d.preempt = true; }),
  impl('preempt_delay', 'SECONDS (0..1000)', '0', 'A backup waits this long after start before preempting a lower-priority master.', (b, st, d) => {
    const v = b.num(st, 0, 1000);
    if (v !== null) { d.preemptDelayUs = Math.round(v * 1e6); d.seen.preemptDelay = st.pos; }
  }),
  impl('accept', '', 'accept (no_accept with vrrp_strict)', 'Accept_Mode true: a master accepts traffic to its VIPs (keepalived\'s default without vrrp_strict, and always for priority 255).', (b, st, d) => { if (b.flag(st)) d.seen.accept = true; }),
  impl('no_accept', '', 'accept', 'Accept_Mode false (RFC 9568 6.4.3): a non-owner master drops traffic to its VIPs and excluded VIPs (ARP and neighbour discovery still answered) with an nftables table, as keepalived turns on by itself (src/os/nft.ts; table `vipd` or global `nftables NAME`).', (b, st, d) => { if (b.flag(st)) d.seen.accept = false; }),
  impl('lower_prio_no_advert', '[true|false]', 'global vrrp_lower_prio_no_advert (false)', 'A master does not answer a lower-priority advert with its own.', (b, st, d) => { const v = bool(b, st); if (v !== null) d.seen.lowerPrioNoAdvert = v; }),
  impl('higher_prio_send_advert', '[true|false]', 'global vrrp_higher_prio_send_advert (false)', 'A MASTER sends one advert before yielding to a higher-priority one (vipd\'s default: on, off under strict; see vrrp_higher_prio_send_advert).', (b, st, d) => { const v = bool(b, st); if (v !== null) d.seen.higherPrioSendAdvert = v; }),
  impl('garp_master_delay', 'SECONDS', 'global vrrp_garp_master_delay (5)', 'Delay of the second gratuitous ARP / NA burst (0: none).', (b, st, d) => { d.garpMasterDelayS = b.int(st, 0, 4294) ?? d.garpMasterDelayS; }),
  impl('garp_master_repeat', 'COUNT', 'global vrrp_garp_master_repeat (5)', 'Gratuitous ARPs / NAs per burst.', (b, st, d) => { d.garpMasterRepeat = b.int(st, 1, 255) ?? d.garpMasterRepeat; }),
  impl('garp_master_refresh', 'SECONDS', 'global vrrp_garp_master_refresh (0: off)', 'While MASTER, the gratuitous ARPs / NAs are sent again every N seconds (checked as each advert goes out, as keepalived does).', (b, st, d) => { d.garpMasterRefreshS = b.int(st, 0, 4294967) ?? d.garpMasterRefreshS; }),
  impl('garp_master_refresh_repeat', 'COUNT', 'global vrrp_garp_master_refresh_repeat (1)', 'Gratuitous ARPs / NAs per refresh.', (b, st, d) => { d.garpMasterRefreshRepeat = b.int(st, 1, 255) ?? d.garpMasterRefreshRepeat; }),
  impl('garp_lower_prio_delay', 'SECONDS', 'global vrrp_garp_lower_prio_delay (global vrrp_garp_master_delay)', 'A MASTER that hears a lower-priority master announces its VIPs again now and once more after this delay (0: no second burst).', (b, st, d) => { d.seen.garpLowerPrioDelayS = b.int(st, 0, 4294) ?? d.seen.garpLowerPrioDelayS; }),
  impl('garp_lower_prio_repeat', 'COUNT', 'global vrrp_garp_lower_prio_repeat (global vrrp_garp_master_repeat)', 'Gratuitous ARPs / NAs per burst when a MASTER hears a lower-priority master (0: none).', (b, st, d) => { d.seen.garpLowerPrioRepeat = b.int(st, 0, 255) ?? d.seen.garpLowerPrioRepeat; }),
  impl('down_timer_adverts', 'COUNT (1..100)', 'global vrrp_down_timer_adverts (3)', 'Adverts missed in Master_Down_Interval before a backup takes over (the RFC\'s 3).', (b, st, d) => { d.downTimerAdverts = b.int(st, 1, 100) ?? d.downTimerAdverts; }),
  impl('unicast_src_ip', 'ADDR', 'the interface\'s primary address', 'Source address of unicast adverts.', (b, st, d) => { d.unicastSrc = address(b, st) ?? d.unicastSrc; }),
  impl('unicast_peer', '{ ADDR [min_ttl N] [max_ttl N] … }', 'multicast', 'Adverts go to these addresses instead of the multicast group; an advert from a peer must come with a TTL in its min_ttl..max_ttl (default 0..255: unicast adverts may cross routers, as keepalived accepts them). An empty block leaves the instance on multicast, with a warning (keepalived: deprecated).', (b, st, d) => {
    const entries = b.list(st);
    if (!entries.length && st.block) b.warn(st.pos, 'unicast_peer without any peer: adverts go to the multicast group (keepalived 2.2.7 does the same and calls it deprecated); list the peers or remove the block');
    for (const e of entries) {
      const p = parseIP(e.text);
      if (!p) { b.err(e.pos, `unicast_peer entries are addresses, got '${e.text}'`); continue; }
      const peer = { address: canonicalIP(e.text)!, minTtl: null as number | null, maxTtl: null as number | null };
      const w = e.st.args;
      for (let i = 0; i < w.length; i += 2) {
        const k = w[i]!.text;
        if (k !== 'min_ttl' && k !== 'max_ttl') { b.err(w[i]!.pos, `unknown unicast_peer option '${k}' (min_ttl, max_ttl)`); break; }
        const v = w[i + 1];
        if (!v || !/^\d+$/.test(v.text) || Number(v.text) > 255) { b.err((v ?? w[i]!).pos, `${k} takes 0..255`); break; }
        if (k === 'min_ttl') peer.minTtl = Number(v.text); else peer.maxTtl = Number(v.text);
      }
      if (d.unicastPeers.some((x) => x.address === peer.address)) b.warn(e.pos, `unicast_peer ${peer.address} listed twice`);
      else d.unicastPeers.push(peer);
    }
  }, true),
  {
    name: 'authentication', syntax: '{ auth_type PASS|AH; auth_pass PASSWORD }', status: 'implemented', kaDefault: 'none', sub: authTable as Table<never>,
    note: 'VRRPv2 only; with VRRPv3 keepalived ignores it with a warning, and so does vipd.',
    handle: (b, st, d) => { d.seen.authPos = st.pos; b.walk(authTable, b.block(st), d, `authentication of ${d.name}`); },
  },
  impl('virtual_ipaddress', '{ ADDR[/LEN] [dev IF] [label L] [brd|scope|peer|no_track|preferred_lft …] … }', 'required for VRRPv3', 'The VIPs, carried in adverts and held by the master, with every option keepalived sends (src/os/rtnl-addr.ts).', (b, st, d) => {
    d.vips.push(...parseVipBlock(b, st, `virtual_ipaddress of ${d.name}`));
  }, true),
  impl('virtual_ipaddress_excluded', '{ ADDR … }', 'none', 'Addresses the master holds (and announces) without carrying them in adverts.', (b, st, d) => {
    d.vipsExcluded.push(...parseVipBlock(b, st, `virtual_ipaddress_excluded of ${d.name}`));
  }, true),
  impl('virtual_routes', '{ ROUTE … }', 'none', 'Routes the master holds: added after its addresses, removed before them; one deleted by hand is put back (keepalived goes to BACKUP instead) unless no_track.', (b, st, d) => { d.routes.push(...parseRouteBlock(b, st)); }, true),
  impl('virtual_rules', '{ RULE … }', 'none', 'Policy-routing rules the master holds: added after its routes, removed first; one deleted by hand is put back unless no_track.', (b, st, d) => { d.rules.push(...parseRuleBlock(b, st)); }, true),
  impl('mcast_src_ip', 'ADDR', 'the interface\'s primary address', 'Source address of the adverts (as unicast_src_ip, without making the instance unicast; keepalived sets the same source for both).', (b, st, d) => { d.mcastSrc = address(b, st) ?? d.mcastSrc; }),
  planned('mcast_dst_ip', 24, 'ADDR', 'global vrrp_mcast_group4/6', 'keepalived sends adverts to this multicast group.', (b, st, d) => { d.mcastDst = address(b, st) ?? d.mcastDst; }),
  planned('unicast_ttl', 24, '1..255', '255', 'keepalived sends unicast adverts with this TTL (IPv4).', (b, st, d) => { d.unicastTtl = b.int(st, 1, 255) ?? d.unicastTtl; }),
  impl('check_unicast_src', '', 'off', 'Always on in vipd: a unicast advert from an address that is not a unicast_peer is dropped and counted (keepalived accepts it unless this is set).', (b, st) => { b.flag(st); }),
  impl('unicast_fault_no_peer', '', 'off', 'An instance without any unicast_peer stays in FAULT (rather than falling back to multicast).', (b, st, d) => keep(b, st, d, 0, 0)),
  planned('old_unicast_checksum', 24, '[never]', 'off', 'keepalived computes unicast v3 checksums over the multicast group (pre-2.0 peers).', (b, st, d) => keep(b, st, d, 0, 1)),
  impl('track_src_ip', '', 'off', 'The instance is in FAULT while its configured source address (unicast_src_ip or mcast_src_ip) is gone from its interface; without one, nothing (keepalived clears it).', (b, st, d) => keep(b, st, d, 0, 0)),
  planned('native_ipv6', 24, '', 'off', 'keepalived forces IPv6 for an instance without IPv6 VIPs.', (b, st, d) => keep(b, st, d, 0, 0)),
  impl('strict_mode', '[true|false]', 'global vrrp_strict', 'RFC conformance for this instance, as keepalived: no unicast, no authentication, no accept mode (traffic to the VIPs of a non-owner master dropped with nftables), lower_prio_no_advert, no lower-priority GARPs.', (b, st, d) => { const v = bool(b, st); if (v !== null) d.seen.strict = v; }),
  impl('skip_check_adv_addr', '[true|false]', 'global vrrp_skip_check_adv_addr (off)', 'The addresses in adverts are not compared with the VIPs: no drop (VRRPv2), no warning (VRRPv3).', (b, st, d) => { const v = bool(b, st); if (v !== null) d.skipCheckAdvAddr = v; }),
  impl('use_vmac', '[IFNAME]', 'off', 'A private macvlan with the virtual router MAC (RFC 9568 7.3), named IFNAME or vrrp.VRID, made at start in every state: the VIPs live there, adverts are sent and received there, GARPs and NAs carry the virtual MAC (docs/daemon.md, VMAC).', (b, st, d) => {
    const w = b.words(st, 0, 1);
    const name = w?.[0];
    // the kernel's rule for a link name (keepalived refuses the same: dev_name_valid)
    if (name !== undefined && (Buffer.byteLength(name) > 15 || name === '.' || name === '..' || /[/:\s]/.test(name))) {
      b.err(st.args[0]!.pos, `use_vmac: '${name}' is not a valid interface name (1 to 15 bytes, no '/', ':' or space)`);
    } else if (w) d.vmac = { name: name ?? null, xmitBase: d.vmac?.xmitBase ?? false, mac: d.vmac?.mac ?? null };
  }),
  planned('use_vmac_addr', 0, '', 'off', 'keepalived keeps the VMAC address on the base interface.', (b, st, d) => keep(b, st, d, 0, 0)),
  impl('vmac_xmit_base', '', 'off', 'Adverts are sent and received on the base interface, not the VMAC (the VIPs stay on the VMAC); forced with unicast peers, as keepalived forces it.', (b, st, d) => { if (b.flag(st)) d.vmac = { name: d.vmac?.name ?? null, xmitBase: true, mac: d.vmac?.mac ?? null }; }),
  planned('use_ipvlan', 0, '[IFNAME] [ADDR] [bridge|private|vepa]', 'off', 'keepalived creates an ipvlan for the VIPs.', (b, st, d) => keep(b, st, d, 0, 3)),
  planned('garp_extra_if', 0, '[SECONDS] [all]', 'off', 'keepalived also sends gratuitous ARPs on the VMAC\'s base interface.', (b, st, d) => keep(b, st, d, 0, 2)),
  planned('vmac_garp_intvl', 0, '[SECONDS] [all]', 'off', 'deprecated name of garp_extra_if.', (b, st, d) => keep(b, st, d, 0, 2)),
  planned('vrf', 0, 'IFNAME', 'none', 'keepalived binds the instance\'s sockets to this VRF.', (b, st, d) => keep(b, st, d, 1, 1)),
  planned('promote_secondaries', 0, '', 'off', 'keepalived sets promote_secondaries on the interface so removing one VIP keeps the others.', (b, st, d) => keep(b, st, d, 0, 0)),
  { name: 'kernel_rx_buf_size', syntax: 'BYTES', status: 'not-needed', note: 'vipd sizes its VRRP receive queues itself (docs/daemon.md).', handle: (b, st, d) => keep(b, st, d, 1, 1) },
  { name: 'debug', syntax: '0..4', status: 'not-needed', note: 'keepalived\'s per-instance debug level; use `vipd --log-level debug`.', handle: (b, st, d) => keep(b, st, d, 0, 1) },
  { name: 'linkbeat_use_polling', syntax: '', status: 'not-needed', note: 'vipd follows links through rtnetlink events, never by polling.', handle: (b, st, d) => keep(b, st, d, 0, 0) },
  { name: 'lvs_sync_daemon_interface', syntax: 'IFNAME', status: 'outside', note: 'LVS sync daemon: run `keepalived --check` beside vipd for LVS.', handle: (b, st, d) => keep(b, st, d, 0, Infinity) },
  ...instanceTrackKeywords,
  ...(notifyKeywords as unknown as Kw<D>[]),
];

export const instanceTable: Table<D> = { block: 'vrrp_instance', keywords };

/** A fresh instance with keepalived's per-instance defaults, taken from global_defs. */
export function newInstance(name: string, pos: Pos, c: DaemonConfig): InstanceDraft {
  const g = c.global;
  return {
    name, interface: '', vrid: 0, priority: 100, version: g.vrrpVersion, advertIntervalUs: 1_000_000, preempt: true, preemptDelayUs: 0,
    acceptMode: true, lowerPrioNoAdvert: g.lowerPrioNoAdvert, higherPrioSendAdvert: g.higherPrioSendAdvert, downTimerAdverts: g.downTimerAdverts, skipCheckAdvAddr: g.skipCheckAdvAddr, initialState: null, family: 4,
    vips: [], vipsExcluded: [], routes: [], rules: [], unicastPeers: [], unicastSrc: null, mcastSrc: null, mcastDst: null, unicastTtl: 255,
    authType: 0, authPass: null, garpMasterDelayS: g.garpMasterDelayS, garpMasterRepeat: g.garpMasterRepeat,
    garpMasterRefreshS: g.garpMasterRefreshS, garpMasterRefreshRepeat: g.garpMasterRefreshRepeat, garpLowerPrioDelayS: 0, garpLowerPrioRepeat: 0,
    strict: g.strict, vmac: null, dontTrackPrimary: false, trackInterfaces: [], trackScripts: [], trackFiles: [], trackProcesses: [], trackBfd: [],
    notify: emptyNotify(),
    smtpAlert: null as unknown as boolean, syncGroup: null, other: {}, pos,
    seen: {
      advertInt: null, priority: false, version: null, accept: null, lowerPrioNoAdvert: null, higherPrioSendAdvert: null, garpLowerPrioDelayS: null,
      garpLowerPrioRepeat: null, strict: null, nopreempt: null, preemptDelay: null, authPos: null, broken: new Set(),
    },
  };
}
