/**
 * keepalived.conf -> DaemonConfig. The supported subset is listed in SUPPORTED; any other
 * keyword is refused by name with file:line:column (never silently ignored).
 */
import { canonicalIP, parseIP, type Family } from '../protocol/addr.js';
import { ConfigError, type Pos } from './lexer.js';
import { ConfigErrors, type DaemonConfig, type InstanceModel, type VipConfig } from './model.js';
import { parseFile, type FileSource, type Statement } from './tree.js';

/** keepalived keywords vipd knows of but does not implement yet (clearer message). */
const KNOWN_UNSUPPORTED = new Set([
  'vrrp_script', 'track_script', 'track_interface', 'track_file', 'vrrp_sync_group', 'virtual_server', 'virtual_server_group',
  'notify', 'notify_master', 'notify_backup', 'notify_fault', 'notify_stop', 'use_vmac', 'vmac_xmit_base', 'virtual_routes',
  'virtual_rules', 'virtual_ipaddress_excluded', 'static_ipaddress', 'static_routes', 'smtp_alert', 'notification_email',
  'dont_track_primary', 'mcast_src_ip', 'old_unicast_checksum', 'garp_lower_prio_repeat', 'garp_master_refresh',
  'vrrp_rlimit_rttime', 'vrrp_no_swap', 'vrrp_cpu_affinity', 'vrrp_rx_bufs_policy', 'vrrp_rx_bufs_multiplier',
]);

class Builder {
  errors: { pos: Pos; message: string }[] = [];
  err(pos: Pos, message: string): void {
    this.errors.push({ pos, message });
  }
  unknown(st: Statement, where: string): void {
    this.err(st.pos, KNOWN_UNSUPPORTED.has(st.keyword)
      ? `keepalived keyword '${st.keyword}' is not supported by vipd yet`
      : `unknown keyword '${st.keyword}' in ${where}`);
  }
  /** Exactly n arguments. */
  args(st: Statement, n: number): string[] | null {
    if (st.args.length !== n) {
      this.err(st.pos, `'${st.keyword}' takes ${n === 0 ? 'no argument' : n === 1 ? 'one argument' : `${n} arguments`}, got ${st.args.length}`);
      return null;
    }
    if (st.block) this.err(st.pos, `'${st.keyword}' takes no block`);
    return st.args.map((a) => a.text);
  }
  int(st: Statement, min: number, max: number): number | null {
    const a = this.args(st, 1);
    if (!a) return null;
    const v = Number(a[0]);
    if (!/^-?\d+$/.test(a[0]!) || v < min || v > max) {
      this.err(st.args[0]!.pos, `'${st.keyword}' must be an integer from ${min} to ${max}, got '${a[0]}'`);
      return null;
    }
    return v;
  }
  num(st: Statement, min: number, max: number): number | null {
    const a = this.args(st, 1);
    if (!a) return null;
    const v = Number(a[0]);
    if (!/^\d+(\.\d+)?$/.test(a[0]!) || v < min || v > max) {
      this.err(st.args[0]!.pos, `'${st.keyword}' must be a number from ${min} to ${max}, got '${a[0]}'`);
      return null;
    }
    return v;
  }
  block(st: Statement): Statement[] {
    if (!st.block) {
      this.err(st.pos, `'${st.keyword}' needs a { block }`);
      return [];
    }
    return st.block;
  }
}

interface Globals {
  routerId: string | null;
  version: 2 | 3;
  garpDelay: number;
  garpRepeat: number;
  vrrpPriority: number | null;
  vrrpRtPriority: number | null;
}

function globalDefs(b: Builder, stmts: Statement[], g: Globals): void {
  for (const st of stmts) {
    switch (st.keyword) {
      case 'router_id': g.routerId = b.args(st, 1)?.[0] ?? g.routerId; break;
      case 'vrrp_version': { const v = b.int(st, 2, 3); if (v) g.version = v as 2 | 3; break; }
      case 'vrrp_garp_master_delay': g.garpDelay = b.int(st, 0, 3600) ?? g.garpDelay; break;
      case 'vrrp_garp_master_repeat': g.garpRepeat = b.int(st, 1, 255) ?? g.garpRepeat; break;
      // keepalived: nice value of the VRRP process (negative = more CPU when the host is busy)
      case 'vrrp_priority': g.vrrpPriority = b.int(st, -20, 19) ?? g.vrrpPriority; break;
      // keepalived: real-time scheduling (SCHED_RR) at this priority
      case 'vrrp_rt_priority': g.vrrpRtPriority = b.int(st, 1, 99) ?? g.vrrpRtPriority; break;
      default: b.unknown(st, 'global_defs');
    }
  }
}

