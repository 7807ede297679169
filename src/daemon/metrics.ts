/**
 * Prometheus metrics on an opt-in listen address (prom-client). Values are read from the
 * runners at scrape time, so the VRRP path pays nothing for them.
 */
import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Registry } from 'prom-client';
import type { NotifyStats } from './notify/hub.js';
import type { KernelStats } from './reconciler/kernel.js';
import type { InstanceStatus } from './status.js';
import type { TrackerRefStatus } from './trackers/manager.js';

const STATES: Record<string, number> = { INIT: 0, BACKUP: 1, MASTER: 2, FAULT: 3 };

export function metricsRegistry(status: () => InstanceStatus[], notify?: () => NotifyStats, kernel?: () => KernelStats): Registry {
  const reg = new Registry();
  const labels = ['instance', 'interface', 'vrid', 'family'] as const;
  const lv = (i: InstanceStatus): Record<(typeof labels)[number], string> => ({ instance: i.name, interface: i.interface, vrid: String(i.vrid), family: `ipv${i.family}` });
  const gauge = (name: string, help: string, value: (i: InstanceStatus) => number): void => {
    new Gauge({
      name, help, labelNames: labels, registers: [reg],
      collect() {
        this.reset();
        for (const i of status()) this.set(lv(i), value(i));
      },
    });
  };
  const counter = (name: string, help: string, value: (i: InstanceStatus) => number): void => {
    new Counter({
      name, help, labelNames: labels, registers: [reg],
      collect() {
        this.reset();
        for (const i of status()) this.inc(lv(i), value(i));
      },
    });
  };
  gauge('vipd_instance_state', 'VRRP state: 0 init, 1 backup, 2 master, 3 fault', (i) => STATES[i.state] ?? -1);
  gauge('vipd_instance_priority', 'Configured priority', (i) => i.priority);
  gauge('vipd_instance_effective_priority', 'Priority after trackers', (i) => i.effectivePriority);
  gauge('vipd_instance_vips_held', '1 when this host holds the instance VIPs', (i) => (i.vipsHeld ? 1 : 0));
  gauge('vipd_instance_maintenance', '1 while vipctl maintenance is on for the instance (priority 1)', (i) => (i.maintenance ? 1 : 0));
  gauge('vipd_master_last_advert_age_seconds', 'Age of the last advert from the current master (0 when self)', (i) => (i.master.lastAdvertAgoMs ?? -1000) / 1000);
  counter('vipd_adverts_sent_total', 'Adverts sent', (i) => i.stats.advertsSent);
  counter('vipd_adverts_received_total', 'Valid adverts received', (i) => i.stats.advertsReceived);
  counter('vipd_priority_zero_sent_total', 'Priority-0 adverts sent', (i) => i.stats.priorityZeroSent);
  counter('vipd_priority_zero_received_total', 'Priority-0 adverts received', (i) => i.stats.priorityZeroReceived);
  counter('vipd_transitions_total', 'State transitions', (i) => i.stats.transitions);
  new Counter({
    name: 'vipd_packets_dropped_total', help: 'Received packets dropped, by reason (RFC 9568 7.1)', labelNames: [...labels, 'reason'], registers: [reg],
    collect() {
      this.reset();
      for (const i of status()) for (const [reason, n] of Object.entries(i.stats.drops)) this.inc({ ...lv(i), reason }, n ?? 0);
    },
  });
  trackerMetrics(reg, status);
  if (notify) notifyMetrics(reg, notify);
  if (kernel) kernelMetrics(reg, kernel);
  return reg;
}

