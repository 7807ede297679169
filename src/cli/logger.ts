/**
 * The daemon's logger (`vipd run` and keepalived mode): pino, in one of two formats.
 *
 * - `json`: one JSON object per line (pino's own), for log shippers and the tests.
 * - `text`: one line per entry as journald and syslog users read them: the level as a word,
 *   the message first, then the fields as `key=value` (strings quoted as JSON strings when
 *   they hold a space, a quote, an `=` or a control character; objects as compact JSON).
 *   Colours only on a terminal. Under journald no timestamp (journald stamps each line) and a
 *   `<N>` syslog priority prefix, which journald reads as the entry's priority (its default
 *   SyslogLevelPrefix=yes), so `journalctl -p warning` works. Elsewhere (terminal, file, pipe)
 *   the line starts with the time. Built with pino-pretty's prettyFactory, called in line on
 *   the main thread: no transport, no worker thread.
 *
 * Default (no --log-format): `text` when the log's destination (stdout, fd 1) is a terminal or
 * is journald's stream (JOURNAL_STREAM names its device and inode, as systemd documents for
 * this check), `json` otherwise (a pipe, a file, /dev/null). A -g/--log-file is `json` unless
 * the format is given.
 *
 * keepalived 2.2.7 logs through syslog (or, with -l, the console) in text; it has no JSON.
 */
import { fstatSync } from 'node:fs';
import { isatty } from 'node:tty';
import { destination, pino, type DestinationStream, type Logger } from 'pino';
import { CliError } from './errors.js';

/** pino's levels, most verbose first (`silent` logs nothing). */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const LOG_FORMATS = ['json', 'text'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** `value` as a log level; anything else is a CliError (exit 2) that lists the levels. */
export function parseLogLevel(value: string): LogLevel {
  if ((LOG_LEVELS as readonly string[]).includes(value)) return value as LogLevel;
  throw new CliError(`--log-level '${value}' is not a level: use one of ${LOG_LEVELS.join(', ')}`);
}

/** `value` as a log format; anything else is a CliError (exit 2). */
export function parseLogFormat(value: string): LogFormat {
  if ((LOG_FORMATS as readonly string[]).includes(value)) return value as LogFormat;
  throw new CliError(`--log-format '${value}' is not a format: use json or text`);
}

/**
 * keepalived mode: take vipd's own `--log-format FORMAT` / `--log-format=FORMAT` out of
 * keepalived's argv (keepalived has no such option), before `--` only. The last one wins.
 * Throws CliError (exit 2) on a missing or bad value.
 */
export function takeLogFormat(args: readonly string[]): { args: string[]; format: LogFormat | null } {
  const rest: string[] = [];
  let format: LogFormat | null = null;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') {
      rest.push(...args.slice(i));
      break;
    }
    if (a === '--log-format') {
      const v = args[i + 1];
      if (v === undefined) throw new CliError('missing value for option --log-format (json or text)');
      format = parseLogFormat(v);
      i++;
    } else if (a.startsWith('--log-format=')) format = parseLogFormat(a.slice('--log-format='.length));
    else rest.push(a);
  }
  return { args: rest, format };
}

/** Where log lines go, as far as their format is concerned. */
export interface LogSink {
  /** A terminal: colours, and text by default. */
  tty: boolean;
  /** journald's stream: text by default, no timestamp, `<N>` priority prefix. */
  journal: boolean;
}

/**
 * Is fd `fd` journald's stream? systemd sets JOURNAL_STREAM=DEV:INO for the stream it connects
 * to a service's stdout/stderr; a process whose fd was redirected keeps the variable, hence the
 * comparison with the fd itself. `env` and `stat` are parameters for the tests.
 */
export function isJournalStream(fd: number, env: NodeJS.ProcessEnv = process.env, stat = (n: number) => fstatSync(n, { bigint: true })): boolean {
  const j = /^(\d+):(\d+)$/.exec(env.JOURNAL_STREAM ?? '');
  if (!j) return false;
  try {
    const s = stat(fd);
    return s.dev === BigInt(j[1]!) && s.ino === BigInt(j[2]!);
  } catch {
    return false;
  }
}

