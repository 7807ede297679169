/**
 * Script command lines as keepalived 2.2.7 splits them, the notify keywords of instances and
 * sync groups, and the mail / FIFO / script-security keywords of global_defs.
 *
 * keepalived reads a script line twice (lib/notify.c notify_script_init, lib/parser.c
 * alloc_strvec_quoted_escaped): first the whole line, without its comment, is cut into words
 * honouring "double" and 'single' quotes and backslash escapes; the first word after the
 * keyword is the command, the next two are USER and GROUP. Then the command word is cut again
 * by the same rules into argv, which is exec'd without a shell. So `notify "/x a 'b c'"` runs
 * /x with `a` and `b c`, `notify /x a b` runs /x as user a, group b, and `"\\t"` is a TAB.
 */
import { canonicalIP, parseIP } from '../protocol/addr.js';
import type { Pos } from './lexer.js';
import type { DaemonConfig } from './model.js';
import type { Command, NotifyModel, NotifyScript, ScriptUser } from './model-track.js';
import { warned, type Builder, type Kw, type Table } from './spec.js';
import type { Statement } from './tree.js';

// ---------------------------------------------------------------- shared helpers

/** Document order of definitions and references (keepalived resolves track_* names while reading). */
const order = new WeakMap<object, number>();
let seq = 0;
export function mark(o: object): void {
  order.set(o, ++seq);
}
/** True when `a` was read after `b` (both marked). */
export function after(a: object, b: object): boolean {
  return (order.get(a) ?? 0) > (order.get(b) ?? 0);
}

/** keepalived's check_true_false (case-sensitive true/on/yes, false/off/no); no word = true. */
export function trueFalse(b: Builder, st: Statement): boolean | null {
  const w = b.words(st, 0, 1);
  if (!w) return null;
  if (w.length === 0) return true;
  if (['true', 'on', 'yes'].includes(w[0]!)) return true;
  if (['false', 'off', 'no'].includes(w[0]!)) return false;
  b.err(st.args[0]!.pos, `'${st.keyword}' takes true/on/yes or false/off/no, got '${w[0]}' (keepalived 2.2.7 reports it and ignores the line)`);
  return null;
}

/** A keyword vipd implements (notes say what vipd does, as keepalived 2.2.7). */
export function implemented<C>(name: string, syntax: string, kaDefault: string, note: string, handle: Kw<C>['handle'], repeat = false): Kw<C> {
  return { name, syntax, status: 'implemented', kaDefault, note, handle, repeat };
}

export function planned<C>(name: string, issue: number, syntax: string, kaDefault: string, note: string, handle: Kw<C>['handle'], repeat = false): Kw<C> {
  return { name, syntax, status: 'planned', issue, kaDefault, note, handle, repeat };
}

/**
 * The table to walk a sub-block of a `planned` block with: its planned keywords are walked as
 * implemented, so the block warns once (on its own line), not once per line; `outside`
 * keywords inside still warn. The table given stays as is for the reference.
 */
export function quiet<C>(t: Table<C>): Table<C> {
  return { block: t.block, keywords: t.keywords.map((k) => (k.status === 'planned' ? { ...k, status: 'implemented' as const } : k)) };
}

// ---------------------------------------------------------------- command lines

const WS = ' \t\f\n\r\v';
const SIMPLE: Record<string, number> = { a: 7, b: 8, E: 0x1b, f: 0x0c, n: 0x0a, r: 0x0d, t: 0x09, v: 0x0b };

/**
 * keepalived 2.2.7's alloc_strvec_quoted_escaped: words split at white space; "…" and '…'
 * group (the quotes go, adjacent pieces join: `a"b c"d` is `ab cd`); a backslash escapes the
 * next character anywhere, with \a \b \E \f \n \r \t \v, \xHH… (every hex digit that follows,
 * kept to 8 bits), \NNN (octal, up to 3 digits), \cC (control-C). keepalived fails the whole
 * line on an unterminated quote or a backslash at the end. vipd also refuses an escape that
 * makes a NUL (keepalived silently cuts the word there) or a byte above 0x7f (vipd passes
 * arguments as UTF-8 text).
 */
