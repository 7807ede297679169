#!/usr/bin/env node
/** vipd: the VRRP daemon. `vipd run -f FILE`, `vipd check-config FILE`. */
import { Command } from 'commander';
import { readFile, unlink, writeFile } from 'node:fs/promises';
import { pino } from 'pino';
import { fsSource } from '../config/fs-source.js';
import { loadKeepalivedConfig } from '../config/keepalived.js';
import { ConfigErrors, type DaemonConfig } from '../config/model.js';

const DEFAULT_CONF = '/etc/keepalived/keepalived.conf';
const EXIT_CONFIG = 2;

async function load(file: string): Promise<DaemonConfig> {
  return loadKeepalivedConfig(file, fsSource);
}

function fail(e: unknown): never {
  if (e instanceof ConfigErrors) {
    for (const x of e.errors) process.stderr.write(`${x.pos.file}:${x.pos.line}:${x.pos.col}: ${x.message}\n`);
    process.stderr.write(`vipd: ${e.errors.length} error${e.errors.length > 1 ? 's' : ''} in the configuration; nothing was changed\n`);
    process.exit(EXIT_CONFIG);
  }
  process.stderr.write(`vipd: ${(e as Error).message}\n`);
  process.exit(1);
}

/** Numeric gid of a group name (or a number), from /etc/group. */
async function groupId(name: string): Promise<number> {
  if (/^\d+$/.test(name)) return Number(name);
  const line = (await readFile('/etc/group', 'utf8')).split('\n').find((l) => l.split(':')[0] === name);
  if (!line) throw new Error(`--control-group: no group ${name}`);
  return Number(line.split(':')[2]);
}

const program = new Command();
program.name('vipd').description('VRRP virtual-IP daemon (reads keepalived.conf)').version('0.1.0');
program.exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : EXIT_CONFIG));

program
  .command('check-config')
  .argument('[file]', 'configuration file', DEFAULT_CONF)
  .description('validate a configuration: exit 0 when valid, 2 with every error listed')
  .action(async (file: string) => {
    const c = await load(file).catch(fail);
    process.stdout.write(`${file}: OK (${c.instances.length} instance${c.instances.length === 1 ? '' : 's'})\n`);
  });

program
  .command('run')
  .description('run in the foreground')
  .option('-f, --config <file>', 'keepalived.conf to read', DEFAULT_CONF)
  .option('--pid-file <file>', 'write the pid here')
  .option('--log-level <level>', 'trace, debug, info, warn, error', 'info')
  .option('--control-socket <path>', 'control socket for vipctl', '/run/vipd/vipd.sock')
  .option('--control-group <group>', 'group (besides root) allowed to use the control socket')
  .option('--control-max-buffer <bytes>', 'drop a watcher with more unread output than this', (v) => Number(v), 256 * 1024)
  .option('--metrics <[host:]port>', 'serve Prometheus metrics (host defaults to 127.0.0.1)')
  .action(async (o: { config: string; pidFile?: string; logLevel: string; controlSocket: string; controlGroup?: string; controlMaxBuffer: number; metrics?: string }) => {
    const config = await load(o.config).catch(fail);
    const log = pino({ level: o.logLevel, base: { pid: process.pid } });
    // Loaded after the config check: a bad config must not need the native addon.
    const { Daemon } = await import('../daemon/daemon.js');
    const { ControlServer } = await import('../daemon/control.js');
    const { whoOwns } = await import('../daemon/status.js');
    // Everything is loaded before the first instance starts: a module load is synchronous
    // work on the event loop, and after start it would delay adverts (seen as a backup
    // taking over for a moment right after start).
    const { sdNotify } = await import('../os/sd-notify.js');
    const metrics = o.metrics ? await import('../daemon/metrics.js') : null;
    const daemon = new Daemon(config, log);
    const reload = async (): Promise<unknown> => {
      const next = await load(o.config);
      return daemon.reload(next);
    };
    const control: InstanceType<typeof ControlServer> = new ControlServer(
      { path: o.controlSocket, gid: o.controlGroup ? await groupId(o.controlGroup) : undefined, maxBuffer: o.controlMaxBuffer },
      {
        status: () => ({ instances: daemon.status() }),
        whoOwns: (a) => whoOwns(a, daemon.status()),
        dump: (): unknown => ({ pid: process.pid, startedAt: new Date(daemon.startedAt).toISOString(), config: daemon.config, instances: daemon.status(), unknownVrid: daemon.unknownVrid, droppedWatchers: control.droppedWatchers }),
        reload,
      },
    );
    daemon.on('event', (e) => control.broadcast({ time: new Date().toISOString(), ...e }));
    let stopping = false;
    const stop = async (sig: string): Promise<void> => {
      if (stopping) return;
      stopping = true;
      log.info({ signal: sig }, 'stopping: priority 0 from masters, VIPs removed');
      await daemon.stop();
      await control.close();
      if (o.pidFile) await unlink(o.pidFile).catch(() => undefined);
      log.flush();
      process.exit(0);
    };
    process.on('SIGTERM', () => void stop('SIGTERM'));
    process.on('SIGINT', () => void stop('SIGINT'));
    process.on('SIGHUP', () => {
      reload().catch((e: Error) => log.error({ err: e.message }, 'reload refused: configuration invalid, keeping the running one'));
    });
    try {
      await daemon.start();
      await control.listen();
      if (metrics && o.metrics) await metrics.serveMetrics(o.metrics, metrics.metricsRegistry(() => daemon.status()));
      if (sdNotify('READY=1')) log.info('sent READY=1 to systemd');
    } catch (e) {
      log.error({ err: (e as Error).message }, 'start failed');
      await daemon.stop().catch(() => undefined);
      fail(e);
    }
    if (o.pidFile) await writeFile(o.pidFile, `${process.pid}\n`);
  });

program.parseAsync(process.argv).catch(fail);
