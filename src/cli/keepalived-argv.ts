/**
 * keepalived 2.2.7's command line, read the way its getopt_long() reads it, so that vipd can
 * take keepalived's place in systemd units, Kolla (`keepalived -nldD`) and Neutron
 * (`keepalived -P -f CONF -p PID -r VRRP_PID`). Pure: argv in, options out (or an ArgvError).
 *
 * GNU getopt rules kept: short flags combine (`-nldD`); a short option that takes a value takes
 * the rest of its word or else the next word (`-fFILE`, `-f FILE`), even one starting with `-`;
 * an optional value must be attached (`-tFILE`, `--config-test=FILE`); a long option may be
 * abbreviated to any unambiguous prefix (`--dont-f`), an exact name winning (`--vrrp` is not
 * `--vrrp_pid`); `--` ends the options. Where keepalived only prints a complaint and goes on
 * (an unexpected argument, a bad --log-facility or --umask), vipd refuses: exit 2.
 */

/** A command-line mistake: one line, exit 2. */
export class ArgvError extends Error {}

export type ArgKind = 'none' | 'required' | 'optional';
export interface Spec {
  short?: string;
  long?: string;
  arg: ArgKind;
  /** Key in the `given` map and the canonical name used in messages. */
  key: string;
}

/** keepalived 2.2.7's options, every build option included (man keepalived(8), core/main.c). */
const SPECS: Spec[] = [
  { short: 'f', long: 'use-file', arg: 'required', key: 'use-file' },
  { short: 'P', long: 'vrrp', arg: 'none', key: 'vrrp' },
  { short: 'C', long: 'check', arg: 'none', key: 'check' },
  { short: 'B', long: 'no_bfd', arg: 'none', key: 'no_bfd' },
  { long: 'all', arg: 'none', key: 'all' },
  { short: 'l', long: 'log-console', arg: 'none', key: 'log-console' },
  { short: 'D', long: 'log-detail', arg: 'none', key: 'log-detail' },
  { short: 'S', long: 'log-facility', arg: 'required', key: 'log-facility' },
  { short: 'g', long: 'log-file', arg: 'optional', key: 'log-file' },
  { long: 'flush-log-file', arg: 'none', key: 'flush-log-file' },
  { short: 'G', long: 'no-syslog', arg: 'none', key: 'no-syslog' },
  { short: 'u', long: 'umask', arg: 'required', key: 'umask' },
  { short: 'X', long: 'release-vips', arg: 'none', key: 'release-vips' },
  { short: 'V', long: 'dont-release-vrrp', arg: 'none', key: 'dont-release-vrrp' },
  { short: 'I', long: 'dont-release-ipvs', arg: 'none', key: 'dont-release-ipvs' },
  { short: 'R', long: 'dont-respawn', arg: 'none', key: 'dont-respawn' },
  { short: 'n', long: 'dont-fork', arg: 'none', key: 'dont-fork' },
  { short: 'd', long: 'dump-conf', arg: 'none', key: 'dump-conf' },
  { short: 'p', long: 'pid', arg: 'required', key: 'pid' },
  { short: 'r', long: 'vrrp_pid', arg: 'required', key: 'vrrp_pid' },
  { short: 'T', long: 'genhash', arg: 'none', key: 'genhash' },
  { short: 'c', long: 'checkers_pid', arg: 'required', key: 'checkers_pid' },
  { short: 'a', long: 'address-monitoring', arg: 'none', key: 'address-monitoring' },
  { short: 'b', long: 'bfd_pid', arg: 'required', key: 'bfd_pid' },
  { short: 'x', long: 'snmp', arg: 'none', key: 'snmp' },
  { short: 'A', long: 'snmp-agent-socket', arg: 'required', key: 'snmp-agent-socket' },
  { short: 'm', long: 'core-dump', arg: 'none', key: 'core-dump' },
  { short: 'M', long: 'core-dump-pattern', arg: 'optional', key: 'core-dump-pattern' },
  { long: 'no-mem-check', arg: 'none', key: 'no-mem-check' },
  { short: 'L', long: 'mem-check-log', arg: 'none', key: 'mem-check-log' },
  { short: 's', long: 'namespace', arg: 'required', key: 'namespace' },
  { short: 'e', long: 'all-config', arg: 'none', key: 'all-config' },
  { short: 'i', long: 'config-id', arg: 'required', key: 'config-id' },
  { long: 'signum', arg: 'required', key: 'signum' },
  { short: 't', long: 'config-test', arg: 'optional', key: 'config-test' },
  { long: 'config-fd', arg: 'required', key: 'config-fd' },
  { long: 'perf', arg: 'optional', key: 'perf' },
  { long: 'debug', arg: 'optional', key: 'debug' },
  { short: 'v', long: 'version', arg: 'none', key: 'version' },
  { short: 'h', long: 'help', arg: 'none', key: 'help' },
];

