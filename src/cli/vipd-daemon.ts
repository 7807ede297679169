/**
 * The running daemon behind `vipd run` and keepalived mode: load the configuration, log its
 * warnings, check everything that can fail, start the instances, write the pid files, and stop
 * cleanly (priority 0 from masters, VIPs removed, pid files removed) on SIGTERM/SIGINT; SIGHUP
 * reloads.
 *
 * Start order (docs/daemon.md, "Starting safely"): every check that can fail comes before
 * the first change to the system, so a refused start leaves a running daemon and its VIPs
 * alone:
 * 1. the configuration, the log options, the --metrics address (exit 2: usage/config);
 * 2. capabilities (CAP_NET_RAW, CAP_NET_ADMIN), pid files naming a live process (keepalived
 *    mode: exit 0, as keepalived), the instance lock for the control socket, addresses also
 *    managed by another vipd of this namespace, interfaces, the metrics port and the control
 *    socket bound (exit 1: environment);
 * 3. then only: the instances start (leftover VIPs removed under the lock, adverts), pid files
 *    are written, READY=1. A failure there stops the instances and closes what was opened.
 */
import { readFile, rmdir, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Server } from 'node:http';
import { dumpModel } from '../config/dump.js';
import { ConfigErrors, type DaemonConfig } from '../config/model.js';
import { currentNetns, runStateDir, runtimePaths } from '../os/paths.js';
import type { ChildChannel } from './daemonize.js';
import { CliError } from './errors.js';
import { createLogger, parseLogLevel, type LogFormat } from './logger.js';
import { EXIT_CONFIG, loadConfig, logWarnings, refusalText } from './vipd-config.js';

export interface StartNote {
  level: 'info' | 'warn';
  msg: string;
}

export interface DaemonRunOptions {
  /** Absolute path of the configuration (reloads read it again). */
  configFile: string;
  /** Explicit -i/--config-id (null: the host name for @ lines, and no id in the paths). */
  configId: string | null;
  /** Already loaded by the caller (keepalived mode checks it before forking). */
  config?: DaemonConfig;
  /** One of LOG_LEVELS (src/cli/logger.ts); anything else: exit 2. */
  logLevel: string;
  /** --log-format; null: text on a terminal or journald, else JSON (src/cli/logger.ts). */
  logFormat: LogFormat | null;
  /** Log to this file (appended; JSON unless logFormat says text) instead of stdout. */
  logFile: string | null;
  /** null: /run/vipd[/NETNS]/vipd[_ID].sock (src/os/paths.ts). */
  controlSocket: string | null;
  controlGroup?: string;
  controlMaxBuffer: number;
  metrics?: string;
  /** --notify-timeout, ms (default 30 s: src/daemon/notify/queue.ts NOTIFY_TIMEOUT_MS). */
  notifyTimeoutMs?: number;
  /** vipctl maintenance's file; null/undefined: next to the control socket's place under /var/lib/vipd (maintenance-store.ts). */
  maintenanceFile?: string | null;
  /** Pid files to write after start and remove at a clean stop. */
  pidFiles: string[];
  /** Write keepalived's default pid files for this namespace and id (keepalived mode without -p/-r). */
  defaultPidFiles: { main: boolean; vrrp: boolean };
  /** keepalived mode: do not start when a pid file names a live process (keepalived exits 0 then). */
  refuseIfRunning: boolean;
  /** Logged once at start. */
  notes: StartNote[];
  /** -d: log the effective configuration at start. */
  dumpConfig: boolean;
  /** Set in a forked daemon: where start-up errors are reported. */
  channel: ChildChannel | null;
  /** How to run a second daemon beside a running one, for the lock message (per front end). */
  lockHint: string;
}

/** Numeric gid of a group name (or a number), from /etc/group. */
async function groupId(name: string): Promise<number> {
  if (/^\d+$/.test(name)) return Number(name);
  const line = (await readFile('/etc/group', 'utf8')).split('\n').find((l) => l.split(':')[0] === name);
  if (!line) throw new Error(`--control-group: no group ${name}`);
  return Number(line.split(':')[2]);
}