export function splitQuotedEscaped(src: string): { words: string[] } | { error: string } {
  const words: string[] = [];
  const n = src.length;
  let i = 0;
  while (i < n) {
    while (i < n && WS.includes(src[i]!)) i++;
    if (i >= n) break;
    let out = '';
    let quote: string | null = null;
    while (i < n) {
      const c = src[i]!;
      if (c === '\\') {
        i++;
        if (i >= n) return { error: 'a backslash ends the line (nothing to escape)' };
        const e = src[i]!;
        let v: number;
        if (e === 'x' && /[0-9a-fA-F]/.test(src[i + 1] ?? '')) {
          v = 0;
          for (i++; i < n && /[0-9a-fA-F]/.test(src[i]!); i++) v = ((v << 4) | parseInt(src[i]!, 16)) & 0xff;
        } else if (e === 'c' && i + 1 < n) {
          v = src.charCodeAt(i + 1) & 0x1f;
          i += 2;
        } else if (e >= '0' && e <= '7') {
          v = 0;
          for (let k = 0; k < 3 && i < n && src[i]! >= '0' && src[i]! <= '7'; k++, i++) v = ((v << 3) + Number(src[i])) & 0xff;
        } else {
          out += SIMPLE[e] !== undefined ? String.fromCharCode(SIMPLE[e]!) : e;
          i++;
          continue;
        }
        if (v === 0 || v > 0x7f) return { error: `the escape before column ${i + 1} makes byte 0x${v.toString(16).padStart(2, '0')}, which vipd does not pass to a script` };
        out += String.fromCharCode(v);
        continue;
      }
      if (quote) {
        if (c === quote) quote = null;
        else out += c;
        i++;
        continue;
      }
      if (WS.includes(c)) break;
      if (c === '"' || c === "'") quote = c;
      else out += c;
      i++;
    }
    if (quote) return { error: `missing terminating ${quote}` };
    words.push(out);
  }
  return { words };
}

type Arg = Statement['args'][number] & { raw?: string };

/** The source text of an argument: the lexer's `raw` when it gives one, else rebuilt (quoted words re-escaped). */
function rawOf(a: Arg): string {
  if (a.raw !== undefined) return a.raw;
  return a.quoted ? `"${a.text.replace(/[\\"]/g, '\\$&')}"` : a.text;
}

/**
 * The words of a script line after keepalived's first pass, the keyword left out. keepalived
 * splits its line buffer (after decomment and definitions, which the lexer applies too): the
 * statement's `line` when the tree gives it; else the arguments put back together as
 * written, where an escape like \t inside double quotes reaches this point already read by
 * the lexer (as `t`; keepalived makes it a TAB).
 */
export function lineWords(st: Statement): { words: string[] } | { error: string } {
  const whole = (st as Statement & { line?: string }).line;
  if (whole !== undefined) {
    const r = splitQuotedEscaped(whole);
    return 'error' in r ? r : { words: r.words.slice(1) };
  }
  let line = '';
  let prev: Arg | null = null;
  for (const a of st.args as readonly Arg[]) {
    if (prev && !(a.pos.line === prev.pos.line && a.pos.col === prev.pos.col + rawOf(prev).length)) line += ' ';
    line += rawOf(a);
    prev = a;
  }
  return splitQuotedEscaped(line);
}

/**
 * A command line of `st` (`KEYWORD CMD [USER [GROUP]]`, or only CMD when `withUser` is false)
 * as keepalived 2.2.7 reads it; null after reporting an error.
 */
