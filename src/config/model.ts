/**
 * The validated configuration model shared by keepalived.conf and the library options.
 * Everything keepalived.conf can say about VRRP is here after defaults (keepalived 2.2.7's),
 * whether vipd acts on it yet or not (see `docs/keepalived-compat.md`); `vipd check-config
 * --dump` prints it.
 */
import type { Family } from '../protocol/addr.js';
import type { Pos } from './lexer.js';
import type { Diagnostic } from './spec.js';
import type { RouteModel, RuleModel, VipConfig } from './model-net.js';
import type { NotifyModel, SyncGroupModel, TrackFileModel, TrackProcessModel, TrackRef, TrackScriptRef, VrrpScriptModel } from './model-track.js';

export type { VipConfig, RouteModel, RuleModel } from './model-net.js';

export interface InstanceModel {
  name: string;
  interface: string;
  vrid: number;
  /** Base priority: `priority`, else 255 with `state MASTER`, else 100 (keepalived). */
  priority: number;
  /** `version`, else global `vrrp_version`, else 2 (3 for IPv6), as keepalived. */
  version: 2 | 3;
  /** Advertisement_Interval in microseconds (v3: multiple of 10 ms; v2: whole seconds). */
  advertIntervalUs: number;
  preempt: boolean;
  preemptDelayUs: number;
  /** Accept_Mode (RFC 9568 6.1): keepalived's default is on unless `vrrp_strict`/`strict_mode`. */
  acceptMode: boolean;
  lowerPrioNoAdvert: boolean;
  higherPrioSendAdvert: boolean;
  /** keepalived `skip_check_adv_addr`: the addresses in adverts are not compared with the VIPs. */
  skipCheckAdvAddr: boolean;
  /** keepalived `down_timer_adverts` (1..100, default global vrrp_down_timer_adverts, 3): adverts missed before a backup takes over. */
  downTimerAdverts: number;
  /** keepalived `state`: informational; every non-owner starts in BACKUP (RFC 9568 6.4.1). */
  initialState: 'MASTER' | 'BACKUP' | null;
  family: Family;
  vips: VipConfig[];
  /** `virtual_ipaddress_excluded`: held by the master, not carried in adverts. */
  vipsExcluded: VipConfig[];
  routes: RouteModel[];
  rules: RuleModel[];
  unicastPeers: UnicastPeer[];
  unicastSrc: string | null;
  /** `mcast_src_ip`: source address of multicast adverts (null: the interface's primary). */
  mcastSrc: string | null;
  /** `mcast_dst_ip` (null: 224.0.0.18 / ff02::12, or the global vrrp_mcast_group4/6). */
  mcastDst: string | null;
  /** `unicast_ttl` (IPv4 unicast adverts; keepalived default 255). */
  unicastTtl: number;
  /** v2 only: 0 none, 1 simple text password (8 bytes, zero padded), 2 AH. */
  authType: 0 | 1 | 2;
  /** The password as sent: at most 8 bytes (keepalived cuts a longer one, with a warning). */
  authPass: string | null;
  garpMasterDelayS: number;
  garpMasterRepeat: number;
  /** Re-announce every N s while MASTER (0: off). */
  garpMasterRefreshS: number;
  garpMasterRefreshRepeat: number;
  garpLowerPrioDelayS: number;
  garpLowerPrioRepeat: number;
  /** `strict_mode` / global `vrrp_strict`. */
  strict: boolean;
  /** `use_vmac [NAME]`: null = no VMAC. */
  vmac: { name: string | null; xmitBase: boolean; mac: string | null } | null;
  /** `dont_track_primary`: the instance's own interface going down does not mean FAULT. */
  dontTrackPrimary: boolean;
  trackInterfaces: TrackRef[];
  trackScripts: TrackScriptRef[];
  trackFiles: TrackRef[];
  trackProcesses: TrackRef[];
  trackBfd: TrackRef[];
  notify: NotifyModel;
  /** Mail alerts on transitions (instance `smtp_alert`, else global). */
  smtpAlert: boolean;
  /** The sync group it belongs to, if any (set from `vrrp_sync_group`). */
  syncGroup: string | null;
  /** Keywords read with values vipd keeps for the reference but has no field for. */
  other: Record<string, string[]>;
  pos: Pos;
}

export interface UnicastPeer {
  address: string;
  /** keepalived 2.2.7 `unicast_peer { ADDR min_ttl N max_ttl N }`. */
  minTtl: number | null;
  maxTtl: number | null;
}

export interface MailModel {
  emails: string[];
  from: string | null;
  smtpServer: { host: string; port: number } | null;
  smtpHelo: string | null;
  connectTimeoutS: number;
  /** Global `smtp_alert` / `smtp_alert_vrrp`, for instances and groups that say nothing. */
  alert: boolean;
}

