/**
 * keepalived 2.2.7's command line as vipd reads it, checked against the installed keepalived:
 * every option its --help lists is accepted (short and long, with a value where it takes one),
 * and for a set of tricky spellings (combined flags, `=` forms, abbreviations, missing or
 * unwanted values, unknown options) vipd accepts exactly what keepalived accepts. keepalived
 * is run as `keepalived -t -f MISSING ...`: with a missing file it stops right after reading
 * its options (exit 0), or exits 1 on a bad option, touching nothing.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ArgvError, isKeepalivedInvocation, KEEPALIVED_OPTIONS, keepalivedNotes, optionName, parseKeepalivedArgv, signumOf } from '../../src/cli/keepalived-argv.js';
import { stdoutIsJournal } from '../../src/cli/daemonize.js';
import { identifyNetns, INIT_NET_INO, runtimePaths, type NetnsProbe } from '../../src/os/paths.js';
import { requireTool } from '../helpers/tools.js';

requireTool('keepalived');
const dir = mkdtempSync(join(tmpdir(), 'vipd-argv-'));
const missing = join(dir, 'no-such.conf');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * Does keepalived 2.2.7 accept these options? A bad option is exit 1 with a complaint; an
 * accepted one ends in the config test (0, or 4 with -e and the missing file).
 */
function keepalivedAccepts(args: string[]): boolean {
  const r = spawnSync('keepalived', ['-t', '-f', missing, ...args], { encoding: 'utf8', timeout: 10_000 });
  return r.status !== 1 && r.status !== null && !/Unknown option|Missing parameter|Unexpected argument/.test(`${r.stdout}${r.stderr}`);
}

function vipdAccepts(args: string[]): boolean {
  try {
    parseKeepalivedArgv(args);
    return true;
  } catch (e) {
    if (e instanceof ArgvError) return false;
    throw e;
  }
}