/** What the reconciler did to the kernel objects a master holds, and the accept-mode filter's nft runs. */
function kernelMetrics(reg: Registry, stats: () => KernelStats): void {
  for (const [name, help, key] of [
    ['vipd_kernel_objects_added_total', 'Addresses, routes and rules added (acked by the kernel)', 'added'],
    ['vipd_kernel_objects_deleted_total', 'Addresses, routes and rules deleted (acked by the kernel)', 'deleted'],
    ['vipd_kernel_objects_restored_total', 'Objects someone else deleted while their instance was MASTER, put back', 'restored'],
    ['vipd_kernel_objects_removed_foreign_total', 'Configured objects found while their instance was not MASTER (leftovers, added by hand), removed', 'removedForeign'],
    ['vipd_kernel_object_failures_total', 'Add or delete requests the kernel refused (logged)', 'failures'],
    ['vipd_accept_filter_runs_total', 'nft runs of the accept-mode filter', 'filterRuns'],
    ['vipd_accept_filter_failures_total', 'nft runs of the accept-mode filter that failed (logged, retried)', 'filterErrors'],
  ] as const) {
    new Counter({
      name, help, registers: [reg],
      collect() {
        this.reset();
        this.inc(stats()[key]);
      },
    });
  }
}

/** Notify scripts, FIFO lines, mail and sync groups (src/daemon/notify/hub.ts). */
function notifyMetrics(reg: Registry, stats: () => NotifyStats): void {
  const one = (name: string, help: string, value: (s: NotifyStats) => number | undefined, kind: 'gauge' | 'counter' = 'counter'): void => {
    const collect = function (this: Gauge | Counter): void {
      this.reset();
      const v = value(stats());
      if (v === undefined) return;
      if (this instanceof Gauge) this.set(v);
      else this.inc(v);
    };
    if (kind === 'gauge') new Gauge({ name, help, registers: [reg], collect });
    else new Counter({ name, help, registers: [reg], collect });
  };
  one('vipd_notify_runs_total', 'Notify scripts started (notify_*, notify, notify_master_rx_lower_pri)', (s) => s.notify?.runs);
  one('vipd_notify_failures_total', 'Notify scripts that exited non-zero, died of a signal, timed out or could not start', (s) => s.notify?.failures);
  one('vipd_notify_timeouts_total', 'Notify scripts killed at their timeout', (s) => s.notify?.timeouts);
  one('vipd_notify_dropped_total', 'Notify scripts never started: their queue was full, or vipd stopped first', (s) => s.notify?.dropped);
  one('vipd_mail_sent_total', 'Mail alerts the SMTP server accepted', (s) => s.mail?.sent);
  one('vipd_mail_failed_total', 'Mail alerts that failed (server unreachable, refused, timed out)', (s) => s.mail?.failed);
  one('vipd_mail_dropped_total', 'Mail alerts dropped: the queue was full, or vipd stopped first', (s) => s.mail?.dropped);
  one('vipd_mail_queued', 'Mail alerts waiting or being sent', (s) => s.mail?.queued, 'gauge');
  for (const [name, help, key] of [
    ['vipd_notify_fifo_lines_total', 'Lines written to a notify FIFO', 'written'],
    ['vipd_notify_fifo_dropped_total', 'Lines dropped: the FIFO was full (nobody reading)', 'dropped'],
  ] as const) {
    new Counter({
      name, help, labelNames: ['path'], registers: [reg],
      collect() {
        this.reset();
        for (const f of stats().fifo) this.inc({ path: f.path }, f[key]);
      },
    });
  }
  new Gauge({
    name: 'vipd_sync_group_state', help: 'Sync group state: 0 init, 1 backup, 2 master, 3 fault', labelNames: ['group'], registers: [reg],
    collect() {
      this.reset();
      for (const g of stats().groups) this.set({ group: g.name }, STATES[g.state] ?? -1);
    },
  });
}

/**
 * Per tracker (kind, name): its level (1 up / OK, 0 down / failed, -1 not run yet; a
 * track_file's value), a script's runs, skipped runs, timeouts and last duration; per
 * instance and tracker: the priority change it makes and whether it holds the instance in FAULT.
 */