/** The option table (for tests and the usage text): short letter, long name, kind of value. */
export const KEEPALIVED_OPTIONS: readonly Readonly<Spec>[] = SPECS;

const BY_SHORT = new Map(SPECS.filter((s) => s.short).map((s) => [s.short!, s]));
const LONGS = SPECS.filter((s) => s.long);

/** The spelling of an option in messages: `-f/--use-file`, `--all`. */
export function optionName(key: string): string {
  const s = SPECS.find((x) => x.key === key);
  if (!s) return key;
  return s.short ? `-${s.short}/--${s.long}` : `--${s.long}`;
}

export interface KeepalivedOptions {
  /** -f: the configuration file; null for keepalived's default /etc/keepalived/keepalived.conf. */
  configFile: string | null;
  /** Whether the VRRP process would run (-C clears it, --all sets it again, in order). */
  vrrp: boolean;
  /** -n (also set by -t). */
  dontFork: boolean;
  /** -l. */
  logConsole: boolean;
  /** Number of -D given (keepalived: 1 detail, 2 extra detail). */
  logDetail: number;
  /** -g: null when not given; '' when given without a file. */
  logFile: string | null;
  /** -u, parsed (0..0o777). */
  umask: number | null;
  /** -d. */
  dumpConf: boolean;
  /** -p, -r (vipd writes both), -c, -b (accepted, not written). */
  pidFile: string | null;
  vrrpPidFile: string | null;
  /** -s/--namespace. */
  namespace: string | null;
  /** -i/--config-id. */
  configId: string | null;
  /** -t. */
  configTest: boolean;
  /** -t=FILE: where the diagnostics go (appended) instead of stderr. */
  configTestFile: string | null;
  /** --signum=NAME. */
  signum: string | null;
  /** Every option given, by key, with its last value ('' for none): for the start-up notes. */
  given: Map<string, string>;
}

const FACILITY = /^(?:[0-7]|local[0-7]|user|daemon)$/;

/** keepalived's --umask: a number in C notation (0022 octal, 0x12, 18), at most 0777. */
function parseUmask(v: string): number {
  const t = v.trim();
  let n: number;
  if (/^0[xX][0-9a-fA-F]+$/.test(t)) n = parseInt(t.slice(2), 16);
  else if (/^0[0-7]*$/.test(t)) n = parseInt(t, 8);
  else if (/^[1-9]\d*$/.test(t)) n = Number(t);
  else n = NaN;
  if (!(n >= 0 && n <= 0o777)) throw new ArgvError(`invalid --umask '${v}' (a number such as 022, at most 0777)`);
  return n;
}

function matchLong(name: string): Spec {
  const exact = LONGS.find((s) => s.long === name);
  if (exact) return exact;
  const pre = LONGS.filter((s) => s.long!.startsWith(name));
  if (pre.length === 1) return pre[0]!;
  if (pre.length > 1) throw new ArgvError(`option --${name} is ambiguous (${pre.map((s) => `--${s.long}`).join(', ')})`);
  throw new ArgvError(`unknown option --${name}`);
}