/** What stdout (fd 1) is: the daemon's log goes there unless a log file is given. */
export function stdoutSink(): LogSink {
  return { tty: isatty(1), journal: isJournalStream(1) };
}

/** The format when --log-format is not given: text for a terminal or journald, else JSON. */
export function defaultLogFormat(sink: LogSink): LogFormat {
  return sink.tty || sink.journal ? 'text' : 'json';
}

/** Keys every pino line has, shown elsewhere in a text line (or by journald: _PID). */
const OWN_KEYS = new Set(['level', 'time', 'msg', 'pid', 'hostname']);
/** syslog priorities (RFC 5424) of pino's levels. */
const SYSLOG: Record<number, number> = { 10: 7, 20: 7, 30: 6, 40: 4, 50: 3, 60: 2 };
const LABEL: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };

/** A string value as it appears in a text line: bare when unambiguous, else a JSON string. */
function textValue(v: unknown): string {
  // eslint-disable-next-line no-control-regex
  if (typeof v === 'string') return v !== '' && /^[^\s"=\\\x00-\x1f\x7f]+$/.test(v) ? v : JSON.stringify(v);
  if (v === undefined) return 'undefined';
  if (typeof v === 'bigint') return String(v);
  return JSON.stringify(v) ?? String(v);
}

/**
 * A log entry's message and fields as one line: `message key=value …` (pino's own keys left
 * out). Control characters in the message are escaped, so an entry is always one line.
 */
export function messageAndFields(log: Record<string, unknown>): string {
  const raw = typeof log.msg === 'string' ? log.msg : log.msg === undefined ? '' : String(log.msg);
  // eslint-disable-next-line no-control-regex
  const msg = raw.replace(/[\x00-\x1f\x7f]/g, (c) => JSON.stringify(c).slice(1, -1));
  const fields = Object.entries(log).filter(([k]) => !OWN_KEYS.has(k)).map(([k, v]) => `${k}=${textValue(v)}`);
  return [msg, ...fields].filter((s) => s !== '').join(' ');
}

/** The text formatter: a pino JSON line in, a text line (with its newline) out. */
export async function textFormatter(sink: LogSink): Promise<(jsonLine: string) => string> {
  const { prettyFactory } = await import('pino-pretty');
  return prettyFactory({
    colorize: sink.tty,
    // journald stamps every line itself; a terminal gets the local time, a file the UTC time
    translateTime: sink.journal ? false : sink.tty ? 'SYS:yyyy-mm-dd HH:MM:ss.l' : "UTC:yyyy-mm-dd'T'HH:MM:ss.l'Z'",
    ignore: sink.journal ? 'pid,hostname,time' : 'pid,hostname',
    hideObject: true,
    messageFormat: (log) => messageAndFields(log),
    ...(sink.journal ? { customPrettifiers: { level: (l: string | object) => `<${SYSLOG[Number(l)] ?? 6}>${LABEL[Number(l)] ?? String(l)}` } } : {}),
  }) as (jsonLine: string) => string;
}

export interface LoggerOptions {
  level: LogLevel;
  /** null: defaultLogFormat() of the destination (a log file: json). */
  format: LogFormat | null;
  /** Append to this file instead of writing to stdout. */
  file: string | null;
}

/**
 * The daemon's logger (base field `pid`). Writes are synchronous, as pino's default stdout
 * destination: a line is out before the next statement (and before process.exit).
 */
export async function createLogger(o: LoggerOptions): Promise<{ log: Logger; format: LogFormat }> {
  const sink: LogSink = o.file ? { tty: false, journal: false } : stdoutSink();
  const format = o.format ?? defaultLogFormat(sink);
  const opts = { level: o.level, base: { pid: process.pid } };
  const dest = o.file ? destination({ dest: o.file, append: true, mkdir: true, sync: true }) : null;
  if (format === 'json') return { log: dest ? pino(opts, dest) : pino(opts), format };
  const out = dest ?? destination({ dest: 1, sync: true });
  const fmt = await textFormatter(sink);
  const stream: DestinationStream = { write: (line: string) => void out.write(fmt(line)) };
  return { log: pino(opts, stream), format };
}