function trackerMetrics(reg: Registry, status: () => InstanceStatus[]): void {
  const tl = ['kind', 'tracker'] as const;
  const each = (f: (t: TrackerRefStatus, i: InstanceStatus) => void): void => {
    for (const i of status()) for (const t of i.trackers) f(t, i);
  };
  const perTracker = (name: string, help: string, value: (t: TrackerRefStatus) => number | undefined, kind: 'gauge' | 'counter' = 'gauge'): void => {
    const collect = function (this: Gauge | Counter): void {
      this.reset();
      const seen = new Set<string>();
      each((t) => {
        const v = value(t);
        const k = `${t.kind}:${t.name}`;
        if (v === undefined || seen.has(k)) return;
        seen.add(k);
        if (this instanceof Gauge) this.set({ kind: t.kind, tracker: t.name }, v);
        else this.inc({ kind: t.kind, tracker: t.name }, v);
      });
    };
    if (kind === 'gauge') new Gauge({ name, help, labelNames: tl, registers: [reg], collect });
    else new Counter({ name, help, labelNames: tl, registers: [reg], collect });
  };
  perTracker('vipd_tracker_level', 'Tracker level: 1 up/OK, 0 down/failed, -1 not run yet; a track_file: its value', (t) =>
    t.level.kind === 'value' ? t.level.value : t.level.up === null ? -1 : t.level.up ? 1 : 0);
  perTracker('vipd_tracker_disabled', '1 when the tracker cannot run (a script not found or insecure, a track_file without its directory): dropped from its instances', (t) => (t.disabled ? 1 : 0));
  perTracker('vipd_script_runs_total', 'vrrp_script runs started', (t) => t.runs, 'counter');
  perTracker('vipd_script_skipped_total', 'vrrp_script runs skipped: the previous run was still going', (t) => t.skipped, 'counter');
  perTracker('vipd_script_timeouts_total', 'vrrp_script runs killed at their timeout', (t) => t.timeouts, 'counter');
  perTracker('vipd_script_last_duration_seconds', 'Duration of the last vrrp_script run', (t) => (t.lastDurationMs === undefined ? undefined : t.lastDurationMs / 1000));
  const il = ['instance', 'kind', 'tracker'] as const;
  new Gauge({
    name: 'vipd_tracker_priority_delta', help: 'Priority change a tracker makes to an instance now', labelNames: il, registers: [reg],
    collect() {
      this.reset();
      each((t, i) => this.set({ instance: i.name, kind: t.kind, tracker: t.name }, t.effect.delta));
    },
  });
  new Gauge({
    name: 'vipd_tracker_fault', help: '1 when a tracker holds the instance in FAULT', labelNames: il, registers: [reg],
    collect() {
      this.reset();
      each((t, i) => this.set({ instance: i.name, kind: t.kind, tracker: t.name }, t.effect.fault ? 1 : 0));
    },
  });
}

/** A parsed --metrics address. */
export interface MetricsListen {
  host: string;
  port: number;
}

/**
 * `--metrics` value: `HOST:PORT`, `[IPV6]:PORT` or `PORT` (host 127.0.0.1), port 1-65535.
 * Throws an Error with the message otherwise (the CLI exits 2: a usage mistake).
 */
export function parseMetricsListen(listen: string): MetricsListen {
  const m = /^(?:\[([^\]]+)\]:|([^:[\]]+):)?(\d+)$/.exec(listen);
  const port = m ? Number(m[3]) : NaN;
  if (!m || !(port >= 1 && port <= 65535)) throw new Error(`--metrics: expected HOST:PORT, [IPV6]:PORT or PORT (1-65535), got '${listen}'`);
  return { host: m[1] ?? m[2] ?? '127.0.0.1', port };
}

/**
 * Bind the metrics server now (before any instance starts: a busy port is refused while
 * nothing has been touched). Rejects with "cannot serve metrics on HOST:PORT: REASON".
 */
export async function serveMetrics(at: MetricsListen, reg: Registry): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end('see /metrics\n');
      return;
    }
    reg.metrics().then(
      (body) => res.writeHead(200, { 'Content-Type': reg.contentType }).end(body),
      (e: Error) => res.writeHead(500).end(e.message),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => {
      const why = e.code === 'EADDRINUSE' ? 'the port is in use (another process listens there: pick another port)' : e.code === 'EADDRNOTAVAIL' ? 'no such local address' : e.message;
      reject(new Error(`cannot serve metrics on ${at.host.includes(':') ? `[${at.host}]` : at.host}:${at.port}: ${why}`));
    });
    server.listen(at.port, at.host, resolve);
  });
  return server;
}