function apply(o: KeepalivedOptions, s: Spec, value: string | undefined): void {
  if (s.arg === 'required' && !value) throw new ArgvError(`missing value for option ${optionName(s.key)}`);
  o.given.set(s.key, value ?? '');
  const v = value ?? '';
  switch (s.key) {
    case 'use-file': o.configFile = v; break;
    case 'check': o.vrrp = false; break;
    case 'all': o.vrrp = true; break;
    case 'log-console': o.logConsole = true; break;
    case 'log-detail': o.logDetail = Math.min(2, o.logDetail + 1); break;
    case 'log-facility':
      if (!FACILITY.test(v)) throw new ArgvError(`invalid --log-facility '${v}' (0-7, local0-local7, user or daemon)`);
      break;
    case 'log-file': o.logFile = v; break;
    case 'umask': o.umask = parseUmask(v); break;
    case 'dont-fork': o.dontFork = true; break;
    case 'dump-conf': o.dumpConf = true; break;
    case 'pid': o.pidFile = v; break;
    case 'vrrp_pid': o.vrrpPidFile = v; break;
    case 'namespace': o.namespace = v; break;
    case 'config-id': o.configId = v; break;
    case 'config-test':
      o.configTest = true;
      o.dontFork = true;
      o.configTestFile = v || null;
      break;
    case 'signum': o.signum = v; break;
    default: break; // recorded in `given`; see keepalivedNotes
  }
}

/**
 * Parse keepalived's options (argv without node and the script). Throws ArgvError with a
 * one-line message on an unknown or ambiguous option, a missing or unwanted value, a bad
 * --log-facility/--umask, or a word that is not an option.
 */
export function parseKeepalivedArgv(args: readonly string[]): KeepalivedOptions {
  const o: KeepalivedOptions = {
    configFile: null, vrrp: true, dontFork: false, logConsole: false, logDetail: 0, logFile: null, umask: null, dumpConf: false,
    pidFile: null, vrrpPidFile: null, namespace: null, configId: null, configTest: false, configTestFile: null, signum: null, given: new Map(),
  };
  const stray: string[] = [];
  let hint = '';
  let last: Spec | null = null;
  let lastValue: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') {
      stray.push(...args.slice(i + 1));
      break;
    }
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const name = eq < 0 ? a.slice(2) : a.slice(2, eq);
      let value = eq < 0 ? undefined : a.slice(eq + 1);
      const s = matchLong(name);
      if (s.arg === 'none' && value !== undefined) throw new ArgvError(`option --${s.long} takes no value (got '${a}')`);
      if (s.arg === 'required' && value === undefined) {
        if (i + 1 >= args.length) throw new ArgvError(`missing value for option ${optionName(s.key)}`);
        value = args[++i];
      }
      apply(o, s, value);
      [last, lastValue] = [s, value];
    } else if (a.startsWith('-') && a.length > 1) {
      for (let j = 1; j < a.length; j++) {
        const s = BY_SHORT.get(a[j]!);
        if (!s) throw new ArgvError(`unknown option -${a[j]}${a.length > 2 ? ` (in ${a})` : ''}`);
        const rest = a.slice(j + 1);
        let value: string | undefined;
        if (s.arg === 'required') {
          if (rest) value = rest;
          else if (i + 1 < args.length) value = args[++i];
        } else if (s.arg === 'optional') value = rest || undefined;
        apply(o, s, value);
        [last, lastValue] = [s, value];
        if (s.arg !== 'none') break;
      }
    } else {
      // keepalived prints such words and goes on; `-t FILE` then tests the default file.
      if (!stray.length && last?.arg === 'optional' && lastValue === undefined) {
        hint = ` (${optionName(last.key)} takes its value attached: ${last.short ? `-${last.short}VALUE or ` : ''}--${last.long}=VALUE)`;
      }
      stray.push(a);
    }
  }
  if (stray.length) throw new ArgvError(`unexpected argument${stray.length > 1 ? 's' : ''} ${stray.map((w) => `'${w}'`).join(' ')}${hint}`);
  return o;
}

