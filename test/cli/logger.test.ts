/**
 * The daemon's log output (src/cli/logger.ts) and vipd's option checks: --log-format json|text
 * and its default (text on a terminal or journald's stream, JSON otherwise), the shape of a
 * text line, --log-level refused by vipd with the list of levels, `check-config -f FILE`, and
 * an example in every command's --help.
 *
 * The runs of `vipd run` below end at the --metrics check (exit 2), which comes after the
 * logger is made and the configuration's warnings are logged and before any socket is opened
 * or the native addon is loaded: nothing runs in this namespace.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultLogFormat, isJournalStream, LOG_LEVELS, messageAndFields, parseLogLevel, takeLogFormat, textFormatter } from '../../src/cli/logger.js';
import { cliCommand } from '../../src/lab/cli-command.js';
import { labConfig } from '../../src/lab/conf.js';

const dir = mkdtempSync(join(tmpdir(), 'vipd-logger-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A valid configuration with one warning (VRRPv3 has no authentication). */
const warned = join(dir, 'warned.conf');
writeFileSync(warned, labConfig('r1', [{ vrid: 51, priority: 100, advertInt: 1, version: 3, authPass: 'secret', vips: ['192.0.2.200/24'] }]));
const authLine = readFileSync(warned, 'utf8').split('\n').findIndex((l) => l.includes('authentication')) + 1;

function vipd(args: string[], o: { env?: Record<string, string>; stdoutFd?: number } = {}): { code: number | null; stdout: string; stderr: string } {
  const [cmd, ...pre] = cliCommand('vipd');
  const env = { ...process.env };
  delete env.JOURNAL_STREAM; // (the test run itself may be under systemd)
  Object.assign(env, o.env);
  const r = spawnSync(cmd!, [...pre, ...args], { encoding: 'utf8', env, stdio: ['ignore', o.stdoutFd ?? 'pipe', 'pipe'], timeout: 30_000 });
  return { code: r.status, stdout: r.stdout ?? '', stderr: r.stderr };
}

/** ANSI colour sequences (SGR). */
const SGR = new RegExp(`${String.fromCharCode(27)}\\[\\d+m`);
const SGR_ALL = new RegExp(SGR.source, 'g');
const pinoLine = (o: Record<string, unknown>): string => JSON.stringify({ level: 30, time: Date.UTC(2024, 0, 2, 3, 4, 5, 678), pid: 42, hostname: 'h', msg: 'hello', ...o });