export function commandLine(b: Builder, st: Statement, withUser = true): { argv: Command; user: ScriptUser | null } | null {
  if (st.block) b.err(st.pos, `'${st.keyword}' takes no block`);
  const at = st.args[0]?.pos ?? st.pos;
  if (!st.args.length) {
    b.err(st.pos, `'${st.keyword}' needs a command`);
    return null;
  }
  const line = lineWords(st);
  if ('error' in line) {
    b.err(at, `'${st.keyword}': ${line.error} (keepalived 2.2.7 drops the script)`);
    return null;
  }
  const [cmd = '', user, group, ...rest] = line.words;
  const argv = splitQuotedEscaped(cmd);
  if ('error' in argv) {
    b.err(at, `'${st.keyword}' command: ${argv.error} (keepalived 2.2.7 drops the script)`);
    return null;
  }
  if (!argv.words.length) {
    b.err(at, `'${st.keyword}' has an empty command`);
    return null;
  }
  const ignored = withUser ? rest : line.words.slice(1);
  if (ignored.length) {
    b.warn(at, `'${st.keyword}': ${ignored.map((w) => `'${w}'`).join(' ')} ignored, as keepalived 2.2.7 does; to pass arguments, put the whole command line in double quotes`);
  }
  return { argv: argv.words, user: withUser && user !== undefined ? { user, group: group ?? null } : null };
}

/**
 * What keepalived 2.2.7 hands to `/bin/sh -c` instead of execve, or null: a command whose
 * argv[0] is `<` (then optional blanks) then `/` is a file-open check (check_script_secure
 * SC_SYSTEM), run as its words joined by spaces, each but the first in single quotes (cmd_str).
 */