/** The path id: the configuration's `instance`, else an explicit -i (keepalived names pid files by `instance` only). */
export function pathId(config: DaemonConfig, configId: string | null): string | null {
  return config.instanceName ?? configId;
}

/** Where a start-up failure is told: the parent's stderr through the channel, else ours. */
function say(o: DaemonRunOptions, text: string): void {
  if (o.channel?.open) o.channel.message(text);
  else process.stderr.write(text);
}

/** Refuse to start: one line (or a configuration's errors), exit 2 for usage/config, 1 for the environment. */
function die(o: DaemonRunOptions, e: unknown): never {
  if (e instanceof ConfigErrors) {
    say(o, refusalText(e));
    process.exit(EXIT_CONFIG);
  }
  say(o, `vipd: ${(e as Error).message}\n`);
  const code = (e as { exitCode?: unknown }).exitCode;
  process.exit(typeof code === 'number' ? code : 1);
}

export async function runDaemon(o: DaemonRunOptions): Promise<void> {
  const config = o.config ?? (await loadConfig(o.configFile, o.configId).catch((e: unknown) => die(o, e)));
  const fail = (e: unknown): never => die(o, e);
  let level;
  try {
    level = parseLogLevel(o.logLevel);
  } catch (e) {
    die(o, e);
  }
  const { log } = await createLogger({ level, format: o.logFormat, file: o.logFile }).catch(fail);
  logWarnings(log, config);
  for (const n of o.notes) log[n.level](n.msg);
  if (o.dumpConfig) log.info({ config: dumpModel(config) }, 'effective configuration (-d)');

  // 1. usage: the metrics address (prom-client is loaded only with --metrics)
  const metrics = o.metrics ? await import('../daemon/metrics.js') : null;
  let metricsAt: import('../daemon/metrics.js').MetricsListen | null = null;
  try {
    if (metrics && o.metrics) metricsAt = metrics.parseMetricsListen(o.metrics);
  } catch (e) {
    die(o, new CliError((e as Error).message));
  }
  // 2. the environment. Loaded after the configuration check: a bad one must not need the native addon.
  const pre = await import('../daemon/preflight.js');
  await pre.checkCapabilities().catch(fail);
  let paths;
  try {
    paths = runtimePaths(currentNetns(), pathId(config, o.configId));
  } catch (e) {
    die(o, e);
  }
  const controlSocket = o.controlSocket ?? paths.socket;
  // vipd is one process: keepalived's main and VRRP pid files both hold its pid.
  const pidFiles = [...o.pidFiles];
  if (o.defaultPidFiles.main) pidFiles.push(paths.mainPid);
  if (o.defaultPidFiles.vrrp) pidFiles.push(paths.vrrpPid);
  // Directories of default paths that may be removed at stop when empty (keepalived removes its pid directory).
  const ownDirs = new Set<string>();
  if (o.defaultPidFiles.main || o.defaultPidFiles.vrrp) ownDirs.add(dirname(paths.mainPid));
  if (o.controlSocket === null) ownDirs.add(dirname(paths.socket));
  ownDirs.delete(runStateDir());
  await pre.checkPidFiles(pidFiles, o.refuseIfRunning, log).catch(fail);
  const gid = o.controlGroup ? await groupId(o.controlGroup).catch(fail) : undefined;

  // Everything is loaded before the first instance starts: a module load is synchronous
  // work on the event loop, and after start it would delay adverts.
  const { InstanceLock } = await import('../os/instance-lock.js');
  const { Daemon, ReloadError } = await import('../daemon/daemon.js');
  const { breathe } = await import('../daemon/reload-confirm.js');
  const { ControlServer } = await import('../daemon/control.js');
  const { whoOwns } = await import('../daemon/status.js');
  const { sdNotify } = await import('../os/sd-notify.js');
  const { ReloadTimer } = await import('../daemon/reload-time.js');
  const { ReloadFiles, defaultReloadFile } = await import('./reload-files.js');
  const { MaintenanceStore, defaultMaintenanceFile } = await import('../daemon/maintenance-store.js');
  const { HandoverDesk } = await import('../daemon/handover.js');
  const daemon = new Daemon(config, log, { notifyTimeoutMs: o.notifyTimeoutMs });
  // maintenance kept across restarts: read before anything starts (a broken file refuses the start)
  const store = (() => {
    try {
      return new MaintenanceStore(o.maintenanceFile ?? defaultMaintenanceFile(controlSocket)).load();
    } catch (e) {
      return fail(e);
    }
  })();
  daemon.inMaintenance = (name) => store.has(name);
  const configured = (n: string): boolean => config.instances.some((i) => i.name === n);
  const inMaint = store.list().filter(configured);
  const unknown = store.list().filter((n) => !configured(n));
  if (inMaint.length) log.warn({ instances: inMaint, file: store.path }, `in maintenance (priority 1) since before this start: ${inMaint.join(', ')}; vipctl maintenance off to end it`);
  if (unknown.length) log.warn({ instances: unknown, file: store.path }, `the maintenance file names instances not configured: ${unknown.join(', ')} (removed or renamed? an instance renamed is out of maintenance); vipctl maintenance off NAME takes a name out`);
  const desk = new HandoverDesk({ runners: () => daemon.runners, syncGroups: () => daemon.config.syncGroups, store, log });
  daemon.on('event', (e) => desk.onEvent(e));
  const addresses = (): string[] => pre.configAddresses(daemon.config);
  const attempt = await InstanceLock.acquire(controlSocket, () => ({ pid: process.pid, config: o.configFile, controlSocket, addresses: addresses(), routers: pre.configRouters(daemon.config) })).catch(fail);
  if (!attempt.ok) die(o, new Error(pre.lockHeldText(attempt.name, attempt.holder, o.configFile, o.lockHint)));
  const lock = attempt.lock;
  await pre.checkSharedAddresses(lock.name, addresses(), undefined, pre.configRouters(daemon.config)).catch(fail);
  await daemon.prepare().catch(fail);

  const reloadFiles = new ReloadFiles({ log, configFile: o.configFile, defaultPath: defaultReloadFile(paths.mainPid) });
  await reloadFiles.removeStale(config.global);
  let started = false;
  // Reloads run one at a time, in order (a SIGHUP storm must not run two at once: they would
  // share the rtnetlink socket's one dump); a refusal is logged whoever asked (SIGHUP or vipctl).
  let reloading: Promise<unknown> = Promise.resolve();
  const reloadOnce = async (): Promise<unknown> => {
    if (!started) throw new Error('vipd is still starting; reload once it runs');
    const check = reloadFiles.begin(daemon.config.global); // reload_file, reload_check_config (src/cli/reload-files.ts)
    let next;
    try {
      next = await check.read(() => loadConfig(o.configFile, o.configId, breathe));
    } catch (e) {
      log.error({ err: (e as Error).message }, 'reload refused: configuration invalid, keeping the running one');
      throw new ReloadError((e as Error).message, 'refused');
    }
    logWarnings(log, next);
    return check.applied(daemon.reload(next)).catch((e: Error) => {
      // a failure while applying was logged by the daemon with what it put back
      if ((e as { kind?: string }).kind === 'refused') log.error({ err: e.message }, 'reload refused, keeping the running configuration');
      throw e;
    });
  };
  const queue = (job: () => Promise<unknown>): Promise<unknown> => {
    const run = reloading.then(job, job);
    reloading = run.catch(() => undefined);
    return run;
  };
  // reload_time_file (src/daemon/reload-time.ts) follows the configuration each reload leaves running
  const reload = (): Promise<unknown> => queue(() => reloadOnce().finally(() => (started && !stopping ? timed.follow(daemon.config.global) : undefined)));
  const timed = new ReloadTimer({ log, reload });
  // dynamic_interfaces: an interface a waiting instance needs appeared; the running
  // configuration again (not the file: keepalived does not read it then either)
  daemon.dyn.onReady = () => void queue(() => daemon.reload(daemon.config)).catch((e: Error) => log.error({ err: e.message }, 'could not start the instances waiting for their interface'));
  const control: InstanceType<typeof ControlServer> = new ControlServer(
    { path: controlSocket, gid, maxBuffer: o.controlMaxBuffer },
    {
      // startsInMs: only while vrrp_startup_delay holds the instances back
      status: () => ({
        instances: daemon.status(), syncGroups: daemon.notifyStats().groups,
        ...(daemon.startsInMs !== null ? { startsInMs: daemon.startsInMs } : {}),
        ...(daemon.dyn.waiting.size ? { waiting: [...daemon.dyn.waiting].map(([instance, ifname]) => ({ instance, interface: ifname })) } : {}),
      }),
      whoOwns: (a) => whoOwns(a, daemon.status()),
      dump: (): unknown => ({ pid: process.pid, startedAt: new Date(daemon.startedAt).toISOString(), config: daemon.config, instances: daemon.status(), notify: daemon.notifyStats(), kernel: daemon.kernelStats(), unknownVrid: daemon.unknownVrid, droppedWatchers: control.droppedWatchers }),
      reload,
      handover: (req) => desk.handover(req as Parameters<typeof desk.handover>[0]),
      maintenance: (on, req) => desk.maintenance(on, req as Parameters<typeof desk.maintenance>[1]),
    },
  );
  daemon.on('event', (e) => control.broadcast({ time: new Date().toISOString(), ...e }));
  let metricsServer: Server | null = null;
  let written: string[] = [];
  let stopping = false;
  const stop = async (sig: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    timed.stop();
    log.info({ signal: sig }, 'stopping: priority 0 from masters, VIPs removed');
    await daemon.stop();
    await control.close();
    for (const f of written) await unlink(f).catch(() => undefined);
    for (const d of [...reloadFiles.madeDirs, ...ownDirs]) await rmdir(d).catch(() => undefined); // only when empty
    log.flush();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGHUP', () => {
    reload().catch(() => undefined); // logged by reloadOnce
  });
  // keepalived's DATA and STATS signals (and, for SIGUSR1, Node's debugger): answered in the log.
  for (const s of ['SIGUSR1', 'SIGUSR2'] as const) {
    process.on(s, () => log.warn({ signal: s }, 'keepalived writes its data/stats files on this signal; vipd does not: use vipctl dump / vipctl status'));
  }
  let touched = false;
  try {
    if (metrics && metricsAt) metricsServer = await metrics.serveMetrics(metricsAt, metrics.metricsRegistry(() => daemon.status(), () => daemon.notifyStats(), () => daemon.kernelStats()));
    await control.listen();
    // 3. the first change to the system
    touched = true;
    await daemon.start(lock);
    started = true;
    for (const f of pidFiles) {
      await pre.writePidFile(f, process.pid);
      written.push(f);
    }
    if (sdNotify('READY=1')) log.info('sent READY=1 to systemd');
  } catch (e) {
    if (touched) log.error({ err: (e as Error).message }, 'start failed');
    if (touched) await daemon.stop().catch(() => undefined);
    await control.close().catch(() => undefined); // (only a socket this daemon opened)
    metricsServer?.close();
    for (const f of written) await unlink(f).catch(() => undefined);
    written = [];
    die(o, e);
  }
  log.info({ controlSocket, pidFiles }, 'ready: control socket open, pid files written');
  o.channel?.ready();
  await timed.follow(daemon.config.global); // reload_time_file: watched once the daemon runs
}
