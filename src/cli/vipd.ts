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
import { CliError } from './errors.js';
import { isKeepalivedInvocation } from './keepalived-argv.js';
import { LOG_LEVELS, parseLogFormat, parseLogLevel } from './logger.js';
import { DEFAULT_CONF, dumpJson, EXIT_CONFIG, formatWarnings, loadConfig, refusalText } from './vipd-config.js';
import { runDaemon } from './vipd-daemon.js';
import { keepalivedMain, VERSION } from './vipd-keepalived.js';

function fail(e: unknown): never {
  if (e instanceof ConfigErrors) {
    process.stderr.write(refusalText(e));
    process.exit(EXIT_CONFIG);
  }
  process.stderr.write(`vipd: ${(e as Error).message}\n`);
  process.exit(e instanceof CliError ? e.exitCode : 1);
}

/** The value of an option parser, or its CliError's exit (2) with one line. */
function checked<T>(parse: () => T): T {
  try {
    return parse();
  } catch (e) {
    return fail(e);
  }
}

const program = new Command();
program.name('vipd').description('VRRP virtual-IP daemon (reads keepalived.conf; also takes keepalived\'s command line: vipd -h)').version(VERSION);
program.exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : EXIT_CONFIG));

program.addHelpText('after', `
Examples:
  vipd run -f /etc/keepalived/keepalived.conf       run in the foreground (sends READY=1 to systemd)
  vipd check-config -f /etc/keepalived/keepalived.conf
  vipd -P -f /etc/keepalived/keepalived.conf        keepalived's command line: forks, writes pid files
  vipd run --help                                   the options of one command
`);

program
  .command('check-config')
  .argument('[file]', `configuration file (default ${DEFAULT_CONF})`)
  .description('validate a configuration: exit 0 when valid (warnings on stderr), 2 with every error listed')
  .option('-f, --config <file>', 'configuration file (the same as the argument; as for vipd run and keepalived -f)')
  .option('--strict', 'warnings are errors (exit 2)')
  .option('--dump', 'print the effective model as JSON on stdout')
  .option('-i, --config-id <id>', 'configuration id for @ID lines (default: the short host name)')
  .addHelpText('after', `
Examples:
  vipd check-config -f /etc/keepalived/keepalived.conf
  vipd check-config --strict keepalived.conf && echo valid     warnings fail too
  vipd check-config --dump keepalived.conf | jq '.instances[].name'
`)
  .action(async (arg: string | undefined, o: { config?: string; strict?: boolean; dump?: boolean; configId?: string }) => {
    if (arg !== undefined && o.config !== undefined && arg !== o.config) fail(new CliError(`check-config: two files given (${arg} and -f ${o.config}); give one`));
    const file = arg ?? o.config ?? DEFAULT_CONF;
    const c = await loadConfig(file, o.configId ?? null).catch(fail);
    const ws = c.warnings ?? [];
    process.stderr.write(formatWarnings(ws));
    // this host: scripts that vipd (and keepalived) would disable. Warnings, not errors: a file
    // is often checked on another host than the one it runs on (CI); --strict fails them.
    const host = await (await import('../daemon/trackers/build.js')).scriptProblems(c);
    const hostWarnings = [...host.errors.map((e) => `${e.replace(/^(.+?:\d+): /, '$1: warning: ')} (on this host)`), ...host.warnings.map((w) => `warning: ${w}`)];
    for (const w of hostWarnings) process.stderr.write(`${w}\n`);
    const nw = ws.length + hostWarnings.length;
    if (o.strict && nw) {
      process.stderr.write(`vipd: ${nw} warning${nw === 1 ? '' : 's'}, errors with --strict; nothing was changed\n`);
      process.exit(EXIT_CONFIG);
    }
    if (o.dump) process.stdout.write(`${dumpJson(c)}\n`);
    else process.stdout.write(`${file}: OK (${c.instances.length} instance${c.instances.length === 1 ? '' : 's'}${nw ? `, ${nw} warning${nw === 1 ? '' : 's'}` : ''})\n`);
  });

