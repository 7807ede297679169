/**
 * What a reload does to each instance, from the running and the new configuration alone
 * (pure): kept as it is, changed in place (state, addresses held and master record kept: the
 * runner and its core take the new settings), restarted (only what cannot change in place:
 * the instance's identity on the wire and its socket), added or removed. Each change is named
 * with keepalived's keyword, so that the log and `vipctl reload` say what a reload did.
 */
import type { InstanceModel } from '../config/model.js';

/** What a reload did (the control API's `reload` answer). */
export interface ReloadResult {
  added: string[];
  removed: string[];
  /** Stopped (priority 0 from a master, objects let go) and started again: see `changes` for why. */
  restarted: string[];
  /** Of `restarted`, those that went on in their state (same VRID, interface, family: a new socket only; a MASTER kept its objects, no priority 0). */
  stateKept: string[];
  /** Changed and kept running: state and held objects kept, the new settings from now on. */
  inPlace: string[];
  /** Per restarted or in-place instance, what changed (`keyword` or `keyword OLD -> NEW`, `virtual_ipaddress +A -B`). */
  changes: Record<string, string[]>;
  /** Trackers (`kind:name`) started afresh, and those of them that cannot run. */
  trackers: { started: string[]; disabled: string[] };
  /** dynamic_interfaces: instances waiting for their interface (not running; stopped if they ran). */
  waiting: { instance: string; interface: string }[];
}

export function emptyResult(): ReloadResult {
  return { added: [], removed: [], restarted: [], stateKept: [], inPlace: [], changes: {}, trackers: { started: [], disabled: [] }, waiting: [] };
}

type Key = keyof InstanceModel;

/**
 * Settings that make an instance another one on the wire or on another socket: it stops
 * (priority 0 if MASTER) and starts again. keepalived's own reload restarts these too.
 */
const RESTART: Partial<Record<Key, string>> = {
  interface: 'interface', vrid: 'virtual_router_id', version: 'version', family: 'address family',
  unicastSrc: 'unicast_src_ip', mcastSrc: 'mcast_src_ip', vmac: 'use_vmac',
};

/**
 * Restart reasons after which the instance goes on in its state (a new socket or VMAC, a sync
 * group joined: still the same virtual router on the same link): keepalived's reload keeps
 * the state there too (no client loss when a controller is added to unicast_peer).
 */
const RESUMABLE = new Set(['unicast_peer', 'unicast_src_ip', 'mcast_src_ip', 'use_vmac', 'vrrp_sync_group']);

/** keepalived's keyword for each in-place setting (what the log and `vipctl reload` name). */
const KEYWORD: Partial<Record<Key, string>> = {
  priority: 'priority', advertIntervalUs: 'advert_int', preempt: 'nopreempt', preemptDelayUs: 'preempt_delay', acceptMode: 'accept',
  lowerPrioNoAdvert: 'lower_prio_no_advert', higherPrioSendAdvert: 'higher_prio_send_advert', skipCheckAdvAddr: 'skip_check_adv_addr',
  downTimerAdverts: 'down_timer_adverts', initialState: 'state', vips: 'virtual_ipaddress', vipsExcluded: 'virtual_ipaddress_excluded',
  routes: 'virtual_routes', rules: 'virtual_rules', unicastPeers: 'unicast_peer', mcastDst: 'mcast_dst', unicastTtl: 'unicast_ttl',
  authType: 'authentication', authPass: 'authentication', garpMasterDelayS: 'garp_master_delay', garpMasterRepeat: 'garp_master_repeat',
  garpMasterRefreshS: 'garp_master_refresh', garpMasterRefreshRepeat: 'garp_master_refresh_repeat', garpLowerPrioDelayS: 'garp_lower_prio_delay',
  garpLowerPrioRepeat: 'garp_lower_prio_repeat', strict: 'strict_mode', dontTrackPrimary: 'dont_track_primary', trackInterfaces: 'track_interface',
  trackScripts: 'track_script', trackFiles: 'track_file', trackProcesses: 'track_process', trackBfd: 'track_bfd', notify: 'notify',
  smtpAlert: 'smtp_alert', syncGroup: 'vrrp_sync_group', other: 'other settings',
};

/** A value without its source positions (a comment added above must change nothing). */
function text(v: unknown): string {
  return JSON.stringify(v, (k, x: unknown) => (k === 'pos' ? undefined : x)) ?? 'null';
}

const addrs = (vs: InstanceModel['vips']): string[] => vs.map((v) => text({ ...v, pos: undefined }));

/** `+A -B` for an address list (by the whole entry: a new label or scope is a removal and an addition). */
function listDiff(a: InstanceModel['vips'], b: InstanceModel['vips']): string {
  const [ta, tb] = [addrs(a), addrs(b)];
  const [before, after] = [new Set(ta), new Set(tb)];
  const label = (v: InstanceModel['vips'][number]): string => `${v.address}/${v.prefixLen}`;
  const plus = b.filter((_, i) => !before.has(tb[i]!)).map((v) => `+${label(v)}`);
  const minus = a.filter((_, i) => !after.has(ta[i]!)).map((v) => `-${label(v)}`);
  return [...plus, ...minus].join(' ') || 'order';
}

