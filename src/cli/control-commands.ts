/**
 * vipctl status / who-owns / watch / dump / reload: talk to the daemon, or (who-owns
 * --listen) to the wire. The formatters are pure (statusTable, statusWide, reloadSummary) so
 * their layout is tested without a daemon.
 */
import { canonicalIP } from '../protocol/addr.js';
import type { InstanceStatus, WhoOwns } from '../daemon/status.js';
import { LINKTYPE_ETHERNET } from '../protocol/pcap.js';
import { EXIT_DAEMON_FAILED, request, watch } from './control-client.js';
import { SniffModel } from './sniff-report.js';
import { trackerRows } from './status-trackers.js';
import { CliError } from './errors.js';
import { capture } from './sniff.js';

export const EXIT_NO_MASTER = 3;
export const EXIT_NOT_CONFIGURED = 4;
const out = (l: string): void => void process.stdout.write(`${l}\n`);

/** Columns padded to their widest cell, two spaces apart, no trailing blanks. */
function table(rows: string[][]): string {
  const w = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(w[i]!)).join('  ').trimEnd()).join('\n');
}

function ago(ms: number | null): string {
  if (ms === null) return '-';
  return ms < 10_000 ? `${ms}ms ago` : `${(ms / 1000).toFixed(0)}s ago`;
}