/**
 * keepalived's --signum=NAME numbers (2.2.7 on x86-64 Linux, as its --signum prints them) for
 * the ones vipd handles: STOP (SIGTERM) and RELOAD (SIGHUP); DATA (SIGUSR1) and STATS
 * (SIGUSR2) are caught and answered in the log. STATS_CLEAR and JSON are real-time signals that
 * Node cannot catch (they would end vipd without its clean stop), so they are refused here.
 */
export function signumOf(name: string): number {
  const known: Record<string, number> = { STOP: 15, RELOAD: 1, DATA: 10, STATS: 12 };
  const n = known[name];
  if (n !== undefined) return n;
  if (name === 'STATS_CLEAR' || name === 'JSON') throw new ArgvError(`--signum=${name}: vipd has no ${name} signal (it would stop vipd without its clean stop); use vipctl status --json / vipctl dump`);
  throw new ArgvError(`--signum: unknown signal function '${name}' (STOP, RELOAD, DATA, STATS)`);
}

/**
 * Does this command line ask for keepalived mode: run as `keepalived`, or an option first?
 * Except `vipd -V` alone, vipd's version as before (for keepalived a lone -V starts a daemon).
 */
export function isKeepalivedInvocation(script: string | undefined, args: readonly string[]): boolean {
  const base = (script ?? '').split('/').pop() ?? '';
  if (/^keepalived(?:\.[cm]?[jt]s)?$/.test(base)) return true;
  if (args.length === 1 && args[0] === '-V') return false;
  return args.length > 0 && args[0]!.startsWith('-');
}

/** One line for the log at start: what an accepted option does differently under vipd. */
export interface ArgvNote {
  level: 'info' | 'warn';
  msg: string;
}

/** Options of keepalived's checker (LVS) and BFD processes, which vipd does not replace. */
const OTHER_PROCESSES = ['no_bfd', 'all', 'dont-release-ipvs', 'checkers_pid', 'address-monitoring', 'bfd_pid'];
/** Options of keepalived's debugging builds (memory checks, perf, debug flags) and its internal --config-fd. */
const DEBUG_BUILD = ['no-mem-check', 'mem-check-log', 'perf', 'debug', 'config-fd'];

/**
 * The start-up notes for the options given: every option vipd accepts but acts on differently
 * from keepalived, once each (nothing silent). Options vipd does exactly as keepalived
 * (-f, -P, -n, -l, -D, -d, -u, -s, -t, -v, -h) have none.
 */