function vip(b: Builder, st: Statement): VipConfig | null {
  const words = [st.keyword, ...st.args.map((a) => a.text)];
  const [addrText = '', prefixText] = words[0]!.split('/');
  const p = parseIP(addrText);
  if (!p) {
    b.err(st.pos, `'${words[0]}' is not an IPv4 or IPv6 address`);
    return null;
  }
  const max = p.family === 4 ? 32 : 128;
  const prefixLen = prefixText === undefined ? max : Number(prefixText);
  if (!/^\d+$/.test(prefixText ?? String(max)) || prefixLen > max) {
    b.err(st.pos, `bad prefix length in '${words[0]}' (0..${max})`);
    return null;
  }
  const v: VipConfig = { address: canonicalIP(addrText)!, family: p.family, prefixLen, dev: null, label: null };
  for (let i = 1; i < words.length; i += 2) {
    const val = words[i + 1];
    if (val === undefined) {
      b.err(st.pos, `'${words[i]}' needs a value`);
      return null;
    }
    if (words[i] === 'dev') v.dev = val;
    else if (words[i] === 'label') v.label = val;
    else {
      b.err(st.pos, `unsupported virtual_ipaddress option '${words[i]}' (vipd takes dev and label)`);
      return null;
    }
  }
  if (v.label && v.family === 6) b.err(st.pos, 'labels exist for IPv4 addresses only');
  return v;
}

function instance(b: Builder, st: Statement, g: Globals): InstanceModel | null {
  const name = st.args[0]?.text;
  if (!name || st.args.length !== 1) b.err(st.pos, 'vrrp_instance needs exactly one name');
  // Every field in the literal (a field added later goes out of the object, into a second one).
  const m: Partial<InstanceModel> & { vips: VipConfig[]; unicastPeers: string[] } = {
    name: name ?? '?', interface: undefined, vrid: undefined, family: 4, advertIntervalUs: 0, vips: [], unicastPeers: [], pos: st.pos,
    preempt: true, preemptDelayUs: 0, acceptMode: false, lowerPrioNoAdvert: false, initialState: null, unicastSrc: null, authType: 0,
    authPass: null, garpMasterDelayS: g.garpDelay, garpMasterRepeat: g.garpRepeat, version: g.version, priority: 100,
  };
  let advertInt: { v: number; pos: Pos } | null = null;
  const seen = new Map<string, Pos>();
  for (const s of b.block(st)) {
    if (seen.has(s.keyword) && s.keyword !== 'virtual_ipaddress' && s.keyword !== 'unicast_peer')
      b.err(s.pos, `'${s.keyword}' given twice (first at line ${seen.get(s.keyword)!.line})`);
    seen.set(s.keyword, s.pos);
    switch (s.keyword) {
      case 'state': {
        const a = b.args(s, 1)?.[0];
        if (a === 'MASTER' || a === 'BACKUP') m.initialState = a;
        else if (a !== undefined) b.err(s.args[0]!.pos, `state must be MASTER or BACKUP, got '${a}'`);
        break;
      }
      case 'interface': m.interface = b.args(s, 1)?.[0]; break;
      case 'virtual_router_id': m.vrid = b.int(s, 1, 255) ?? undefined; break;
      case 'priority': m.priority = b.int(s, 1, 255) ?? m.priority; break;
      case 'advert_int': { const v = b.num(s, 0.01, 255); if (v !== null) advertInt = { v, pos: s.args[0]!.pos }; break; }
      case 'version': { const v = b.int(s, 2, 3); if (v) m.version = v as 2 | 3; break; }
      case 'nopreempt': if (b.args(s, 0)) m.preempt = false; break;
      case 'preempt': if (b.args(s, 0)) m.preempt = true; break;
      case 'preempt_delay': { const v = b.num(s, 0, 1000); if (v !== null) m.preemptDelayUs = Math.round(v * 1e6); break; }
      case 'accept': if (b.args(s, 0)) m.acceptMode = true; break;
      case 'no_accept': if (b.args(s, 0)) m.acceptMode = false; break;
      case 'lower_prio_no_advert': if (b.args(s, 0)) m.lowerPrioNoAdvert = true; break;
      case 'garp_master_delay': m.garpMasterDelayS = b.int(s, 0, 3600) ?? m.garpMasterDelayS; break;
      case 'garp_master_repeat': m.garpMasterRepeat = b.int(s, 1, 255) ?? m.garpMasterRepeat; break;
      case 'unicast_src_ip': { const a = b.args(s, 1)?.[0]; if (a && !parseIP(a)) b.err(s.pos, `'${a}' is not an IP address`); m.unicastSrc = a ? canonicalIP(a) : null; break; }
      case 'unicast_peer':
        for (const p of b.block(s)) {
          if (!parseIP(p.keyword) || p.args.length) b.err(p.pos, `unicast_peer entries are addresses, got '${p.keyword}'`);
          else m.unicastPeers.push(canonicalIP(p.keyword)!);
        }
        break;
      case 'authentication':
        for (const a of b.block(s)) {
          if (a.keyword === 'auth_type') {
            const t = b.args(a, 1)?.[0];
            if (t === 'PASS') m.authType = 1;
            else if (t !== undefined) b.err(a.pos, `auth_type ${t} is not supported (vipd supports PASS; AH is deprecated by RFC 3768 errata)`);
          } else if (a.keyword === 'auth_pass') {
            const p = b.args(a, 1)?.[0];
            if (p !== undefined && Buffer.byteLength(p) > 8) b.err(a.pos, 'auth_pass is at most 8 bytes (RFC 3768 5.3.10)');
            m.authPass = p ?? null;
          } else b.unknown(a, 'authentication');
        }
        break;
      case 'virtual_ipaddress':
        for (const v of b.block(s)) {
          const x = vip(b, v);
          if (x) m.vips.push(x);
        }
        break;
      default: b.unknown(s, `vrrp_instance ${m.name}`);
    }
  }
  if (!m.interface && !seen.has('interface')) b.err(st.pos, `vrrp_instance ${m.name}: 'interface' is required`);
  if (m.vrid === undefined && !seen.has('virtual_router_id')) b.err(st.pos, `vrrp_instance ${m.name}: 'virtual_router_id' is required`);
  if (m.vips.length === 0) b.err(st.pos, `vrrp_instance ${m.name}: 'virtual_ipaddress' with at least one address is required`);
  const fams = new Set(m.vips.map((v) => v.family));
  if (fams.size > 1) b.err(st.pos, `vrrp_instance ${m.name}: IPv4 and IPv6 addresses in one instance (use one instance per family)`);
  m.family = (m.vips[0]?.family ?? 4) as Family;
  if (m.version === 2 && m.family === 6) b.err(st.pos, `vrrp_instance ${m.name}: VRRPv2 has no IPv6 (RFC 3768); use version 3`);
  if (m.authType && m.version === 3) b.err(st.pos, `vrrp_instance ${m.name}: authentication exists in VRRPv2 only (RFC 9568 removed it)`);
  if (m.authType && !m.authPass) b.err(st.pos, `vrrp_instance ${m.name}: auth_type PASS needs auth_pass`);
  const ai = advertInt as { v: number; pos: Pos } | null;
  const interval = ai?.v ?? 1;
  if (m.version === 2 && !Number.isInteger(interval)) b.err(ai!.pos, 'VRRPv2 advert_int is whole seconds (RFC 3768 5.3.7)');
  if (m.version === 3 && (Math.abs(interval * 100 - Math.round(interval * 100)) > 1e-9 || interval > 40.95))
    b.err(ai!.pos, 'VRRPv3 advert_int is 0.01 to 40.95 s in steps of 0.01 (RFC 9568 5.2.7)');
  m.advertIntervalUs = Math.round(interval * 100) * 10_000;
  for (const p of m.unicastPeers) if (parseIP(p)!.family !== m.family) b.err(st.pos, `unicast_peer ${p} is not IPv${m.family}`);
  return m as InstanceModel;
}