export interface GlobalModel {
  routerId: string | null;
  /** Default VRRP version for IPv4 instances (keepalived: 2). */
  vrrpVersion: 2 | 3;
  strict: boolean;
  garpMasterDelayS: number;
  garpMasterRepeat: number;
  garpMasterRefreshS: number;
  garpMasterRefreshRepeat: number;
  garpLowerPrioDelayS: number;
  garpLowerPrioRepeat: number;
  lowerPrioNoAdvert: boolean;
  higherPrioSendAdvert: boolean;
  /** vrrp_down_timer_adverts (1..100, default 3). */
  downTimerAdverts: number;
  /** vrrp_garp_interval / vrrp_gna_interval, seconds (0: no spacing); garp_group overrides per interface. */
  garpIntervalS: number;
  gnaIntervalS: number;
  /** vrrp_skip_check_adv_addr: default of the instances' skipCheckAdvAddr. */
  skipCheckAdvAddr: boolean;
  /** vrrp_startup_delay, seconds: the instances start this long after the daemon (not on reload). */
  startupDelayS: number;
  mcastGroup4: string;
  mcastGroup6: string;
  /** `max_auto_priority`: -1 off, else the SCHED_RR ceiling keepalived may pick by itself. */
  maxAutoPriority: number | null;
  scriptUser: { user: string; group: string | null } | null;
  enableScriptSecurity: boolean;
  dynamicInterfaces: 'off' | 'on' | 'allow_if_changes';
  defaultInterface: string | null;
  notifyFifo: { path: string; script: string[] | null } | null;
  vrrpNotifyFifo: { path: string; script: string[] | null } | null;
  mail: MailModel;
  /**
   * `reload_check_config [LOG_FILE]` (null: not given). vipd checks every new configuration
   * before touching anything anyway; with `logFile`, each reload's check outcome is written
   * there (keepalived: its config-test child's log; without LOG_FILE, /dev/null).
   */
  reloadCheckConfig: { logFile: string | null } | null;
  /** `reload_time_file PATH` (absolute): a reload at the time written in it (src/daemon/reload-time.ts). */
  reloadTimeFile: string | null;
  /** `reload_repeat`: a time-only reload_time_file entry is kept and repeats daily. */
  reloadRepeat: boolean;
  /**
   * `reload_file [PATH]` (null: not given): created before each reload reads the
   * configuration, removed once it has been read; `path` null: keepalived.reload in the pid
   * directory (src/cli/reload-files.ts defaultReloadFile).
   */
  reloadFile: { path: string | null } | null;
  /** Keywords read with values vipd keeps but has no field for (keyword -> words). */
  other: Record<string, string[]>;
}

/**
 * A `garp_group`: gratuitous ARPs (NAs) sent on any of its interfaces are at least
 * garpIntervalS (gnaIntervalS) apart, whichever instance sends them; null: that kind is not
 * spaced there (the global vrrp_garp_interval does not apply to a grouped interface).
 */
export interface GarpGroupModel {
  garpIntervalS: number | null;
  gnaIntervalS: number | null;
  interfaces: string[];
}

export interface DaemonConfig {
  file: string;
  routerId: string | null;
  /** global_defs vrrp_priority: the daemon's nice value (-20..19); null leaves it as started. */
  vrrpPriority: number | null;
  /** global_defs vrrp_rt_priority: SCHED_RR at this priority (1..99); null: not real-time. */
  vrrpRtPriority: number | null;
  /** Top-level `net_namespace`: run inside this network namespace (as `--namespace`). */
  netNamespace: string | null;
  /** Top-level `instance`: names this daemon for its default paths (as `-i`). */
  instanceName: string | null;
  global: GlobalModel;
  instances: InstanceModel[];
  scripts: VrrpScriptModel[];
  trackFiles: TrackFileModel[];
  trackProcesses: TrackProcessModel[];
  syncGroups: SyncGroupModel[];
  staticAddresses: VipConfig[];
  staticRoutes: RouteModel[];
  staticRules: RuleModel[];
  /** `garp_group` blocks: interfaces whose announcements share one spacing (keepalived 2.2.7). */
  garpGroups: GarpGroupModel[];
  /** `interface_up_down_delays`: how long a link change of each interface waits before it counts (microseconds). */
  ifDelays: { name: string; downUs: number; upUs: number; pos: Pos }[];
  /** What vipd read but will not act on, or acts on differently from the file's words. */
  warnings: Diagnostic[];
}

export class ConfigErrors extends Error {
  constructor(
    readonly errors: { pos: Pos; message: string }[],
    readonly warnings: Diagnostic[] = [],
  ) {
    super(errors.map((e) => `${e.pos.file}:${e.pos.line}:${e.pos.col}: ${e.message}`).join('\n'));
    this.name = 'ConfigErrors';
  }
}
