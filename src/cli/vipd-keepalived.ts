/**
 * vipd in keepalived's place: keepalived 2.2.7's command line (src/cli/keepalived-argv.ts),
 * its forking, its pid files and its exit codes, for the VRRP part.
 *
 * Order, as keepalived's: read the options; -h/-v/--signum answer and exit; -t checks the
 * configuration and exits; else the configuration is loaded and checked (a bad one: exit 2
 * with every error, nothing started), the namespace entered (--namespace, else the
 * configuration's net_namespace), and without -n a daemon child is started and waited for
 * (src/cli/daemonize.ts). Pid files: -p and -r, else keepalived's default names for this
 * namespace and id (src/os/paths.ts), both holding the daemon's pid.
 *
 * vipd's own `--log-format json|text` is accepted here too (taken out before keepalived's
 * options are read; src/cli/logger.ts): -l, -D, -g and -S keep their keepalived meaning.
 */
import { whyNot } from '../config/fs-source.js';
import { constants as fsc, existsSync, openSync, writeSync } from 'node:fs';
import { access } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ConfigErrors, type DaemonConfig } from '../config/model.js';
import { CliError } from './errors.js';
import { inNamedNetns, NETNS_DIR } from '../os/paths.js';
import { childChannel, forkDaemon, NETNS_ENV, runInNetns, stdoutIsJournal, type ChildChannel } from './daemonize.js';
import { ArgvError, keepalivedNotes, keepalivedUsage, parseKeepalivedArgv, signumOf, type KeepalivedOptions } from './keepalived-argv.js';
import { takeLogFormat, type LogFormat } from './logger.js';
import { DEFAULT_CONF, EXIT_CONFIG, formatWarnings, loadConfig, refusalText } from './vipd-config.js';
import { runDaemon, type StartNote } from './vipd-daemon.js';

export const VERSION = '0.1.0';
/** keepalived 2.2.7's --config-test exit codes: configuration cannot be run / has errors. */
export const EXIT_TEST_CANNOT_RUN = 4;
export const EXIT_TEST_ERRORS = 5;

/** keepalived -t: 0 when valid (warnings printed), 5 with errors, 4 when the file cannot be read. */
export async function configTest(file: string, o: KeepalivedOptions): Promise<number> {
  let out = (s: string): void => void process.stderr.write(s);
  if (o.configTestFile) {
    let fd: number;
    try {
      fd = openSync(o.configTestFile, fsc.O_WRONLY | fsc.O_APPEND | fsc.O_CREAT | fsc.O_NOFOLLOW, 0o644);
    } catch (e) {
      process.stderr.write(`vipd: cannot open the config-test log file ${o.configTestFile}: ${(e as Error).message}\n`);
      return 1;
    }
    out = (s) => void writeSync(fd, s);
  }
  try {
    await access(file, fsc.R_OK);
  } catch (e) {
    out(`vipd: cannot read ${file}: ${whyNot(e)}\n`);
    return EXIT_TEST_CANNOT_RUN;
  }
  try {
    const c = await loadConfig(file, o.configId);
    out(formatWarnings(c.warnings ?? []));
    // keepalived's config test reports the scripts it would disable (check_vrrp_script_security)
    const host = await (await import('../daemon/trackers/build.js')).scriptProblems(c);
    out(host.warnings.map((w) => `warning: ${w}\n`).join('') + host.errors.map((e) => `${e}\n`).join(''));
    return host.errors.length ? EXIT_TEST_ERRORS : 0;
  } catch (e) {
    if (!(e instanceof ConfigErrors)) throw e;
    out(refusalText(e));
    return EXIT_TEST_ERRORS;
  }
}

function logLevel(detail: number): string {
  return detail >= 2 ? 'trace' : detail === 1 ? 'debug' : 'info';
}

/** Notes that depend on the configuration as well as on the options. */
function configNotes(o: KeepalivedOptions, c: DaemonConfig): StartNote[] {
  if (o.configId === null || c.instanceName !== null) return [];
  return [{ level: 'info', msg: `-i ${o.configId}: also names this daemon's pid files and control socket (keepalived uses -i only to pick @${o.configId} lines)` }];
}

function exitWith(channel: ChildChannel | null, text: string, code: number): never {
  if (channel?.open) channel.message(text);
  else process.stderr.write(text);
  process.exit(code);
}