interface RunOpts {
  config: string;
  configId?: string;
  namespace?: string;
  pidFile?: string;
  logLevel: string;
  logFormat?: string;
  controlSocket?: string;
  controlGroup?: string;
  controlMaxBuffer: number;
  metrics?: string;
  notifyTimeout: number;
  maintenanceFile?: string;
}

program
  .command('run')
  .description('run in the foreground')
  .option('-f, --config <file>', 'keepalived.conf to read', DEFAULT_CONF)
  .option('-i, --config-id <id>', 'configuration id for @ID lines; also names the default control socket')
  .option('--namespace <name>', 'run in network namespace /run/netns/NAME (default: the configuration\'s net_namespace)')
  .option('--pid-file <file>', 'write the pid here')
  .option('--log-level <level>', LOG_LEVELS.join(', '), 'info')
  .option('--log-format <format>', 'json or text (default: text on a terminal or under journald, else json)')
  .option('--control-socket <path>', 'control socket for vipctl (default /run/vipd[/NETNS]/vipd[_ID].sock)')
  .option('--control-group <group>', 'group (besides root) allowed to use the control socket')
  .option('--control-max-buffer <bytes>', 'drop a watcher with more unread output than this', (v) => Number(v), 256 * 1024)
  .option('--metrics <[host:]port>', 'serve Prometheus metrics (host defaults to 127.0.0.1)')
  .option('--notify-timeout <seconds>', 'kill a notify script still running after this long (keepalived has none; the next notification of its instance waits for it)', (v) => Number(v), 30)
  .option('--maintenance-file <path>', 'where vipctl maintenance is kept across restarts (default /var/lib/vipd[/NETNS]/vipd[_ID].maintenance.json)')
  .addHelpText('after', `
Every check (configuration, options, privileges, a vipd already running with this control
socket, interfaces, the metrics port) runs before any address is touched: a refusal exits
2 (usage, configuration) or 1 (environment) with one line.

Examples:
  vipd run -f /etc/keepalived/keepalived.conf
  vipd run -f keepalived.conf --log-format text --log-level debug --metrics 127.0.0.1:9650
  vipd run -f router-2.conf -i router2 --namespace qrouter-2     a second daemon on one host
`)
  .action(async (o: RunOpts) => {
    const logLevel = checked(() => parseLogLevel(o.logLevel));
    const logFormat = o.logFormat === undefined ? null : checked(() => parseLogFormat(o.logFormat!));
    if (!Number.isFinite(o.notifyTimeout) || o.notifyTimeout < 1 || o.notifyTimeout > 86_400) fail(new CliError(`--notify-timeout: seconds from 1 to 86400, got '${String(o.notifyTimeout)}'`));
    const file = resolve(o.config);
    const config: DaemonConfig = await loadConfig(file, o.configId ?? null).catch(fail);
    const ns = o.namespace ?? config.netNamespace ?? null;
    if (ns !== null && !inNamedNetns(ns)) {
      if (process.env[NETNS_ENV] === ns) fail(new Error(`entered network namespace ${ns} (${NETNS_DIR}/${ns}) but not in it`));
      process.exit(await runInNetns(ns, process.argv.slice(2), { procConnector: config.trackProcesses.length > 0 }));
    }
    await runDaemon({
      configFile: file, configId: o.configId ?? null, config, logLevel, logFormat, logFile: null,
      controlSocket: o.controlSocket ? resolve(o.controlSocket) : null, controlGroup: o.controlGroup, controlMaxBuffer: o.controlMaxBuffer, metrics: o.metrics, notifyTimeoutMs: o.notifyTimeout * 1000,
      maintenanceFile: o.maintenanceFile ? resolve(o.maintenanceFile) : null,
      pidFiles: o.pidFile ? [resolve(o.pidFile)] : [], defaultPidFiles: { main: false, vrrp: false },
      refuseIfRunning: false, notes: [], dumpConfig: false, channel: null,
      lockHint: 'give this one its own --control-socket (or -i ID)',
    });
  });

const args = process.argv.slice(2);
if (isKeepalivedInvocation(process.argv[1], args)) {
  const base = (process.argv[1] ?? 'vipd').split('/').pop()!.replace(/\.[cm]?[jt]s$/, '');
  keepalivedMain(args, base).catch(fail);
} else {
  program.parseAsync(process.argv).catch(fail);
}