/** A duration for people: 42s, 3m05s, 2h07m, 4d03h (seconds; negative clock skew reads 0s). */
export function duration(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const two = (n: number): string => String(n).padStart(2, '0');
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${two(s % 60)}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h${two(Math.floor(s / 60) % 60)}m`;
  return `${Math.floor(s / 86_400)}d${two(Math.floor(s / 3600) % 24)}h`;
}

/** Longest instance name the narrow table shows whole; longer ones end in "…" (-o wide: whole). */
export const NAME_WIDTH = 24;
/** Widest VIPS and MASTER cells (an IPv6 address is up to 39 characters): the row stays within 100 columns. */
export const ADDR_WIDTH = 20;
const cut = (s: string, n: number): string => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

/**
 * The default `vipctl status` table, made to fit 80–100 columns: INSTANCE, STATE, PRIO (the
 * effective priority, with the configured one in parentheses when trackers moved it), VIPS
 * (the first address without its prefix length, then "+N" for the others), MASTER (address,
 * "(self)" on the master itself, "-" when none is known) and SINCE (time in the current state,
 * from lastTransition; "-" before the first transition). `nowMs`: the clock of the caller.
 */
export function statusTable(instances: InstanceStatus[], nowMs: number): string {
  if (instances.length === 0) return 'no VRRP instance configured';
  const rows = [['INSTANCE', 'STATE', 'PRIO', 'VIPS', 'MASTER', 'SINCE']];
  for (const i of instances) {
    const name = cut(i.name, NAME_WIDTH);
    const prio = i.priority === i.effectivePriority ? String(i.priority) : `${i.effectivePriority} (${i.priority})`;
    const more = i.vips.length > 1 ? ` +${i.vips.length - 1}` : '';
    const vips = i.vips.length === 0 ? '-' : `${cut(i.vips[0]!.split('/')[0]!, ADDR_WIDTH - more.length)}${more}`;
    const master = i.master.address ? `${cut(i.master.address, i.master.self ? ADDR_WIDTH - 7 : ADDR_WIDTH)}${i.master.self ? ' (self)' : ''}` : '-';
    const since = i.lastTransition ? `${duration((nowMs - Date.parse(i.lastTransition.time)) / 1000)} ago` : '-';
    rows.push([name, `${i.state}${i.maintenance ? ' (maint)' : i.handover !== null ? ' (handover)' : ''}`, prio, vips, master, since]);
  }
  return table(rows);
}

/**
 * `vipctl status -o wide`: every field of InstanceStatus, one row per instance (interface,
 * family, VRID, VRRP version, configured and effective priority, advert interval, every VIP,
 * whether they are held, the master's address, MAC, priority and last advert, transitions and
 * the last one with its reason, advert counters and drops by reason).
 */
export function statusWide(instances: InstanceStatus[]): string {
  if (instances.length === 0) return 'no VRRP instance configured';
  const rows = [['INSTANCE', 'IF', 'FAM', 'VRID', 'VER', 'STATE', 'PRIO', 'EFF', 'INT', 'VIPS', 'HELD', 'MASTER', 'MASTER MAC', 'M.PRIO', 'LAST ADVERT', 'TRANS', 'LAST CHANGE', 'SENT/RCVD', 'PRIO0 S/R', 'SEND ERR', 'DROPS', 'MAINT', 'YIELDS TO', 'PEERS']];
  for (const i of instances) {
    const drops = Object.entries(i.stats.drops).map(([k, v]) => `${k}=${v}`).join(',') || '0';
    rows.push([
      i.name, i.interface, `v${i.family}`, String(i.vrid), `v${i.version}`, i.state, String(i.priority), String(i.effectivePriority),
      `${i.advertIntervalMs}ms`, i.vips.join(',') || '-', i.vipsHeld ? 'yes' : 'no',
      i.master.address ? `${i.master.address}${i.master.self ? ' (self)' : ''}` : '-', i.master.mac ?? '-', i.master.priority === null ? '-' : String(i.master.priority),
      i.master.self ? '-' : ago(i.master.lastAdvertAgoMs), String(i.transitions),
      i.lastTransition ? `${i.lastTransition.time} ${i.lastTransition.from}->${i.lastTransition.to} (${i.lastTransition.reason})` : '-',
      `${i.stats.advertsSent}/${i.stats.advertsReceived}`, `${i.stats.priorityZeroSent}/${i.stats.priorityZeroReceived}`, String(i.stats.sendErrors), drops,
      i.maintenance ? 'on' : '-', i.yieldsTo ?? '-', (i.peers ?? []).map((p) => `${p.address}:${p.priority}`).join(',') || '-',
    ]);
  }
  return table(rows);
}

export type StatusFormat = 'table' | 'wide' | 'json';

/** `vipctl status`: the daemon's `status` answer as a table, a wide table, or its JSON as is. */
export async function status(socket: string, format: StatusFormat): Promise<void> {
  const r = await request(socket, 'status');
  if (!r.ok) throw new CliError(`status: ${r.error}`, EXIT_DAEMON_FAILED);
  const res = r.result as { instances: InstanceStatus[]; startsInMs?: number; syncGroups?: { name: string; state: string; members: string[] }[]; waiting?: { instance: string; interface: string }[] };
  if (format === 'json') return out(JSON.stringify(res));
  if (res.startsInMs !== undefined) return out(`starting: the instances start in ${(res.startsInMs / 1000).toFixed(1)} s (vrrp_startup_delay)`);
  out(format === 'wide' ? statusWide(res.instances) : statusTable(res.instances, Date.now()));
  const trackers = trackerRows(res.instances, format === 'wide');
  if (trackers.length) out(`\n${table(trackers)}`);
  // sync groups: their own state (the members' rows above say theirs)
  const groups = res.syncGroups ?? [];
  if (groups.length) out(`\n${table([['SYNC GROUP', 'STATE', 'MEMBERS'], ...groups.map((g) => [g.name, g.state, g.members.join(',')])])}`);
  // dynamic_interfaces: configured instances that wait for their interface (not running yet)
  const waiting = res.waiting ?? [];
  if (waiting.length) out(`\n${table([['WAITING FOR ITS INTERFACE', 'INTERFACE'], ...waiting.map((w) => [w.instance, w.interface])])}`);
}

/** `vipctl dump`: the daemon's `dump` answer (pid, config, instances, counters), indented JSON. */
export async function dump(socket: string): Promise<void> {
  const r = await request(socket, 'dump');
  if (!r.ok) throw new CliError(`dump: ${r.error}`, EXIT_DAEMON_FAILED);
  out(JSON.stringify(r.result, null, 2));
}

export interface ReloadResult {
  added: string[];
  removed: string[];
  restarted: string[];
  /** Of `restarted`, those that went on in their state (a new socket only; older daemons: absent). */
  stateKept?: string[];
  /** Changed and kept running (state and held objects kept). */
  inPlace: string[];
  /** Per changed instance: what changed (`keyword`, `keyword OLD -> NEW`, `virtual_ipaddress +A -B`). */
  changes: Record<string, string[]>;
  /** Trackers (`kind:name`) started afresh, and those of them that cannot run. */
  trackers: { started: string[]; disabled: string[] };
  /** dynamic_interfaces: instances waiting for their interface (older daemons: absent). */
  waiting?: { instance: string; interface: string }[];
}

/** Exit codes of `vipctl reload` beside 0 (applied): the file was refused (nothing changed), or applying failed and was rolled back. */
export const EXIT_RELOAD_REFUSED = 2;
export const EXIT_RELOAD_FAILED = 1;

/**
 * What a reload did, one line per changed instance, e.g.
 * `reload applied` / `  in place   VI_1: priority 150 -> 140` / `  restarted  VI_2: virtual_router_id 51 -> 52`.
 */
export function reloadSummary(r: ReloadResult, head = 'reload applied'): string {
  const lines: string[] = [];
  const why = (n: string): string => (r.changes[n]?.length ? `: ${r.changes[n]!.join('; ')}` : '');
  for (const n of r.inPlace) lines.push(`  in place   ${n}${why(n)}`);
  for (const n of r.restarted) lines.push(`  restarted  ${n}${r.stateKept?.includes(n) ? ' (state kept)' : ''}${why(n)}`);
  for (const n of r.added) lines.push(`  added      ${n}`);
  for (const n of r.removed) lines.push(`  removed    ${n}`);
  for (const w of r.waiting ?? []) lines.push(`  waiting    ${w.instance}: interface ${w.interface} does not exist yet (dynamic_interfaces)`);
  const t = r.trackers;
  if (t.started.length) lines.push(`  trackers started afresh: ${t.started.join(', ')}${t.disabled.length ? `; DISABLED (cannot run, see the log): ${t.disabled.join(', ')}` : ''}`);
  return lines.length ? `${head}\n${lines.join('\n')}` : `${head}: no instance changed`;
}

/**
 * `vipctl reload`: the daemon reads its configuration again (as on SIGHUP) and applies the
 * difference. Prints what changed (or, with --json, the daemon's answer: `{ok, result}` or
 * `{ok: false, error, kind, result}`). Exit 0 applied; 2 refused (the file or a check failed,
 * nothing changed; the error names file:line); 1 failed while applying, running
 * configuration put back (the error says what failed), or the daemon went away.
 */
export async function reload(socket: string, json: boolean): Promise<void> {
  const r = await request(socket, 'reload');
  const { kind } = r as { kind?: string };
  if (json) out(JSON.stringify({ ok: r.ok, ...(r.ok ? {} : { error: r.error, kind: kind ?? null }), ...(r.result !== undefined ? { result: r.result } : {}) }));
  if (r.ok) {
    if (!json) out(reloadSummary(r.result as ReloadResult));
    return;
  }
  if (kind === 'failed') {
    throw new CliError(json ? '' : `reload failed: ${r.error}${r.result ? `\n${reloadSummary(r.result as ReloadResult, 'it was applying')}` : ''}`, EXIT_RELOAD_FAILED);
  }
  throw new CliError(json ? '' : `reload refused, nothing changed: ${r.error ?? 'no reason given'}`, kind === 'refused' ? EXIT_RELOAD_REFUSED : EXIT_DAEMON_FAILED);
}

/** Exit code of who-owns: 0 owner known, 3 configured but no master, 4 not configured. */
function whoExit(w: WhoOwns): number {
  if (!w.configured) return EXIT_NOT_CONFIGURED;
  return w.master ? 0 : EXIT_NO_MASTER;
}

export async function whoOwns(address: string, o: { socket: string; json: boolean; listen?: string; timeout: number }): Promise<number> {
  const want = canonicalIP(address.split('/')[0] ?? '');
  if (!want) throw new CliError(`who-owns: '${address}' is not an IP address`);
  let w: WhoOwns;
  if (o.listen) {
    // No daemon here: the master is the sender of adverts that list the address.
    const model = new SniffModel();
    let found: WhoOwns | null = null;
    await capture(o.listen, o.timeout, (data, time) => {
      const ev = model.onFrame(LINKTYPE_ETHERNET, data, time);
      if (ev?.type === 'vrrp' && ev.valid && (ev.priority ?? 0) > 0 && ev.addresses.includes(want)) {
        found = { configured: true, address: want, instance: `vrid ${ev.vrid}`, state: 'unknown (from the wire)', master: { address: ev.src, mac: ev.srcMac, self: false, priority: ev.priority, lastAdvertAgoMs: 0 } };
        return true;
      }
      return false;
    });
    w = found ?? { configured: false, address: want };
  } else {
    const r = await request(o.socket, 'who-owns', { address: want });
    if (!r.ok) throw new CliError(`who-owns: ${r.error}`);
    w = r.result as WhoOwns;
  }
  if (o.json) out(JSON.stringify(w));
  else if (!w.configured) out(o.listen ? `${want}: no advert listing it seen on ${o.listen} in ${o.timeout}s` : `${want}: not configured on this host`);
  else if (!w.master) out(`${want}: instance ${w.instance} (${w.state}), no master known`);
  else out(`${want}: master ${w.master.address} (${w.master.mac ?? 'MAC unknown'})${w.master.self ? ', this host' : ''}, instance ${w.instance}, state here ${w.state}`);
  return o.listen && !w.configured ? EXIT_NO_MASTER : whoExit(w);
}

/** `vipctl watch`: one line per event until Ctrl-C (exit 0) or the daemon stops (exit 1, see watch()). */
export async function watchEvents(socket: string, json: boolean): Promise<void> {
  await watch(socket, (e) => {
    const ev = e as Record<string, unknown>;
    if (json) return out(JSON.stringify(ev));
    const { time, type, instance, group, ...rest } = ev;
    out(`${String(time)} ${String(type)} ${String(instance ?? group)} ${Object.entries(rest).map(([k, v]) => `${k}=${v === null ? '-' : String(v)}`).join(' ')}`);
  });
}
