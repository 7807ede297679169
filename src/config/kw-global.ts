/**
 * `global_defs` of keepalived.conf(5), keepalived 2.2.7: every keyword, with vipd's status.
 * Values go into `GlobalModel` (defaults: `defaultGlobals`, keepalived's global_data.c).
 */
import { canonicalIP, parseIP } from '../protocol/addr.js';
import type { DaemonConfig, GlobalModel } from './model.js';
import { globalNotifyKeywords } from './kw-track.js';
import { warned, type Builder, type Kw, type Table } from './spec.js';
import type { Statement } from './tree.js';

export function defaultGlobals(): GlobalModel {
  return {
    routerId: null, vrrpVersion: 2, strict: false, garpMasterDelayS: 5, garpMasterRepeat: 5, garpMasterRefreshS: 0,
    garpMasterRefreshRepeat: 1, garpLowerPrioDelayS: null as unknown as number, garpLowerPrioRepeat: null as unknown as number,
    lowerPrioNoAdvert: false, higherPrioSendAdvert: true, downTimerAdverts: 3, garpIntervalS: 0, gnaIntervalS: 0, skipCheckAdvAddr: false, startupDelayS: 0, mcastGroup4: '224.0.0.18', mcastGroup6: 'ff02::12',
    maxAutoPriority: null, scriptUser: null, enableScriptSecurity: false, dynamicInterfaces: 'off', defaultInterface: null,
    notifyFifo: null, vrrpNotifyFifo: null, reloadCheckConfig: null, reloadTimeFile: null, reloadRepeat: false, reloadFile: null,
    mail: { emails: [], from: null, smtpServer: null, smtpHelo: null, connectTimeoutS: 30, alert: false },
    other: {},
  };
}

type G = DaemonConfig;

/** keepalived's vrrp_min_garp: the GARP settings still at their defaults become the minimal ones. */
function minGarp(b: Builder, st: Statement, c: G): void {
  if (st.args.length && bool(b, st) !== true) return;
  const g = c.global;
  if (g.garpMasterRepeat === 5) g.garpMasterRepeat = 1;
  if (g.garpMasterRefreshRepeat === 1) g.garpMasterRefreshRepeat = 0;
  if (g.garpMasterDelayS === 5) g.garpMasterDelayS = 0;
}

/** Stores the words in `global.other` (values the reference shows; nothing acts on them). */
function keep(b: Builder, st: Statement, c: G, min = 0, max = Infinity): void {
  const w = b.words(st, min, max);
  if (w) c.global.other[st.keyword] = w;
}

function planned(name: string, issue: number, syntax: string, kaDefault: string, note: string, handle?: Kw<G>['handle']): Kw<G> {
  return { name, syntax, status: 'planned', issue, kaDefault, note, handle: handle ?? ((b, st, c) => keep(b, st, c)) };
}

function impl(name: string, syntax: string, kaDefault: string, note: string, handle: Kw<G>['handle']): Kw<G> {
  return { name, syntax, status: 'implemented', kaDefault, note, handle };
}

/** The statement's one argument as an absolute file path (keepalived.conf(5): ABSOLUTE-PATHNAME-OF-FILE), else an error and null. */
function absPath(b: Builder, st: Statement): string | null {
  const w = b.word(st);
  if (w === null) return null;
  if (!w.startsWith('/')) b.err(st.args[0]!.pos, `'${st.keyword}' needs an absolute path (keepalived.conf(5): ABSOLUTE-PATHNAME-OF-FILE), got '${w}'`);
  else if (w.endsWith('/')) b.err(st.args[0]!.pos, `'${st.keyword}' names a directory ('${w}'): give the path of a file in it`);
  else return w;
  return null;
}

/**
 * `reload_check_config [LOG_FILE]` (keepalived's reload_check_config_handler keeps the first
 * word; the config-test child opens it from keepalived's working directory, / for the daemon,
 * so a relative LOG_FILE is taken from /, with a warning).
 */
