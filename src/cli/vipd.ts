#!/usr/bin/env node
/**
 * vipd: the VRRP daemon. Its own commands: `vipd run -f FILE` (foreground), `vipd check-config
 * [FILE] [--strict] [--dump]`. keepalived 2.2.7's command line in place of a command (an
 * option first, e.g. `vipd -P -f FILE -p PID -r VRRP_PID`, `vipd -nldD`), or when installed
 * under the name `keepalived`: src/cli/vipd-keepalived.ts.
 */
import { Command } from 'commander';
import { resolve } from 'node:path';
import { ConfigErrors, type DaemonConfig } from '../config/model.js';
import { inNamedNetns, NETNS_DIR } from '../os/paths.js';
import { NETNS_ENV, runInNetns } from './daemonize.js';
import { isKeepalivedInvocation } from './keepalived-argv.js';
import { DEFAULT_CONF, dumpJson, EXIT_CONFIG, formatWarnings, loadConfig, refusalText } from './vipd-config.js';
import { runDaemon } from './vipd-daemon.js';
import { keepalivedMain, VERSION } from './vipd-keepalived.js';

function fail(e: unknown): never {
  if (e instanceof ConfigErrors) {
    process.stderr.write(refusalText(e));
    process.exit(EXIT_CONFIG);
  }
  process.stderr.write(`vipd: ${(e as Error).message}\n`);
  process.exit(1);
}

const program = new Command();
program.name('vipd').description('VRRP virtual-IP daemon (reads keepalived.conf; also takes keepalived\'s command line: vipd -h)').version(VERSION);
program.exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : EXIT_CONFIG));

program
  .command('check-config')
  .argument('[file]', 'configuration file', DEFAULT_CONF)
  .description('validate a configuration: exit 0 when valid (warnings on stderr), 2 with every error listed')
  .option('--strict', 'warnings are errors (exit 2)')
  .option('--dump', 'print the effective model as JSON on stdout')
  .option('-i, --config-id <id>', 'configuration id for @ID lines (default: the short host name)')
  .action(async (file: string, o: { strict?: boolean; dump?: boolean; configId?: string }) => {
    const c = await loadConfig(file, o.configId ?? null).catch(fail);
    const ws = c.warnings ?? [];
    process.stderr.write(formatWarnings(ws));
    if (o.strict && ws.length) {
      process.stderr.write(`vipd: ${ws.length} warning${ws.length === 1 ? '' : 's'}, errors with --strict; nothing was changed\n`);
      process.exit(EXIT_CONFIG);
    }
    if (o.dump) process.stdout.write(`${dumpJson(c)}\n`);
    else process.stdout.write(`${file}: OK (${c.instances.length} instance${c.instances.length === 1 ? '' : 's'}${ws.length ? `, ${ws.length} warning${ws.length === 1 ? '' : 's'}` : ''})\n`);
  });

interface RunOpts {
  config: string;
  configId?: string;
  namespace?: string;
  pidFile?: string;
  logLevel: string;
  controlSocket?: string;
  controlGroup?: string;
  controlMaxBuffer: number;
  metrics?: string;
}

program
  .command('run')
  .description('run in the foreground')
  .option('-f, --config <file>', 'keepalived.conf to read', DEFAULT_CONF)
  .option('-i, --config-id <id>', 'configuration id for @ID lines; also names the default control socket')
  .option('--namespace <name>', 'run in network namespace /run/netns/NAME (default: the configuration\'s net_namespace)')
  .option('--pid-file <file>', 'write the pid here')
  .option('--log-level <level>', 'trace, debug, info, warn, error', 'info')
  .option('--control-socket <path>', 'control socket for vipctl (default /run/vipd[/NETNS]/vipd[_ID].sock)')
  .option('--control-group <group>', 'group (besides root) allowed to use the control socket')
  .option('--control-max-buffer <bytes>', 'drop a watcher with more unread output than this', (v) => Number(v), 256 * 1024)
  .option('--metrics <[host:]port>', 'serve Prometheus metrics (host defaults to 127.0.0.1)')
  .action(async (o: RunOpts) => {
    const file = resolve(o.config);
    const config: DaemonConfig = await loadConfig(file, o.configId ?? null).catch(fail);
    const ns = o.namespace ?? config.netNamespace ?? null;
    if (ns !== null && !inNamedNetns(ns)) {
      if (process.env[NETNS_ENV] === ns) fail(new Error(`entered network namespace ${ns} (${NETNS_DIR}/${ns}) but not in it`));
      process.exit(await runInNetns(ns, process.argv.slice(2)));
    }
    await runDaemon({
      configFile: file, configId: o.configId ?? null, config, logLevel: o.logLevel, logFile: null,
      controlSocket: o.controlSocket ? resolve(o.controlSocket) : null, controlGroup: o.controlGroup, controlMaxBuffer: o.controlMaxBuffer, metrics: o.metrics,
      pidFiles: o.pidFile ? [resolve(o.pidFile)] : [], defaultPidFiles: { main: false, vrrp: false },
      refuseIfRunning: false, notes: [], dumpConfig: false, channel: null,
    });
  });

const args = process.argv.slice(2);
if (isKeepalivedInvocation(process.argv[1], args)) {
  const base = (process.argv[1] ?? 'vipd').split('/').pop()!.replace(/\.[cm]?[jt]s$/, '');
  keepalivedMain(args, base).catch(fail);
} else {
  program.parseAsync(process.argv).catch(fail);
}
