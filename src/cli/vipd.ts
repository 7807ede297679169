#!/usr/bin/env node
/** vipd: the VRRP daemon. `vipd run -f FILE`, `vipd check-config FILE`. */
import { Command } from 'commander';
import { unlink, writeFile } from 'node:fs/promises';
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
  .action(async (o: { config: string; pidFile?: string; logLevel: string }) => {
    const config = await load(o.config).catch(fail);
    const log = pino({ level: o.logLevel, base: { pid: process.pid } });
    // Loaded after the config check: a bad config must not need the native addon.
    const { Daemon } = await import('../daemon/daemon.js');
    const daemon = new Daemon(config, log);
    let stopping = false;
    const stop = async (sig: string): Promise<void> => {
      if (stopping) return;
      stopping = true;
      log.info({ signal: sig }, 'stopping: priority 0 from masters, VIPs removed');
      await daemon.stop();
      if (o.pidFile) await unlink(o.pidFile).catch(() => undefined);
      log.flush();
      process.exit(0);
    };
    process.on('SIGTERM', () => void stop('SIGTERM'));
    process.on('SIGINT', () => void stop('SIGINT'));
    process.on('SIGHUP', () => {
      load(o.config)
        .then((next) => daemon.reload(next))
        .catch((e: Error) => log.error({ err: e.message }, 'reload refused: configuration invalid, keeping the running one'));
    });
    try {
      await daemon.start();
    } catch (e) {
      log.error({ err: (e as Error).message }, 'start failed');
      await daemon.stop().catch(() => undefined);
      fail(e);
    }
    if (o.pidFile) await writeFile(o.pidFile, `${process.pid}\n`);
  });

program.parseAsync(process.argv).catch(fail);