function reloadCheckConfig(b: Builder, st: Statement, c: G): void {
  const w = b.words(st, 0, 1);
  if (!w) return;
  let logFile = w[0] ?? null;
  if (logFile !== null && logFile.endsWith('/')) return b.err(st.args[0]!.pos, `'reload_check_config' names a directory ('${logFile}') as its log file: give the path of a file`);
  if (logFile !== null && !logFile.startsWith('/')) {
    b.warn(st.args[0]!.pos, `reload_check_config: the log file '${logFile}' is relative; vipd writes /${logFile} (keepalived's daemon runs in /): write the absolute path`);
    logFile = `/${logFile}`;
  }
  c.global.reloadCheckConfig = { logFile };
}

const LVS = 'LVS/health checking is keepalived\'s checker process, not VRRP: run `keepalived --check` beside vipd for it';
const SNMP = 'vipd has no SNMP agent; use `vipctl status --json` or the Prometheus metrics (`vipd run --metrics`)';
const DBUS = 'vipd has no DBus interface; use the control socket (`vipctl`)';
const BFD = 'vipd has no BFD; keepalived\'s BFD process is not replaced';

function mcast(family: 4 | 6): Kw<G>['handle'] {
  return (b, st, c) => {
    const w = b.word(st);
    if (w === null) return;
    const p = parseIP(w);
    const ok = p && p.family === family && (family === 4 ? (p.bytes[0]! & 0xf0) === 0xe0 : p.bytes[0] === 0xff);
    if (!ok) b.err(st.args[0]!.pos, `'${st.keyword}' must be an IPv${family} multicast address, got '${w}'`);
    else if (family === 4) c.global.mcastGroup4 = canonicalIP(w)!;
    else c.global.mcastGroup6 = canonicalIP(w)!;
  };
}

