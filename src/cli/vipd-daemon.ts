/**
 * The running daemon behind `vipd run` and keepalived mode: load the configuration, log its
 * warnings, start the instances and the control socket, write the pid files, and stop cleanly
 * (priority 0 from masters, VIPs removed, pid files removed) on SIGTERM/SIGINT; SIGHUP reloads.
 */
import { constants as fsc } from 'node:fs';
import { mkdir, open, readFile, rmdir, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { destination, pino, type Logger } from 'pino';
import { ConfigErrors, type DaemonConfig } from '../config/model.js';
import { currentNetns, runStateDir, runtimePaths } from '../os/paths.js';
import type { ChildChannel } from './daemonize.js';
import { dumpModel } from '../config/dump.js';
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
  logLevel: string;
  /** Log to this file (JSON lines, appended) instead of stdout. */
  logFile: string | null;
  /** null: /run/vipd[/NETNS]/vipd[_ID].sock (src/os/paths.ts). */
  controlSocket: string | null;
  controlGroup?: string;
  controlMaxBuffer: number;
  metrics?: string;
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

function die(o: DaemonRunOptions, e: unknown): never {
  if (e instanceof ConfigErrors) {
    say(o, refusalText(e));
    process.exit(EXIT_CONFIG);
  }
  say(o, `vipd: ${(e as Error).message}\n`);
  process.exit(1);
}

/** A live process named by a pid file (keepalived's check before it starts); stale or unreadable files are removed. */
async function runningPid(file: string, log: Logger): Promise<number | null> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return null;
  }
  const pid = Number(text.trim());
  if (!Number.isInteger(pid) || pid <= 0) {
    log.info({ file }, 'removing an unreadable pid file');
    await unlink(file).catch(() => undefined);
    return null;
  }
  if (pid === process.pid) return null;
  try {
    process.kill(pid, 0);
    return pid;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EPERM') return pid;
    log.info({ file, pid }, 'removing a stale pid file (no such process)');
    await unlink(file).catch(() => undefined);
    return null;
  }
}

/** Write `pid` to `file` as keepalived does: mode 0644, truncated, never through a symlink. */
async function writePidFile(file: string, pid: number): Promise<void> {
  await mkdir(dirname(file), { recursive: true, mode: 0o755 });
  const fh = await open(file, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_TRUNC | fsc.O_NOFOLLOW, 0o644);
  try {
    await fh.writeFile(`${pid}\n`);
  } finally {
    await fh.close();
  }
}

export async function runDaemon(o: DaemonRunOptions): Promise<void> {
  const config = o.config ?? (await loadConfig(o.configFile, o.configId).catch((e: unknown) => die(o, e)));
  const dest = o.logFile ? destination({ dest: o.logFile, append: true, mkdir: true, sync: true }) : undefined;
  const log = dest ? pino({ level: o.logLevel, base: { pid: process.pid } }, dest) : pino({ level: o.logLevel, base: { pid: process.pid } });
  logWarnings(log, config);
  for (const n of o.notes) log[n.level](n.msg);
  if (o.dumpConfig) log.info({ config: dumpModel(config) }, 'effective configuration (-d)');

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
  if (o.refuseIfRunning) {
    for (const f of pidFiles) {
      const pid = await runningPid(f, log);
      if (pid === null) continue;
      // keepalived 2.2.7 logs "daemon is already running" and exits 0.
      say(o, `vipd: already running (pid ${pid} in ${f}); not started\n`);
      process.exit(0);
    }
  }

  // Loaded after the config check: a bad config must not need the native addon.
  const { Daemon } = await import('../daemon/daemon.js');
  const { ControlServer } = await import('../daemon/control.js');
  const { whoOwns } = await import('../daemon/status.js');
  // Everything is loaded before the first instance starts: a module load is synchronous
  // work on the event loop, and after start it would delay adverts.
  const { sdNotify } = await import('../os/sd-notify.js');
  const metrics = o.metrics ? await import('../daemon/metrics.js') : null;
  const daemon = new Daemon(config, log);
  const reload = async (): Promise<unknown> => {
    const next = await loadConfig(o.configFile, o.configId);
    logWarnings(log, next);
    return daemon.reload(next);
  };
  const control: InstanceType<typeof ControlServer> = new ControlServer(
    { path: controlSocket, gid: o.controlGroup ? await groupId(o.controlGroup).catch((e: unknown) => die(o, e)) : undefined, maxBuffer: o.controlMaxBuffer },
    {
      status: () => ({ instances: daemon.status() }),
      whoOwns: (a) => whoOwns(a, daemon.status()),
      dump: (): unknown => ({ pid: process.pid, startedAt: new Date(daemon.startedAt).toISOString(), config: daemon.config, instances: daemon.status(), unknownVrid: daemon.unknownVrid, droppedWatchers: control.droppedWatchers }),
      reload,
    },
  );
  daemon.on('event', (e) => control.broadcast({ time: new Date().toISOString(), ...e }));
  let written: string[] = [];
  let listening = false;
  let stopping = false;
  const stop = async (sig: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    log.info({ signal: sig }, 'stopping: priority 0 from masters, VIPs removed');
    await daemon.stop();
    await control.close();
    for (const f of written) await unlink(f).catch(() => undefined);
    for (const d of ownDirs) await rmdir(d).catch(() => undefined); // only when empty
    log.flush();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGHUP', () => {
    reload().catch((e: Error) => log.error({ err: e.message }, 'reload refused: configuration invalid, keeping the running one'));
  });
  // keepalived's DATA and STATS signals (and, for SIGUSR1, Node's debugger): answered in the log.
  for (const s of ['SIGUSR1', 'SIGUSR2'] as const) {
    process.on(s, () => log.warn({ signal: s }, 'keepalived writes its data/stats files on this signal; vipd does not: use vipctl dump / vipctl status'));
  }
  try {
    await daemon.start();
    await control.listen();
    listening = true;
    if (metrics && o.metrics) await metrics.serveMetrics(o.metrics, metrics.metricsRegistry(() => daemon.status()));
    for (const f of pidFiles) {
      await writePidFile(f, process.pid);
      written.push(f);
    }
    if (sdNotify('READY=1')) log.info('sent READY=1 to systemd');
  } catch (e) {
    log.error({ err: (e as Error).message }, 'start failed');
    await daemon.stop().catch(() => undefined);
    if (listening) await control.close().catch(() => undefined); // (never another daemon's socket)
    for (const f of written) await unlink(f).catch(() => undefined);
    written = [];
    die(o, e);
  }
  log.info({ controlSocket, pidFiles }, 'ready: control socket open, pid files written');
  o.channel?.ready();
}