/** The options `keepalived -h` lists: short letter, long name, value kind. */
function helpOptions(): { short?: string; long: string; arg: 'none' | 'required' | 'optional' }[] {
  const r = spawnSync('keepalived', ['-h'], { encoding: 'utf8' });
  const out: ReturnType<typeof helpOptions> = [];
  for (const line of `${r.stdout}${r.stderr}`.split('\n')) {
    const m = /^ {2}(?:-(\S), | {4})--([a-z_-]+)(\[=|=| [a-z])?/.exec(line);
    if (m) out.push({ short: m[1], long: m[2]!, arg: m[3] === '[=' ? 'optional' : m[3] ? 'required' : 'none' });
  }
  return out;
}

/** A value keepalived takes for each option with one (any value, as long as it is valid). */
// (-S local3 works too, but keepalived first reports "invalid number 'local3'" as a config error: -t exits 5)
const SAMPLE: Record<string, string> = { 'log-facility': '3', umask: '022', signum: 'STOP', 'config-id': 'node1', namespace: 'ns1' };
const sample = (long: string): string => SAMPLE[long] ?? join(dir, `${long}.out`);
/** Not run in keepalived: -T enters genhash, -M rewrites the host's /proc/sys/kernel/core_pattern. */
const NOT_RUN = new Set(['genhash', 'core-dump-pattern']);
/** keepalived's help shows `-M, --core-dump-pattern=PATN`, but its getopt table makes the value optional (`M::`, optional_argument). */
const HELP_WRONG: Record<string, 'optional'> = { 'core-dump-pattern': 'optional' };

describe('every option keepalived 2.2.7 lists in --help', () => {
  const opts = helpOptions();
  it('keepalived lists its options (the parse of its help works)', () => {
    expect(opts.length).toBeGreaterThan(30);
    expect(opts.map((o) => o.long)).toEqual(expect.arrayContaining(['use-file', 'vrrp', 'dont-fork', 'pid', 'vrrp_pid', 'namespace', 'config-id', 'config-test']));
  });

  it.each(helpOptions().map((o) => [o.long, o] as const))('--%s: same kind of value, accepted short and long as keepalived does', (long, o) => {
    const mine = KEEPALIVED_OPTIONS.find((s) => s.long === long);
    expect(mine, `--${long} is missing from vipd's table`).toBeDefined();
    expect(mine!.short).toBe(o.short);
    expect(mine!.arg).toBe(HELP_WRONG[long] ?? o.arg);
    const v = sample(long);
    const forms: string[][] = [];
    const arg = HELP_WRONG[long] ?? o.arg;
    if (arg === 'none') forms.push([`--${long}`], ...(o.short ? [[`-${o.short}`]] : []));
    if (arg === 'required') forms.push([`--${long}=${v}`], [`--${long}`, v], ...(o.short ? [[`-${o.short}`, v], [`-${o.short}${v}`]] : []));
    if (arg === 'optional') forms.push([`--${long}`], [`--${long}=${v}`], ...(o.short ? [[`-${o.short}`], [`-${o.short}${v}`]] : []));
    for (const f of forms) {
      if (!NOT_RUN.has(long)) expect(keepalivedAccepts(f), `keepalived ${f.join(' ')}`).toBe(true);
      expect(vipdAccepts(f), `vipd ${f.join(' ')}`).toBe(true);
    }
  });
});

describe('tricky spellings: vipd accepts what keepalived accepts', () => {
  const f = join(dir, 'k.conf');
  const cases: [string, string[]][] = [
    ['combined flags (Kolla)', ['-nldD']],
    ['combined flags, value in the same word', ['-nPf' + f]],
    ['combined flags, value in the next word', ['-nPf', f]],
    ['Neutron', ['-P', '-f', f, '-p', join(dir, 'p'), '-r', join(dir, 'r')]],
    ['abbreviated long option', ['--dont-f', '--use', f]],
    ['exact long name over a longer one', ['--vrrp']],
    ['abbreviation of --vrrp_pid', ['--vrrp_p', join(dir, 'r')]],
    ['a value that starts with a dash', ['-i', '-x']],
    ['-- ends the options', ['-n', '--']],
    ['unknown short option', ['-q']],
    ['unknown short option inside a cluster', ['-nqd']],
    ['unknown long option', ['--no-such-thing']],
    ['ambiguous abbreviation', ['--log']],
    ['missing value at the end', ['-n', '-f']],
    ['empty value in the = form', ['--use-file=']],
    ['value for an option without one', ['--vrrp=1']],
    ['value for a short option without one is another flag', ['-Pn']],
  ];
  it.each(cases)('%s: %j', (_what, args) => {
    expect(vipdAccepts(args)).toBe(keepalivedAccepts(args));
  });

  it('an argument that is no option: keepalived prints it and goes on; vipd refuses it, naming the -t mistake', () => {
    expect(spawnSync('keepalived', ['-t', '-f', missing, '-t', join(dir, 'x.conf')], { encoding: 'utf8' }).stdout).toContain('Unexpected argument');
    expect(() => parseKeepalivedArgv(['-t', '/etc/keepalived/keepalived.conf'])).toThrow(/unexpected argument '\/etc\/keepalived\/keepalived.conf' \(-t\/--config-test takes its value attached: -tVALUE or --config-test=VALUE\)/);
    expect(() => parseKeepalivedArgv(['-n', 'run'])).toThrow(/^unexpected argument 'run'$/);
  });

  it('-tFILE and --config-test=FILE: keepalived writes its diagnostics to FILE; vipd reads the same FILE', () => {
    for (const [arg, file] of [[`-t${join(dir, 't1.log')}`, join(dir, 't1.log')], [`--config-test=${join(dir, 't2.log')}`, join(dir, 't2.log')]] as const) {
      spawnSync('keepalived', ['-f', missing, arg]);
      expect(existsSync(file)).toBe(true);
      expect(parseKeepalivedArgv([arg])).toMatchObject({ configTest: true, dontFork: true, configTestFile: file });
    }
  });
});

describe('what the options mean', () => {
  it('Kolla -nldD: foreground, console, dump, detail', () => {
    expect(parseKeepalivedArgv(['-nldD'])).toMatchObject({ dontFork: true, logConsole: true, dumpConf: true, logDetail: 1 });
    expect(parseKeepalivedArgv(['-DD']).logDetail).toBe(2);
  });

  it('Neutron -P -f CONF -p PID -r VRRP_PID, long and = forms alike', () => {
    const want = { configFile: '/c', pidFile: '/p', vrrpPidFile: '/r', vrrp: true, dontFork: false };
    expect(parseKeepalivedArgv(['-P', '-f', '/c', '-p', '/p', '-r', '/r'])).toMatchObject(want);
    expect(parseKeepalivedArgv(['--vrrp', '--use-file=/c', '--pid', '/p', '--vrrp_pid=/r'])).toMatchObject(want);
  });

  it('-C clears VRRP, --all sets it again, in order (as keepalived\'s daemon mode bits)', () => {
    expect(parseKeepalivedArgv(['-C']).vrrp).toBe(false);
    expect(parseKeepalivedArgv(['-P', '-C']).vrrp).toBe(false);
    expect(parseKeepalivedArgv(['-C', '--all']).vrrp).toBe(true);
    expect(parseKeepalivedArgv(['--all', '-C']).vrrp).toBe(false);
  });

  it('-t alone, -i, -s and --namespace, -g with and without a file, -u in C notation', () => {
    expect(parseKeepalivedArgv(['-t'])).toMatchObject({ configTest: true, dontFork: true, configTestFile: null });
    expect(parseKeepalivedArgv(['-i', 'node1', '-s', 'blue']).configId).toBe('node1');
    expect(parseKeepalivedArgv(['--namespace=blue']).namespace).toBe('blue');
    expect(parseKeepalivedArgv(['-g']).logFile).toBe('');
    expect(parseKeepalivedArgv(['-g/var/log/k.log']).logFile).toBe('/var/log/k.log');
    expect(parseKeepalivedArgv(['-u', '027']).umask).toBe(0o27);
    expect(parseKeepalivedArgv(['--umask=0x12']).umask).toBe(0x12);
    expect(parseKeepalivedArgv(['-u18']).umask).toBe(18);
  });

  it('bad values keepalived only complains about are errors here', () => {
    expect(() => parseKeepalivedArgv(['-S', 'local9'])).toThrow(/invalid --log-facility 'local9'/);
    expect(() => parseKeepalivedArgv(['-u', '0999'])).toThrow(/invalid --umask/);
    expect(() => parseKeepalivedArgv(['-u', '01000'])).toThrow(/invalid --umask/);
  });

  it('error messages name the option', () => {
    expect(() => parseKeepalivedArgv(['-nqd'])).toThrow(/^unknown option -q \(in -nqd\)$/);
    expect(() => parseKeepalivedArgv(['--frobnicate'])).toThrow(/^unknown option --frobnicate$/);
    expect(() => parseKeepalivedArgv(['--log'])).toThrow(/^option --log is ambiguous \(--log-console, --log-detail, --log-facility, --log-file\)$/);
    expect(() => parseKeepalivedArgv(['-f'])).toThrow(/^missing value for option -f\/--use-file$/);
    expect(() => parseKeepalivedArgv(['--vrrp=1'])).toThrow(/^option --vrrp takes no value/);
  });
});

describe('start-up notes: every accepted option vipd treats differently is logged, once', () => {
  const different: [string[], RegExp][] = [
    [['-B'], /VRRP only.*-B\/--no_bfd/], [['--all'], /VRRP only.*--all/], [['-I'], /VRRP only.*-I/], [['-a'], /VRRP only.*-a/],
    [['-c', '/x'], /VRRP only.*-c\/--checkers_pid/], [['-b', '/x'], /VRRP only.*-b\/--bfd_pid/],
    [['-p', '/x'], /one process.*both hold its pid/], [['-r', '/x'], /one process/],
    [['-S', '0'], /--log-facility 0.*ignored/], [['-G'], /never logs to syslog/], [['-g'], /\/tmp\/keepalived\.log/], [['--flush-log-file'], /flush/],
    [['-X'], /always removes/], [['-V'], /not supported/], [['-R'], /nothing to respawn|no child/], [['-x'], /no SNMP/], [['-A', '/s'], /no SNMP/],
    [['-m'], /RLIMIT_CORE/], [['-M'], /core_pattern/], [['-e'], /include/], [['-L'], /debugging builds/], [['--no-mem-check'], /debugging builds/],
    [['--perf'], /debugging builds/], [['--debug=TpM'], /debugging builds/], [['--config-fd', '9'], /debugging builds/],
  ];
  it.each(different)('%j', (args, re) => {
    const notes = keepalivedNotes(parseKeepalivedArgv(args));
    expect(notes.filter((n) => re.test(n.msg))).toHaveLength(1);
  });

  it('one note for all the checker/BFD options together; none for options vipd does as keepalived', () => {
    expect(keepalivedNotes(parseKeepalivedArgv(['-B', '-I', '-c', '/c', '-b', '/b']))).toHaveLength(1);
    expect(keepalivedNotes(parseKeepalivedArgv(['-P', '-f', '/c', '-n', '-l', '-D', '-d', '-u', '022', '-s', 'x', '-i', 'y']))).toEqual([]);
    expect(keepalivedNotes(parseKeepalivedArgv(['-V']))[0]!.level).toBe('warn');
  });
});

describe('--signum, invocation', () => {
  it.each(['STOP', 'RELOAD', 'DATA', 'STATS'])('--signum=%s prints keepalived\'s number', (name) => {
    expect(String(signumOf(name))).toBe(execFileSync('keepalived', [`--signum=${name}`], { encoding: 'utf8' }).trim());
  });
  it('STATS_CLEAR and JSON (real-time signals that would end vipd) and unknown names are refused', () => {
    expect(() => signumOf('JSON')).toThrow(ArgvError);
    expect(() => signumOf('STATS_CLEAR')).toThrow(ArgvError);
    expect(() => signumOf('FOO')).toThrow(/unknown signal function/);
  });
  it('keepalived mode: run under the name keepalived, or with an option first', () => {
    expect(isKeepalivedInvocation('/usr/sbin/keepalived', [])).toBe(true);
    expect(isKeepalivedInvocation('/usr/sbin/keepalived', ['run'])).toBe(true);
    expect(isKeepalivedInvocation('/x/dist/bin/vipd.cjs', ['-P'])).toBe(true);
    expect(isKeepalivedInvocation('/x/dist/bin/vipd.cjs', ['run', '-f', 'x'])).toBe(false);
    expect(isKeepalivedInvocation('/x/src/cli/vipd.ts', [])).toBe(false);
    expect(isKeepalivedInvocation('/x/src/cli/vipd.ts', ['-V'])).toBe(false); // vipd's version, as before
    expect(isKeepalivedInvocation('/usr/sbin/keepalived', ['-V'])).toBe(true);
    expect(optionName('vrrp_pid')).toBe('-r/--vrrp_pid');
  });
});

describe('default paths: one set per network namespace and configuration id', () => {
  const st = (ino: number): { dev: number; ino: number } => ({ dev: 4, ino });
  const probe = (self: number, init: number | null, named: [string, number][] = []): NetnsProbe => ({
    self: st(self), init: init === null ? null : st(init), named: named.map(([name, ino]) => ({ name, stat: st(ino) })),
  });

  it('the namespace: root (pid 1\'s, or the fixed initial inode), else its first name, else its inode', () => {
    expect(identifyNetns(probe(100, 100, [['blue', 100]]))).toEqual({ kind: 'root' });
    expect(identifyNetns(probe(INIT_NET_INO, null))).toEqual({ kind: 'root' });
    expect(identifyNetns(probe(200, 100, [['red', 300], ['blue', 200], ['green', 200]]))).toEqual({ kind: 'named', name: 'blue' });
    expect(identifyNetns(probe(200, null, [['blue', 200]]))).toEqual({ kind: 'named', name: 'blue' });
    expect(identifyNetns(probe(200, 100))).toEqual({ kind: 'unnamed', inode: 200 });
    expect(identifyNetns(probe(200, null))).toEqual({ kind: 'root' }); // cannot tell (pid 1 unreadable): the common case
    expect(identifyNetns({ self: null, init: null, named: [] })).toEqual({ kind: 'root' });
  });

  it('root namespace: keepalived\'s own pid file names; /run/vipd/vipd.sock', () => {
    expect(runtimePaths({ kind: 'root' }, null, '/run')).toEqual({ socket: '/run/vipd/vipd.sock', mainPid: '/run/keepalived.pid', vrrpPid: '/run/keepalived_vrrp.pid' });
    expect(runtimePaths({ kind: 'root' }, 'n1', '/run')).toEqual({ socket: '/run/vipd/vipd_n1.sock', mainPid: '/run/keepalived/keepalived_n1.pid', vrrpPid: '/run/keepalived/vrrp_n1.pid' });
  });

  it('a named namespace: keepalived\'s --namespace layout as seen from outside; an unnamed one by inode', () => {
    expect(runtimePaths({ kind: 'named', name: 'blue' }, null, '/run')).toEqual({ socket: '/run/vipd/blue/vipd.sock', mainPid: '/run/keepalived/blue/keepalived.pid', vrrpPid: '/run/keepalived/blue/vrrp.pid' });
    expect(runtimePaths({ kind: 'named', name: 'blue' }, 'n1', '/run')).toEqual({ socket: '/run/vipd/blue/vipd_n1.sock', mainPid: '/run/keepalived/blue/keepalived_n1.pid', vrrpPid: '/run/keepalived/blue/vrrp_n1.pid' });
    expect(runtimePaths({ kind: 'unnamed', inode: 4026532000 }, null, '/run').socket).toBe('/run/vipd/ns-4026532000/vipd.sock');
    expect(runtimePaths({ kind: 'root' }, null, '/tmp/t/run').mainPid).toBe('/tmp/t/run/keepalived.pid'); // VIPD_RUNSTATEDIR (tests)
  });

  it('no two (namespace, id) pairs share a path; an id that cannot be a file name is refused', () => {
    const all = [null, 'a', 'blue'].flatMap((id) => [{ kind: 'root' } as const, { kind: 'named', name: 'blue' } as const, { kind: 'named', name: 'a' } as const, { kind: 'unnamed', inode: 7 } as const]
      .map((ns) => runtimePaths(ns, id)));
    const paths = all.flatMap((p) => [p.socket, p.mainPid, p.vrrpPid]);
    expect(new Set(paths).size).toBe(paths.length);
    for (const bad of ['', '..', 'a/b']) expect(() => runtimePaths({ kind: 'root' }, bad)).toThrow(/cannot be part of a file name/);
  });
});

describe('forking: where the daemon\'s output goes', () => {
  /** stdoutIsJournal() in a child whose stdout is `file`, with JOURNAL_STREAM set to `stream`. */
  function inChild(file: string, stream: string): string {
    const fd = openSync(file, 'w');
    try {
      const code = `import(${JSON.stringify(join(__dirname, '../../src/cli/daemonize.ts'))}).then((m) => process.stderr.write(String(m.stdoutIsJournal())))`;
      return spawnSync(process.execPath, ['--import', 'tsx', '-e', code], { stdio: ['ignore', fd, 'pipe'], env: { ...process.env, JOURNAL_STREAM: stream }, encoding: 'utf8' }).stderr;
    } finally {
      closeSync(fd);
    }
  }
  it('kept when stdout is the journal stream systemd named in JOURNAL_STREAM (dev:ino), not when it was redirected', () => {
    const f = join(dir, 'journal-standin');
    closeSync(openSync(f, 'w'));
    const s = statSync(f);
    expect(inChild(f, `${s.dev}:${s.ino}`)).toBe('true');
    expect(inChild(f, `${s.dev}:${s.ino + 1}`)).toBe('false');
    expect(inChild(f, '')).toBe('false');
    expect(stdoutIsJournal()).toBe(false); // (vitest's stdout, no JOURNAL_STREAM for it)
  });
});