const keywords: Kw<G>[] = [
  impl('router_id', 'NAME', 'the host name', 'Names this host in logs, notifications and mail.', (b, st, c) => { c.global.routerId = b.word(st) ?? c.global.routerId; }),
  impl('vrrp_version', '2|3', '2', 'Default VRRP version of IPv4 instances (IPv6 instances always speak 3).', (b, st, c) => { const v = b.int(st, 2, 3); if (v) c.global.vrrpVersion = v as 2 | 3; }),
  impl('vrrp_garp_master_delay', 'SECONDS', '5', 'Delay of the second burst of gratuitous ARPs / NAs after becoming MASTER (0: none).', (b, st, c) => { c.global.garpMasterDelayS = b.int(st, 0, 4294) ?? c.global.garpMasterDelayS; }),
  impl('vrrp_garp_master_repeat', 'COUNT', '5', 'Gratuitous ARPs / NAs per burst.', (b, st, c) => { c.global.garpMasterRepeat = b.int(st, 1, 255) ?? c.global.garpMasterRepeat; }),
  impl('vrrp_priority', '-20..19', 'unchanged', 'Nice value of every vipd thread.', (b, st, c) => { c.vrrpPriority = b.int(st, -20, 19) ?? c.vrrpPriority; }),
  impl('vrrp_rt_priority', '1..99', 'not real-time', 'SCHED_RR at this priority for every vipd thread (reset on fork for scripts).', (b, st, c) => { c.vrrpRtPriority = b.int(st, 1, 99) ?? c.vrrpRtPriority; }),
  impl('vrrp_lower_prio_no_advert', '[true|false]', 'false', 'Default of the instances\' lower_prio_no_advert.', (b, st, c) => { const v = bool(b, st); if (v !== null) c.global.lowerPrioNoAdvert = v; }),
  impl('default_interface', 'IFNAME', 'eth0', 'The interface of static_ipaddress entries without dev.', (b, st, c) => { c.global.defaultInterface = b.word(st) ?? c.global.defaultInterface; }),
  impl('vrrp_mcast_group4', 'ADDR', '224.0.0.18', 'IPv4 multicast group of adverts.', mcast(4)),
  impl('vrrp_mcast_group6', 'ADDR', 'ff02::12', 'IPv6 multicast group of adverts.', mcast(6)),
  impl('vrrp_garp_master_refresh', 'SECONDS', '0 (off)', 'While MASTER, the gratuitous ARPs / NAs are sent again every N seconds (checked as each advert goes out, as keepalived does).', (b, st, c) => { c.global.garpMasterRefreshS = b.int(st, 0, 4294967) ?? c.global.garpMasterRefreshS; }),
  impl('vrrp_garp_master_refresh_repeat', 'COUNT', '1', 'Gratuitous ARPs / NAs per refresh.', (b, st, c) => { c.global.garpMasterRefreshRepeat = b.int(st, 1, 255) ?? c.global.garpMasterRefreshRepeat; }),
  impl('vrrp_garp_lower_prio_delay', 'SECONDS', 'vrrp_garp_master_delay', 'A MASTER that hears a lower-priority master announces its VIPs again now and once more after this delay (0: no second burst).', (b, st, c) => { c.global.garpLowerPrioDelayS = b.int(st, 0, 4294) ?? c.global.garpLowerPrioDelayS; }),
  impl('vrrp_garp_lower_prio_repeat', 'COUNT', 'vrrp_garp_master_repeat', 'Gratuitous ARPs / NAs per burst when a MASTER hears a lower-priority master (0: none).', (b, st, c) => { c.global.garpLowerPrioRepeat = b.int(st, 0, 255) ?? c.global.garpLowerPrioRepeat; }),
  impl('vrrp_higher_prio_send_advert', '[true|false]', 'false', 'Default of the instances\' higher_prio_send_advert: a MASTER sends one advert before yielding to a higher-priority one. vipd\'s default is true (keepalived: false): after a partition heals, the surviving master then always hears the other and announces its VIPs again.', (b, st, c) => { const v = bool(b, st); if (v !== null) c.global.higherPrioSendAdvert = v; }),
  impl('vrrp_down_timer_adverts', 'COUNT (1..100)', '3', 'Default of the instances\' down_timer_adverts: adverts missed in Master_Down_Interval (the RFC\'s 3).', (b, st, c) => { c.global.downTimerAdverts = b.int(st, 1, 100) ?? c.global.downTimerAdverts; }),
  impl('vrrp_garp_interval', 'SECONDS (decimal)', '0', 'Least time between two gratuitous ARPs on an interface, whichever instance sends them (a garp_group sets it per interface); frames that come sooner wait their turn.', (b, st, c) => { c.global.garpIntervalS = b.num(st, 0, 4294) ?? c.global.garpIntervalS; }),
  impl('vrrp_gna_interval', 'SECONDS (decimal)', '0', 'Least time between two unsolicited NAs on an interface (as vrrp_garp_interval).', (b, st, c) => { c.global.gnaIntervalS = b.num(st, 0, 4294) ?? c.global.gnaIntervalS; }),
  impl('vrrp_min_garp', '[true|false]', 'false', 'One gratuitous ARP / NA on becoming MASTER and no second burst: sets vrrp_garp_master_repeat 1, vrrp_garp_master_delay 0 and no refresh, where they still have their defaults at this line (keepalived 2.2.7).', (b, st, c) => minGarp(b, st, c)),
  planned('vrrp_garp_extra_if', 0, '[SECONDS] [all]', 'off', 'keepalived also sends gratuitous ARPs for a VMAC on its base interface.', (b, st, c) => keep(b, st, c, 0, 2)),
  planned('vrrp_vmac_garp_intvl', 0, '[SECONDS] [all]', 'off', 'deprecated name of vrrp_garp_extra_if.', (b, st, c) => keep(b, st, c, 0, 2)),
  impl('vrrp_strict', '', 'off', 'RFC conformance for every instance (strict_mode): no unicast, no authentication, no accept mode (nftables filter), lower_prio_no_advert, no lower-priority GARPs.', (b, st, c) => { if (b.flag(st)) c.global.strict = true; }),
  impl('vrrp_check_unicast_src', '', 'off', 'Always on in vipd: a unicast advert from an address that is not a unicast_peer is dropped and counted (keepalived accepts it unless this is set).', (b, st) => { b.flag(st); }),
  impl('vrrp_skip_check_adv_addr', '', 'off', 'Default of the instances\' skip_check_adv_addr: the addresses in adverts are not compared with the VIPs (no drop for VRRPv2, no warning).', (b, st, c) => { if (b.flag(st)) c.global.skipCheckAdvAddr = true; }),
  { name: 'vrrp_iptables', syntax: '[IN_CHAIN [OUT_CHAIN]]', status: 'not-needed', note: 'vipd drops traffic to the VIPs of non-accept-mode masters with nftables (table `vipd`, or `nftables NAME`), never with iptables chains.', handle: (b, st, c) => keep(b, st, c, 0, 2) },
  { name: 'vrrp_ipsets', syntax: '[SET4 [SET6 [SET6LL [SETIF [SETIGMP [SETMLD]]]]]]', status: 'not-needed', note: 'vipd keeps the VIPs in nftables sets of its own table, not in ipsets.', handle: (b, st, c) => keep(b, st, c, 0, 6) },
  impl('nftables', '[TABLE]', 'keepalived (vipd: vipd)', 'The nftables table (family inet) of the accept-mode filter; vipd, as keepalived, makes it whenever an instance has no accept mode, written or not.', (b, st, c) => { const w = b.words(st, 0, 1); if (w && w[0] !== undefined && !/^[A-Za-z][A-Za-z0-9_]{0,63}$/.test(w[0])) b.err(st.args[0]!.pos, `nftables: table name '${w[0]}' must be letters, digits and _ (64 at most), starting with a letter`); else keep(b, st, c, 0, 1); }),
  impl('nftables_priority', 'PRIORITY', '-1', 'Priority of the filter\'s input and output chains.', (b, st, c) => { const v = b.int(st, -2147483648, 2147483647); if (v !== null) c.global.other[st.keyword] = [String(v)]; }),
  impl('nftables_ifindex', '', 'off', 'Link-local IPv6 VIPs are keyed by interface index in the filter (default: by name).', (b, st, c) => keep(b, st, c, 0, 0)),
  impl('nftables_counters', '', 'off', 'A counter on each rule of the filter (`nft list table inet vipd`).', (b, st, c) => keep(b, st, c, 0, 0)),
  impl('vmac_prefix', 'PREFIX', 'vrrp', 'Prefix of the VMAC names made for use_vmac without a name (PREFIX.VRID).', (b, st, c) => keep(b, st, c, 1, 1)),
  planned('vmac_addr_prefix', 0, 'PREFIX', 'vrrp', 'prefix of the VMAC addresses keepalived adds.', (b, st, c) => keep(b, st, c, 1, 1)),
  impl('dynamic_interfaces', '[allow_if_changes]', 'off', 'An instance whose interface does not exist (or has no address to send adverts from yet) waits for it instead of being refused: it starts when the interface appears (`vipctl status` lists it meanwhile). Other names (a VIP or route `dev`, track_interface) must still exist. allow_if_changes is accepted (keepalived: only for its duplicate-VRID check).', (b, st, c) => {
    const w = b.words(st, 0, 1);
    if (!w) return;
    if (w[0] !== undefined && w[0] !== 'allow_if_changes') b.err(st.args[0]!.pos, `dynamic_interfaces takes no argument or 'allow_if_changes', got '${w[0]}'`);
    else c.global.dynamicInterfaces = w[0] ? 'allow_if_changes' : 'on';
  }),
  impl('vrrp_startup_delay', 'SECONDS (decimal)', '0', 'The instances start this long after the daemon (not on reload); the checks, the lock and the removal of leftovers come first.', (b, st, c) => { c.global.startupDelayS = b.num(st, 0, 3600) ?? c.global.startupDelayS; }),
  planned('log_unknown_vrids', 16, '', 'off', 'keepalived logs each advert for a VRID it does not serve (vipd counts them: `vipctl dump`).', (b, st, c) => keep(b, st, c, 0, 0)),
  planned('disable_local_igmp', 0, '', 'off', 'keepalived stops the kernel sending IGMP reports for its VMAC interfaces.', (b, st, c) => keep(b, st, c, 0, 0)),
  impl('reload_check_config', '[LOG_FILE]', 'off', 'vipd checks every new configuration before it touches anything, with or without this keyword; with LOG_FILE each reload writes the check\'s outcome there (the errors as file:line, or that the file is valid), where keepalived\'s config-test child writes its log.', reloadCheckConfig),
  impl('reload_time_file', 'ABSOLUTE-PATH', 'none', 'Watches the file (inotify on its directory) and reloads at the time on its first line: HH:MM:SS, YY-MM-DD HH:MM:SS or YYYY-MM-DD HH:MM:SS, with Z for UTC, else local time; a time-only entry is its next occurrence, a date in the past is ignored. The file is deleted as the reload starts; rewriting it reschedules, deleting it cancels.', (b, st, c) => { c.global.reloadTimeFile = absPath(b, st) ?? c.global.reloadTimeFile; }),
  impl('reload_repeat', '', 'off', 'A time-only reload_time_file entry is kept after its reload and repeats daily (an entry with a date is deleted all the same, as keepalived does).', (b, st, c) => { if (b.flag(st)) c.global.reloadRepeat = true; }),
  impl('reload_file', '[ABSOLUTE-PATH]', 'none', 'Created (or truncated) before each reload reads the configuration files and removed once they are read, also when that fails: an update process touches it, reloads, and writes the files again only once it is gone. Without PATH: keepalived.reload in the pid file directory.', (b, st, c) => {
    if (st.args.length === 0 && b.flag(st)) c.global.reloadFile = { path: null };
    else {
      const p = absPath(b, st);
      if (p !== null) c.global.reloadFile = { path: p };
    }
  }),
  {
    name: 'max_auto_priority', syntax: '[-1|0..99]', status: 'not-needed', kaDefault: '0 (off)',
    note: 'keepalived raises itself to SCHED_RR when adverts run late; vipd runs real-time only when vrrp_rt_priority says so, and its event loop is measured at 10 ms adverts (docs/BENCHMARKS.md).',
    handle: (b, st, c) => {
      const w = b.words(st, 0, 1);
      if (!w) return;
      c.global.maxAutoPriority = w.length ? b.intAt(st, 0, -1, 99) : 99;
    },
  },
  ...globalNotifyKeywords,
  {
    name: 'min_auto_priority_delay', syntax: 'MICROSECONDS', status: 'not-needed', kaDefault: '1000000',
    note: 'keepalived\'s threshold for raising itself to real-time (max_auto_priority); vipd does not change its own scheduling at run time.',
    handle: (b, st, c) => { const v = b.int(st, 1, 2 ** 31 - 1); if (v !== null) c.global.other[st.keyword] = [String(v)]; },
  },
  warned('vrrp_no_swap', 'not-needed', 'keepalived locks its memory; a Node.js process cannot lock its heap (vipd keeps it small: docs/BENCHMARKS.md).', ''),
  warned('vrrp_cpu_affinity', 'not-needed', 'keepalived pins its VRRP process to these CPUs; run vipd under `taskset` or systemd CPUAffinity= instead.', 'CPU…'),
  warned('vrrp_rlimit_rttime', 'not-needed', 'keepalived sets RLIMIT_RTTIME for its real-time process; use systemd LimitRTTIME= for vipd.', 'MICROSECONDS'),
  warned('vrrp_rlimit_rtime', 'not-needed', 'deprecated name of vrrp_rlimit_rttime; use systemd LimitRTTIME= for vipd.', 'MICROSECONDS'),
  warned('vrrp_rx_bufs_policy', 'not-needed', 'vipd sizes its VRRP receive queues itself (a quarter second of adverts, docs/daemon.md).', 'POLICY'),
  warned('vrrp_rx_bufs_multiplier', 'not-needed', 'vipd sizes its VRRP receive queues itself (docs/daemon.md).', 'N'),
  warned('vrrp_netlink_cmd_rcv_bufs', 'not-needed', 'vipd forces 4 MiB on its rtnetlink sockets and recovers from overflow (docs/daemon.md).', 'BYTES'),
  warned('vrrp_netlink_cmd_rcv_bufs_force', 'not-needed', 'vipd always forces its rtnetlink receive buffers.', '[true|false]'),
  warned('vrrp_netlink_monitor_rcv_bufs', 'not-needed', 'vipd forces 4 MiB on its rtnetlink sockets and recovers from overflow.', 'BYTES'),
  warned('vrrp_netlink_monitor_rcv_bufs_force', 'not-needed', 'vipd always forces its rtnetlink receive buffers.', '[true|false]'),
  warned('process_monitor_rcv_bufs', 'not-needed', 'vipd\'s process tracking (issue #18) sizes its own socket.', 'BYTES'),
  warned('process_monitor_rcv_bufs_force', 'not-needed', 'vipd\'s process tracking (issue #18) sizes its own socket.', '[true|false]'),
  warned('process_names', 'not-needed', 'keepalived renames its processes; vipd is one process named vipd.', ''),
  warned('process_name', 'not-needed', 'keepalived renames its parent process; vipd is one process named vipd.', 'NAME'),
  warned('vrrp_process_name', 'not-needed', 'keepalived renames its VRRP process; vipd is one process named vipd.', 'NAME'),
  warned('umask', 'not-needed', 'keepalived sets its umask for files it creates; set UMask= in the unit for vipd.', 'MASK'),
  warned('random_seed', 'not-needed', 'keepalived seeds its random numbers (tests); vipd\'s randomness is not seeded from the configuration.', 'N'),
  warned('include_check', 'not-needed', 'keepalived\'s checks of included files\' ownership; vipd reads included files as any other.', '[TYPE…]'),
  warned('config_save_dir', 'not-needed', 'keepalived keeps a copy of the configuration for its children; vipd is one process.', 'DIR'),
  warned('tmp_config_directory', 'not-needed', 'keepalived keeps a copy of the configuration for its children; vipd is one process.', 'DIR'),
  warned('data_use_instance', 'not-needed', 'keepalived\'s dump files per instance; use `vipctl dump`.', ''),
  warned('child_wait_time', 'not-needed', 'keepalived waits for its children at exit; vipd has none.', 'SECONDS'),
  warned('linkbeat_use_polling', 'not-needed', 'vipd follows links through rtnetlink events, never by polling.', ''),
  ...['lvs_timeouts', 'lvs_flush', 'lvs_flush_on_stop', 'lvs_flush_onstop', 'lvs_sync_daemon', 'lvs_process_name', 'checker_process_name', 'checker_priority', 'checker_no_swap',
    'checker_rt_priority', 'checker_cpu_affinity', 'checker_rlimit_rttime', 'checker_rlimit_rtime', 'checker_log_all_failures', 'lvs_netlink_cmd_rcv_bufs', 'lvs_netlink_cmd_rcv_bufs_force',
    'lvs_netlink_monitor_rcv_bufs', 'lvs_netlink_monitor_rcv_bufs_force', 'rs_init_notifies', 'no_checker_emails', 'nftables_ipvs', 'nftables_ipvs_priority', 'nftables_ipvs_start_fwmark']
    .map((n) => warned<G>(n, 'outside', LVS)),
  ...['bfd_process_name', 'bfd_priority', 'bfd_no_swap', 'bfd_rt_priority', 'bfd_cpu_affinity', 'bfd_rlimit_rttime', 'bfd_rlimit_rtime'].map((n) => warned<G>(n, 'outside', BFD)),
  ...['snmp_socket', 'enable_traps', 'enable_snmp_vrrp', 'enable_snmp_keepalived', 'enable_snmp_rfc', 'enable_snmp_rfcv2', 'enable_snmp_rfcv3', 'enable_snmp_checker'].map((n) => warned<G>(n, 'outside', SNMP)),
  ...['enable_dbus', 'dbus_service_name'].map((n) => warned<G>(n, 'outside', DBUS)),
];

/** `true`/`false`/`yes`/`no`/`on`/`off` or nothing (= true), as keepalived's check_true_false. */
export function bool(b: Builder, st: Statement): boolean | null {
  const w = b.words(st, 0, 1);
  if (!w) return null;
  if (w.length === 0) return true;
  const v = w[0]!; // case-sensitive, as keepalived's check_true_false
  if (v === 'true' || v === 'yes' || v === 'on') return true;
  if (v === 'false' || v === 'no' || v === 'off') return false;
  b.err(st.args[0]!.pos, `'${st.keyword}' takes true or false, got '${w[0]}'`);
  return null;
}

export const globalDefsTable: Table<G> = { block: 'global_defs', keywords };