export function buildConfig(file: string, stmts: Statement[]): DaemonConfig {
  const b = new Builder();
  const g: Globals = { routerId: null, version: 3, garpDelay: 5, garpRepeat: 5, vrrpPriority: null, vrrpRtPriority: null };
  // global_defs first, wherever it stands: its defaults apply to every instance
  for (const st of stmts) if (st.keyword === 'global_defs') globalDefs(b, b.block(st), g);
  const instances: InstanceModel[] = [];
  for (const st of stmts) {
    if (st.keyword === 'global_defs') continue;
    if (st.keyword === 'vrrp_instance') {
      const i = instance(b, st, g);
      if (i) instances.push(i);
    } else b.unknown(st, 'the top level');
  }
  const names = new Map<string, Pos>();
  const vrids = new Map<string, string>();
  for (const i of instances) {
    if (names.has(i.name)) b.err(i.pos, `vrrp_instance ${i.name} defined twice (first at line ${names.get(i.name)!.line})`);
    names.set(i.name, i.pos);
    const key = `${i.interface}/${i.family}/${i.vrid}`;
    if (vrids.has(key)) b.err(i.pos, `vrrp_instance ${i.name}: VRID ${i.vrid} on ${i.interface} (IPv${i.family}) already used by ${vrids.get(key)}`);
    vrids.set(key, i.name);
  }
  if (b.errors.length) throw new ConfigErrors(b.errors);
  return { file, routerId: g.routerId, vrrpPriority: g.vrrpPriority, vrrpRtPriority: g.vrrpRtPriority, instances };
}

export async function loadKeepalivedConfig(file: string, src: FileSource): Promise<DaemonConfig> {
  try {
    return buildConfig(file, await parseFile(file, src));
  } catch (e) {
    if (e instanceof ConfigError) throw new ConfigErrors([{ pos: e.pos, message: e.detail }]);
    throw e;
  }
}