export function keepalivedNotes(o: KeepalivedOptions): ArgvNote[] {
  const g = o.given;
  const names = (keys: string[]): string => keys.filter((k) => g.has(k)).map(optionName).join(', ');
  const out: ArgvNote[] = [];
  const other = names(OTHER_PROCESSES);
  if (other) out.push({ level: 'info', msg: `vipd runs VRRP only (keepalived's checker and BFD processes are not part of it): ${other} accepted, nothing to act on` });
  if (g.has('pid') || g.has('vrrp_pid')) out.push({ level: 'info', msg: 'vipd is one process: the main and the VRRP pid files both hold its pid' });
  if (g.has('log-facility')) out.push({ level: 'info', msg: `${optionName('log-facility')} ${g.get('log-facility')}: vipd does not log to syslog (it logs on stdout, for journald, or to the -g file: --log-format text|json); ignored` });
  if (g.has('no-syslog')) out.push({ level: 'info', msg: `${optionName('no-syslog')}: vipd never logs to syslog; nothing to turn off` });
  if (g.has('log-file')) out.push({ level: 'info', msg: `${optionName('log-file')}: vipd writes its JSON log lines to ${o.logFile || '/tmp/keepalived.log'} (one file: keepalived would add _vrrp to the name for its VRRP process)` });
  if (g.has('flush-log-file')) out.push({ level: 'info', msg: '--flush-log-file: vipd writes each log line to the file as it comes; nothing more to flush' });
  if (g.has('release-vips')) out.push({ level: 'info', msg: `${optionName('release-vips')}: vipd always removes the VIPs of an instance that leaves MASTER, as this option asks` });
  if (g.has('dont-release-vrrp')) out.push({ level: 'warn', msg: `${optionName('dont-release-vrrp')} is not supported: at stop vipd sends priority 0 and removes its VIPs` });
  if (g.has('dont-respawn')) out.push({ level: 'info', msg: `${optionName('dont-respawn')}: vipd is one process with no child to respawn (let systemd's Restart= restart it)` });
  if (g.has('snmp') || g.has('snmp-agent-socket')) out.push({ level: 'warn', msg: `${names(['snmp', 'snmp-agent-socket'])}: vipd has no SNMP agent (vipctl status --json and --metrics give the same facts); ignored` });
  if (g.has('core-dump') || g.has('core-dump-pattern')) out.push({ level: 'info', msg: `${names(['core-dump', 'core-dump-pattern'])}: vipd changes neither RLIMIT_CORE nor /proc/sys/kernel/core_pattern; ignored` });
  if (g.has('all-config')) out.push({ level: 'warn', msg: `${optionName('all-config')}: vipd refuses a missing named include file anyway, but an include glob that matches nothing stays a warning (keepalived -e refuses it; vipd check-config --strict does too)` });
  const dbg = names(DEBUG_BUILD);
  if (dbg) out.push({ level: 'info', msg: `${dbg}: options of keepalived's debugging builds; ignored` });
  return out;
}

/** `vipd -h` in keepalived mode (our own words; same option letters as keepalived 2.2.7). */
export function keepalivedUsage(prog: string): string {
  return `Usage: ${prog} [OPTION...]         (keepalived 2.2.7's options; VRRP only)
       vipd run -f FILE | vipd check-config [FILE]   (vipd's own commands: vipd help)
  -f, --use-file=FILE         configuration (default /etc/keepalived/keepalived.conf)
  -P, --vrrp                  VRRP only (what vipd always runs)
  -C, --check                 checker only: refused, vipd has no LVS checker
  -B, --no_bfd, --all, -I, -a, -c FILE, -b FILE
                              checker/BFD options: accepted, nothing to act on
  -n, --dont-fork             stay in the foreground (default: start a daemon and return
                              once it runs, or with its exit code when it cannot start)
  -l, --log-console           forking: the daemon keeps this stdout/stderr (else /dev/null,
                              or the journal when started by systemd)
  -D, --log-detail            log level debug (twice: trace)
  -g, --log-file[=FILE]       log to FILE (default /tmp/keepalived.log; --log-format text|json)
  -S, --log-facility=F, -G, --no-syslog   accepted (vipd does not use syslog)
  -u, --umask=MASK            file creation mask
  -X, --release-vips          accepted (always so in vipd)
  -V, --dont-release-vrrp     accepted, not supported (VIPs always go at stop)
  -R, --dont-respawn          accepted (one process, nothing to respawn)
  -d, --dump-conf             log the effective configuration at start
  -p, --pid=FILE              pid file (default /run/keepalived.pid, per namespace/id)
  -r, --vrrp_pid=FILE         VRRP pid file (default /run/keepalived_vrrp.pid): same pid
  -s, --namespace=NAME        run in network namespace /run/netns/NAME
  -i, --config-id=ID          @ID configuration lines; also names the default paths
  -e, --all-config            accepted (a missing named include is always an error; an
                              empty include glob stays a warning)
  -x, --snmp, -A FILE, -m, -M[PATTERN]    accepted, ignored
  -t, --config-test[=FILE]    check the configuration: exit 0, or 5 (4: file unreadable);
                              diagnostics on stderr or appended to FILE
      --signum=SIGFUNC        print the signal number for STOP, RELOAD, DATA, STATS
  -v, --version               version
  -h, --help                  this help
Control socket: /run/vipd[/NETNS]/vipd[_ID].sock (vipctl finds it the same way).
`;
}