export function keepalivedShellForm(argv: Command): string | null {
  const a0 = argv[0] ?? '';
  if (!/^<[ \t]*\//.test(a0)) return null;
  return [a0, ...argv.slice(1).map((w) => `'${w}'`)].join(' ');
}

// ---------------------------------------------------------------- notify keywords

/** The notifications of an instance or group before any keyword. */
export function emptyNotify(): NotifyModel {
  return { master: null, backup: null, fault: null, stop: null, deleted: null, notifyDeleted: false, any: null, masterRxLowerPri: null, priorityChanges: null };
}

/** What the notify keywords write: an instance or a sync group (smtpAlert null until resolved). */
export interface NotifyCtx {
  notify: NotifyModel;
  smtpAlert: boolean | null;
}

type Field = 'master' | 'backup' | 'fault' | 'stop' | 'any' | 'masterRxLowerPri';

function setScript(b: Builder, st: Statement, n: NotifyModel, field: Field): void {
  const first = n[field];
  if (first) {
    b.err(st.pos, `'${st.keyword}' given twice (first at line ${first.pos.line}): keepalived 2.2.7 keeps the first and reports an error`);
    return;
  }
  const c = commandLine(b, st);
  if (c) n[field] = { argv: c.argv, user: c.user, pos: st.pos } satisfies NotifyScript;
}

const CMD = 'CMD|"CMD ARGS…" [USER [GROUP]]';

function notifyKw(name: string, field: Field, note: string): Kw<NotifyCtx> {
  return implemented(name, CMD, 'none', note, (b, st, x) => setScript(b, st, x.notify, field), true);
}

const common: Kw<NotifyCtx>[] = [
  notifyKw('notify_master', 'master', 'Runs on the transition to MASTER (notify scripts of one instance run one after the other, in the order of its transitions).'),
  notifyKw('notify_backup', 'backup', 'Runs on the transition to BACKUP.'),
  notifyKw('notify_fault', 'fault', 'Runs on the transition to FAULT.'),
  notifyKw('notify_stop', 'stop', 'Runs when vipd stops (STOP), with keepalived\'s 1 s timeout.'),
  notifyKw('notify', 'any', 'Runs on every transition, with INSTANCE|GROUP, the name, the new state and the priority appended (after the state\'s own script).'),
  implemented('smtp_alert', '[true|false]', 'global smtp_alert_vrrp, else smtp_alert, else false', 'Mails the notification_email addresses on transitions (keepalived\'s subject and body).', (b, st, x) => {
    const v = trueFalse(b, st);
    if (v !== null) x.smtpAlert = v;
  }),
  implemented('notify_priority_changes', '[true|false]', 'sync group\'s, else global vrrp_notify_priority_changes (false)', 'Writes MASTER_PRIORITY / BACKUP_PRIORITY lines to the notify FIFO on effective priority changes.', (b, st, x) => {
    const v = trueFalse(b, st);
    if (v !== null) x.notify.priorityChanges = v;
  }),
];

/** The notify keywords of a `vrrp_sync_group` (keepalived 2.2.7 has no notify_deleted or notify_master_rx_lower_pri there). */
export const groupNotifyKeywords: Kw<NotifyCtx>[] = common;

/** The notify keywords of a `vrrp_instance`. A second notify_* of one kind is an error: keepalived keeps the first and reports it. */
export const notifyKeywords: Kw<NotifyCtx>[] = [
  ...common,
  notifyKw('notify_master_rx_lower_pri', 'masterRxLowerPri', 'Runs when a MASTER hears a lower-priority master (at most once per advert interval; keepalived runs it for every such advert).'),
  implemented('notify_deleted', `[${CMD}]`, 'off (FAULT is reported)', 'A reload that deletes the instance notifies DELETED instead of FAULT, and runs the command if given.', (b, st, x) => {
    if (x.notify.notifyDeleted) {
      b.err(st.pos, `'notify_deleted' given twice: keepalived 2.2.7 keeps the first and reports an error`);
      return;
    }
    if (st.args.length) {
      const c = commandLine(b, st);
      if (!c) return;
      x.notify.deleted = { argv: c.argv, user: c.user, pos: st.pos };
    }
    x.notify.notifyDeleted = true;
  }, true),
];


// ---------------------------------------------------------------- global_defs

type G = DaemonConfig;

/** Mail default of instances and groups (vrrp.c): smtp_alert_vrrp, else smtp_alert, else false. */
function alertDefault(c: G): void {
  const o = c.global.other;
  c.global.mail.alert = (o['smtp_alert_vrrp'] ?? o['smtp_alert'])?.[0] === 'true';
}

function alertKw(name: string, note: string): Kw<G> {
  return implemented(name, '[true|false]', 'unset (false)', note, (b, st, c) => {
    const v = trueFalse(b, st);
    if (v === null) return;
    c.global.other[name] = [String(v)];
    alertDefault(c);
  });
}

type FifoKey = 'notifyFifo' | 'vrrpNotifyFifo';

/** Where the first global mail keyword was (notification_email…, smtp_*), for crossCheckTracking's "no mail" warning. */
export const mailPos = new WeakMap<object, Pos & { keyword: string }>();
function sawMail(c: G, st: Statement): void {
  if (!mailPos.has(c.global.mail)) mailPos.set(c.global.mail, { ...st.pos, keyword: st.keyword });
}

/** Where each notify FIFO was configured (GlobalModel keeps no positions), for crossCheckTracking's warnings. */
export const fifoPos = new WeakMap<object, Pos>();

/** `[vrrp_]notify_fifo PATH [USER [GROUP]]`: keepalived keeps the first and reports a second. */
function fifoKw(name: string, key: FifoKey, note: string): Kw<G> {
  return implemented(name, 'PATH [USER [GROUP]]', 'none', note, (b, st, c) => {
    const w = b.words(st, 1, 3);
    if (!w) return;
    const f = c.global[key];
    if (f?.path) {
      b.err(st.pos, `'${name}' given twice: keepalived 2.2.7 keeps the first (${f.path}) and reports an error`);
      return;
    }
    c.global[key] = { path: w[0]!, script: f?.script ?? null };
    fifoPos.set(c.global[key]!, st.pos);
    if (w.length > 1) c.global.other[name] = w;
  }, true);
}

/** `[vrrp_]notify_fifo_script CMD [USER [GROUP]]`: run with the FIFO's path appended. */
function fifoScriptKw(name: string, key: FifoKey): Kw<G> {
  return implemented(name, CMD, 'none', 'Started with the FIFO\'s path appended, to read it; stopped with vipd.', (b, st, c) => {
    const f = c.global[key];
    if (f?.script) {
      b.err(st.pos, `'${name}' given twice: keepalived 2.2.7 keeps the first and reports an error`);
      return;
    }
    const cmd = commandLine(b, st);
    if (!cmd) return;
    c.global[key] = { path: f?.path ?? '', script: cmd.argv };
    fifoPos.set(c.global[key]!, (f && fifoPos.get(f)) ?? st.pos);
    if (cmd.user) c.global.other[`${name}_user`] = [cmd.user.user, ...(cmd.user.group ? [cmd.user.group] : [])];
  }, true);
}

/** `startup_script` / `shutdown_script`: keepalived keeps the first; its timeout defaults to 10 s once a script is set. */
function startStopKw(which: 'startup' | 'shutdown'): Kw<G>[] {
  const name = `${which}_script`;
  return [
    implemented(name, CMD, 'none', `Runs ${which === 'startup' ? 'before VRRP starts' : 'after VRRP stopped'}; vipd waits for it (up to its timeout, then kills its process group).`, (b, st, c) => {
      const o = c.global.other;
      if (o[name]) {
        b.err(st.pos, `'${name}' given twice: keepalived 2.2.7 keeps the first and reports an error`);
        return;
      }
      const cmd = commandLine(b, st);
      if (!cmd) return;
      o[name] = cmd.argv;
      if (cmd.user) o[`${name}_user`] = [cmd.user.user, ...(cmd.user.group ? [cmd.user.group] : [])];
      o[`${name}_timeout`] ??= ['10']; // global_parser.c startup_shutdown_script
    }, true),
    implemented(`${name}_timeout`, 'SECONDS (1..1000)', '10', `How long the ${which} script may run.`, (b, st, c) => {
      const v = b.int(st, 1, 1000);
      if (v !== null) c.global.other[`${name}_timeout`] = [String(v)];
    }),
  ];
}

const HOST = /^(?=.{1,253}$)[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?(\.[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?)*\.?$/;
const LVS = 'LVS is keepalived\'s checker process, not VRRP: run `keepalived --check` beside vipd for it';

/** The global_defs keywords of mail, notify FIFOs, startup/shutdown and script security. */
export const globalNotifyKeywords: Kw<G>[] = [
  implemented('notification_email', '{ ADDRESS … }', 'none', 'Mail alerts go to these addresses (smtp_alert).', (b, st, c) => {
    if (st.args.length) b.err(st.args[0]!.pos, `'notification_email' takes a { block } of addresses`);
    const words = b.block(st).flatMap((s) => {
      if (s.block) b.err(s.pos, `'${s.keyword}': no block inside notification_email`);
      return [s.keyword, ...s.args.map((a) => a.text)];
    });
    if (st.block && !words.length) b.warn(st.pos, 'empty notification_email block (keepalived 2.2.7 reports it)');
    sawMail(c, st);
    c.global.mail.emails.push(...words);
  }, true),
  implemented('notification_email_from', 'ADDRESS', 'USER@HOSTNAME of the daemon', 'From: of keepalived\'s mail.', (b, st, c) => {
    c.global.mail.from = b.word(st) ?? c.global.mail.from;
    sawMail(c, st);
  }),
  implemented('smtp_server', 'ADDR|NAME [PORT]', 'none (no mail)', 'Mail goes through this server (port 25 unless given; a name is resolved when sending).', (b, st, c) => {
    const w = b.words(st, 1, 2);
    if (!w) return;
    const ip = parseIP(w[0]!) ? canonicalIP(w[0]!) : null;
    if (!ip && !HOST.test(w[0]!)) {
      b.err(st.args[0]!.pos, `'smtp_server' must be an IP address or a host name, got '${w[0]}'`);
      return;
    }
    const port = w.length > 1 ? b.intAt(st, 1, 1, 65535) : 25; // smtp.h SMTP_PORT_STR
    if (port !== null) c.global.mail.smtpServer = { host: ip ?? w[0]!, port };
    sawMail(c, st);
  }),
  implemented('smtp_helo_name', 'NAME', 'the host name', 'HELO name of keepalived\'s mail.', (b, st, c) => {
    c.global.mail.smtpHelo = b.word(st) ?? c.global.mail.smtpHelo;
    sawMail(c, st);
  }),
  implemented('smtp_connect_timeout', 'SECONDS (1..4294)', '30', 'vipd gives up on the SMTP server after this long.', (b, st, c) => {
    const v = b.int(st, 0, 4294);
    if (v === 0) b.err(st.args[0]!.pos, `'smtp_connect_timeout' must be at least 1 (keepalived 2.2.7 reports 0 and uses 1)`);
    else if (v !== null) c.global.mail.connectTimeoutS = v;
  }),
  alertKw('smtp_alert', 'Default of every instance\'s and group\'s smtp_alert (after smtp_alert_vrrp).'),
  alertKw('smtp_alert_vrrp', 'Default of every instance\'s and group\'s smtp_alert (before smtp_alert).'),
  warned('smtp_alert_checker', 'outside', LVS, '[true|false]'),
  implemented('no_email_faults', '', 'off', 'No mail for transitions to FAULT.', (b, st, c) => {
    if (b.flag(st)) c.global.other[st.keyword] = [];
  }),
  fifoKw('notify_fifo', 'notifyFifo', 'Every state change is written to this FIFO (created if missing; never blocks: lines nobody reads are dropped and counted).'),
  fifoScriptKw('notify_fifo_script', 'notifyFifo'),
  fifoKw('vrrp_notify_fifo', 'vrrpNotifyFifo', 'VRRP state changes are written to this FIFO too (ignored when it is notify_fifo\'s).'),
  fifoScriptKw('vrrp_notify_fifo_script', 'vrrpNotifyFifo'),
  implemented('vrrp_notify_priority_changes', '[true|false]', 'false', 'Default of notify_priority_changes.', (b, st, c) => {
    const v = trueFalse(b, st);
    if (v !== null) c.global.other[st.keyword] = [String(v)];
  }),
  implemented('fifo_write_vrrp_states_on_reload', '', 'off', 'Every instance\'s and group\'s state is written to the FIFO after a reload.', (b, st, c) => {
    if (b.flag(st)) c.global.other[st.keyword] = [];
  }),
  warned('lvs_notify_fifo', 'outside', LVS, 'PATH [USER [GROUP]]'),
  warned('lvs_notify_fifo_script', 'outside', LVS, CMD),
  ...startStopKw('startup'),
  ...startStopKw('shutdown'),
  { name: 'script_user', syntax: 'USER [GROUP]', status: 'implemented', kaDefault: 'keepalived_script if that user exists, else root', repeat: false, note: 'Scripts without their own USER run as this user (checked when vipd starts).', handle: (b, st, c) => {
    const w = b.words(st, 1, 2);
    if (w) c.global.scriptUser = { user: w[0]!, group: w[1] ?? null };
  } },
  { name: 'enable_script_security', syntax: '', status: 'implemented', kaDefault: 'off', repeat: false, note: 'Scripts that a non-root user could modify are refused when they would run as root (keepalived\'s check_script_secure).', handle: (b, st, c) => {
    if (b.flag(st)) c.global.enableScriptSecurity = true;
  } },
];