describe('format selection', () => {
  it('no --log-format: text on a terminal or journald\'s stream, JSON on anything else', () => {
    expect(defaultLogFormat({ tty: true, journal: false })).toBe('text');
    expect(defaultLogFormat({ tty: false, journal: true })).toBe('text');
    expect(defaultLogFormat({ tty: false, journal: false })).toBe('json');
  });

  it('journald\'s stream is the fd whose device:inode JOURNAL_STREAM names, not any fd while the variable is set', () => {
    const a = join(dir, 'a');
    const b = join(dir, 'b');
    writeFileSync(a, '');
    writeFileSync(b, '');
    const fd = openSync(a, 'r');
    try {
      const s = statSync(a);
      expect(isJournalStream(fd, { JOURNAL_STREAM: `${s.dev}:${s.ino}` })).toBe(true);
      const t = statSync(b);
      expect(isJournalStream(fd, { JOURNAL_STREAM: `${t.dev}:${t.ino}` })).toBe(false);
      expect(isJournalStream(fd, {})).toBe(false);
      expect(isJournalStream(fd, { JOURNAL_STREAM: 'garbage' })).toBe(false);
    } finally {
      closeSync(fd);
    }
  });

  it('`vipd run` with stdout on journald\'s stream logs text lines: <priority>LEVEL: message key=value, no timestamp', () => {
    const out = join(dir, 'journal.out');
    writeFileSync(out, '');
    const s = statSync(out);
    const fd = openSync(out, 'a');
    try {
      const r = vipd(['run', '-f', warned, '--metrics', 'abc'], { env: { JOURNAL_STREAM: `${s.dev}:${s.ino}` }, stdoutFd: fd });
      expect(r.code).toBe(2);
    } finally {
      closeSync(fd);
    }
    const lines = readFileSync(out, 'utf8').split('\n').filter(Boolean);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^<4>WARN: vrrp_instance VI_51: VRRPv3 has no authentication .* file=${warned} line=${authLine} col=\\d+$`));
    expect(lines[0]).not.toMatch(SGR); // no colours off a terminal
  });

  it('`vipd run` with stdout on a pipe logs JSON; --log-format text there gives a timestamped text line', () => {
    const json = vipd(['run', '-f', warned, '--metrics', 'abc']);
    expect(json.code).toBe(2);
    expect(JSON.parse(json.stdout.trim())).toMatchObject({ level: 40, file: warned, line: authLine, msg: expect.stringContaining('VRRPv3 has no authentication') });
    const text = vipd(['run', '-f', warned, '--metrics', 'abc', '--log-format', 'text']);
    expect(text.code).toBe(2);
    expect(text.stdout).toMatch(new RegExp(`^\\[\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z\\] WARN: vrrp_instance VI_51: .* file=${warned} line=${authLine} col=\\d+\\n$`));
  });

  it('keepalived mode takes --log-format too (keepalived has no such option); a bad value is refused with one line', () => {
    expect(takeLogFormat(['-n', '--log-format', 'text', '-f', 'x'])).toEqual({ args: ['-n', '-f', 'x'], format: 'text' });
    expect(takeLogFormat(['--log-format=json', '-l'])).toEqual({ args: ['-l'], format: 'json' });
    expect(takeLogFormat(['-l', '--', '--log-format=json'])).toEqual({ args: ['-l', '--', '--log-format=json'], format: null });
    const r = vipd(['-n', '-f', warned, '--log-format', 'yaml']);
    expect(r).toMatchObject({ code: 2, stderr: "vipd: --log-format 'yaml' is not a format: use json or text\n" });
  });
});

describe('a text line', () => {
  it('message first, then key=value: strings quoted only when needed, objects as JSON, pino\'s own keys left out', () => {
    expect(messageAndFields({ level: 30, time: 1, pid: 2, hostname: 'h', msg: 'VI_1 entering MASTER', instance: 'VI_1', vrid: 51, up: true, err: 'a b', empty: '', o: { a: [1] } }))
      .toBe('VI_1 entering MASTER instance=VI_1 vrid=51 up=true err="a b" empty="" o={"a":[1]}');
    expect(messageAndFields({ msg: 'two\nlines', v: 'x=y' })).toBe('two\\nlines v="x=y"'); // one entry, one line
  });

  it('under journald: a syslog priority prefix journald reads, the level as a word, no time, no colour', async () => {
    const f = await textFormatter({ tty: false, journal: true });
    expect(f(pinoLine({ level: 40, instance: 'VI_1' }))).toBe('<4>WARN: hello instance=VI_1\n');
    expect(f(pinoLine({ level: 30 }))).toBe('<6>INFO: hello\n');
    expect(f(pinoLine({ level: 50 }))).toBe('<3>ERROR: hello\n');
    expect(f(pinoLine({ level: 20 }))).toBe('<7>DEBUG: hello\n');
  });

  it('in a file or pipe: UTC time first, no colour; on a terminal: local time and colours', async () => {
    const plain = await textFormatter({ tty: false, journal: false });
    expect(plain(pinoLine({ vrid: 7 }))).toBe('[2024-01-02T03:04:05.678Z] INFO: hello vrid=7\n');
    const tty = await textFormatter({ tty: true, journal: false });
    const line = tty(pinoLine({ vrid: 7 }));
    expect(line).toMatch(SGR);
    expect(line.replace(SGR_ALL, '')).toMatch(/^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.678\] INFO: hello vrid=7\n$/);
  });
});

describe('vipd\'s options', () => {
  it('--log-level verbose is refused by vipd, before anything else, with the list of levels (exit 2, one line)', () => {
    expect(() => parseLogLevel('verbose')).toThrow(/trace, debug, info, warn, error, fatal, silent/);
    expect(LOG_LEVELS.map(parseLogLevel)).toEqual([...LOG_LEVELS]);
    const r = vipd(['run', '-f', join(dir, 'no-such.conf'), '--log-level', 'verbose']);
    expect(r).toMatchObject({ code: 2, stdout: '', stderr: "vipd: --log-level 'verbose' is not a level: use one of trace, debug, info, warn, error, fatal, silent\n" });
  });

  it('check-config -f FILE works as check-config FILE; two different files are refused', () => {
    expect(vipd(['check-config', '-f', warned])).toMatchObject({ code: 0, stdout: `${warned}: OK (1 instance, 1 warning)\n` });
    expect(vipd(['check-config', warned])).toMatchObject({ code: 0, stdout: `${warned}: OK (1 instance, 1 warning)\n` });
    expect(vipd(['check-config', '--config', warned, '--strict'])).toMatchObject({ code: 2 });
    const two = vipd(['check-config', warned, '-f', join(dir, 'other.conf')]);
    expect(two.code).toBe(2);
    expect(two.stderr).toMatch(/^vipd: check-config: two files given/);
  });

  it('every command\'s --help has an example', () => {
    for (const args of [['help'], ['run', '--help'], ['check-config', '--help'], ['-h']]) {
      const r = vipd(args);
      expect(r.code, args.join(' ')).toBe(0);
      expect(r.stdout, args.join(' ')).toMatch(/\nExamples:\n {2}vipd /);
    }
  });
});