/** Parse (vipd's --log-format too), and answer -h, -v, --signum; a mistake exits 2 (1 for --signum, as keepalived). */
function options(argv: string[], prog: string): KeepalivedOptions & { logFormat: LogFormat | null } {
  let o: KeepalivedOptions;
  let logFormat: LogFormat | null;
  try {
    const taken = takeLogFormat(argv);
    logFormat = taken.format;
    o = parseKeepalivedArgv(taken.args);
  } catch (e) {
    if (!(e instanceof ArgvError) && !(e instanceof CliError)) throw e;
    process.stderr.write(`${prog}: ${(e as Error).message}\n`);
    process.exit(2);
  }
  if (o.given.has('help')) {
    process.stdout.write(keepalivedUsage(prog));
    process.stdout.write(`vipd's own options here: --log-format=json|text (default: text on a terminal or under journald, else json)
Examples:
  ${prog} -P -f /etc/keepalived/keepalived.conf -p /run/r1.pid -r /run/r1-vrrp.pid    fork, as Neutron
  ${prog} -nldD -f /etc/keepalived/keepalived.conf                                    foreground, as Kolla
  ${prog} -t -f /etc/keepalived/keepalived.conf                                       check only
`);
    process.exit(0);
  }
  if (o.given.has('version')) {
    // keepalived prints its version on stderr; tools read it there.
    process.stderr.write(`vipd ${VERSION}, compatible with Keepalived v2.2.7 (VRRP only)\n`);
    process.exit(0);
  }
  let refuse = '';
  if (o.signum !== null) {
    try {
      process.stdout.write(`${signumOf(o.signum)}\n`);
      process.exit(0);
    } catch (e) {
      process.stderr.write(`${prog}: ${(e as Error).message}\n`);
      process.exit(1);
    }
  }
  if (o.given.has('genhash')) refuse = '-T/--genhash: vipd has no genhash (a tool of keepalived\'s checker)';
  else if (!o.vrrp) refuse = '-C/--check runs keepalived\'s checker (LVS) alone; vipd is VRRP only (run keepalived --check for LVS)';
  if (refuse) {
    process.stderr.write(`${prog}: ${refuse}\n`);
    process.exit(2);
  }
  return Object.assign(o, { logFormat });
}

/** Run keepalived mode with `args` (argv after the script); never returns. */
export async function keepalivedMain(args: string[], prog: string): Promise<never> {
  const o = options(args, prog);
  if (o.umask !== null) process.umask(o.umask);
  // Every path absolute before a daemon child moves to / (keepalived's daemon does too).
  const file = resolve(o.configFile ?? DEFAULT_CONF);
  const pidFiles = [o.pidFile, o.vrrpPidFile].filter((p): p is string => p !== null).map((p) => resolve(p));
  const logFile = o.logFile === null ? null : resolve(o.logFile || join(process.env.TMPDIR ?? '/tmp', 'keepalived.log'));
  if (o.configTest) process.exit(await configTest(file, o));

  const channel = childChannel();
  // A daemon child's stderr is /dev/null: until it runs, a crash is told to the parent.
  const crash = (e: unknown): void => {
    channel?.message(`vipd: internal error: ${(e as Error)?.stack ?? String(e)}\n`);
    process.exit(70);
  };
  if (channel) {
    process.on('uncaughtException', crash);
    process.on('unhandledRejection', crash);
  }
  let config: DaemonConfig;
  try {
    config = await loadConfig(file, o.configId);
  } catch (e) {
    if (e instanceof ConfigErrors) exitWith(channel, refusalText(e), EXIT_CONFIG);
    exitWith(channel, `vipd: ${(e as Error).message}\n`, 1);
  }
  const notes: StartNote[] = [...keepalivedNotes(o), ...configNotes(o, config)];
  if (o.namespace && config.netNamespace && o.namespace !== config.netNamespace) {
    notes.push({ level: 'info', msg: `--namespace ${o.namespace} overrides the configuration's net_namespace ${config.netNamespace}, as in keepalived` });
  }
  const ns = o.namespace ?? config.netNamespace ?? null;
  let enter: string | null = null;
  if (ns !== null) {
    if (!existsSync(join(NETNS_DIR, ns))) exitWith(channel, `vipd: no network namespace ${ns} (${join(NETNS_DIR, ns)})\n`, 1);
    if (!inNamedNetns(ns)) {
      if (process.env[NETNS_ENV] === ns) exitWith(channel, `vipd: entered network namespace ${ns} but not in it\n`, 1);
      enter = ns;
    }
  }
  if (!enter) delete process.env[NETNS_ENV]; // (scripts the daemon runs need not see it)
  if (!o.dontFork && !channel) {
    const keepOutput = o.logConsole || (stdoutIsJournal() && !o.given.has('no-syslog'));
    process.exit(await forkDaemon({ args, keepOutput, netns: enter, procConnector: config.trackProcesses.length > 0 }));
  }
  if (enter) process.exit(await runInNetns(enter, args, { procConnector: config.trackProcesses.length > 0 }));
  if (channel) process.chdir('/');

  await runDaemon({
    configFile: file, configId: o.configId, config, logLevel: logLevel(o.logDetail), logFormat: o.logFormat, logFile,
    controlSocket: null, controlMaxBuffer: 256 * 1024, pidFiles,
    defaultPidFiles: { main: o.pidFile === null, vrrp: o.vrrpPidFile === null },
    refuseIfRunning: true, notes, dumpConfig: o.dumpConf, channel,
    lockHint: 'give this one its own -i ID (or net_namespace)',
  });
  process.off('uncaughtException', crash);
  process.off('unhandledRejection', crash);
  // The daemon runs on its own from here (signals end it).
  return new Promise<never>(() => undefined);
}