/** One line per changed setting; `restart`: the subset that cannot change in place. */
export function instanceChanges(m: InstanceModel, n: InstanceModel): { changes: string[]; restart: string[] } {
  const changes: string[] = [];
  const restart: string[] = [];
  const named = new Set<string>();
  for (const k of Object.keys(n) as Key[]) {
    if (k === 'pos' || k === 'name' || text(m[k]) === text(n[k])) continue;
    const r = RESTART[k];
    if (r) {
      restart.push(r);
      changes.push(`${r} ${text(m[k])} -> ${text(n[k])}`);
      continue;
    }
    const kw = KEYWORD[k] ?? k;
    if (named.has(kw)) continue;
    named.add(kw);
    if (k === 'priority') changes.push(`priority ${m.priority} -> ${n.priority}`);
    else if (k === 'advertIntervalUs') changes.push(`advert_int ${m.advertIntervalUs / 1e6} -> ${n.advertIntervalUs / 1e6}`);
    else if (k === 'vips' || k === 'vipsExcluded') changes.push(`${kw} ${listDiff(m[k], n[k])}`);
    else changes.push(kw);
  }
  // a unicast peer list is the socket's key (src/daemon/sockets.ts): a new list is another socket;
  // only a peer's min_ttl/max_ttl changes in place
  const peers = (x: InstanceModel): string => x.unicastPeers.map((p) => p.address).join(',');
  if (peers(m) !== peers(n)) restart.push('unicast_peer');
  // 255 is the address owner (RFC 9568): it starts as MASTER, so entering or leaving it restarts
  if ((m.priority === 255) !== (n.priority === 255)) restart.push('priority 255 (address owner)');
  // joining a sync group (or another one): its members start together
  if (n.syncGroup !== null && n.syncGroup !== m.syncGroup) restart.push('vrrp_sync_group');
  return { changes, restart };
}

/**
 * The plan, and the models to apply in place. `recreated`: interfaces deleted and created
 * again since the last reload (their instances restart). A sync group with a new or restarted member
 * restarts all its members: they start together, never one MASTER beside a fresh BACKUP of
 * the same group (its other members' `changes` say `vrrp_sync_group member restarted`).
 */
export function planReload(old: readonly InstanceModel[], next: readonly InstanceModel[], recreated: ReadonlySet<string> = new Set()): { res: ReloadResult; inPlace: InstanceModel[] } {
  const res = emptyResult();
  const byName = new Map(next.map((m) => [m.name, m]));
  const oldNames = new Set(old.map((m) => m.name));
  for (const m of old) {
    const n = byName.get(m.name);
    if (!n) {
      res.removed.push(m.name);
      continue;
    }
    // one comparison of the whole model first: a reload of 100 instances changes one or two
    const { changes, restart } = text(m) === text(n) ? { changes: [], restart: [] } : instanceChanges(m, n);
    // its interface was deleted and created again (dynamic_interfaces): a new socket on it
    if (recreated.has(n.interface)) {
      restart.push(`interface ${n.interface} created again`);
      changes.push(`interface ${n.interface} created again`);
    }
    if (!changes.length && !restart.length) continue;
    res.changes[m.name] = changes;
    (restart.length ? res.restarted : res.inPlace).push(m.name);
    if (restart.length && restart.every((r) => RESUMABLE.has(r))) res.stateKept.push(m.name);
  }
  for (const n of next) if (!oldNames.has(n.name)) res.added.push(n.name);
  const fresh = new Set([...res.restarted, ...res.added]);
  for (const i of next) {
    if (!i.syncGroup || fresh.has(i.name) || !oldNames.has(i.name) || !next.some((o) => o.syncGroup === i.syncGroup && fresh.has(o.name))) continue;
    res.restarted.push(i.name);
    res.stateKept.push(i.name); // restarted with its group: still the same virtual router
    res.inPlace = res.inPlace.filter((n) => n !== i.name);
    res.changes[i.name] = [...(res.changes[i.name] ?? []), `vrrp_sync_group ${i.syncGroup}: a member was added or restarted`];
  }
  return { res, inPlace: res.inPlace.map((n) => byName.get(n)!) };
}

/**
 * A reload that did not happen: `refused` (the file or a check failed: nothing was touched;
 * `vipctl reload` exits 2) or `failed` (applying failed: the running configuration was put
 * back; exits 1). `result`: what the failed reload was applying.
 */
export class ReloadError extends Error {
  constructor(
    message: string,
    readonly kind: 'refused' | 'failed',
    readonly result?: ReloadResult,
  ) {
    super(message);
  }
}
