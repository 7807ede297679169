/**
 * Mail alerts on VRRP transitions (keepalived's `smtp_alert`), sent with nodemailer's SMTP
 * transport (issue 19).
 *
 * What keepalived 2.2.7 does, and vipd with it (core/smtp.c, vrrp/vrrp_notify.c,
 * core/global_data.c):
 * - Mail goes out only when `notification_email` lists at least one address and
 *   `smtp_server` is set (`Mailer.enabled`); one mail per transition, to every address.
 * - An instance or sync group mails when its `smtp_alert` is on (its own keyword, else the
 *   global smtp_alert_vrrp / smtp_alert: resolved by the parser), the new state differs from
 *   the last state it mailed about (starting from none: the first state always mails), and
 *   the state is not FAULT under `no_email_faults`. A skipped FAULT does not count as mailed:
 *   MASTER → FAULT → MASTER mails MASTER once only, as keepalived does.
 * - Subject `[ROUTER_ID] VRRP Instance NAME - Entering MASTER state` (`VRRP Group NAME` for a
 *   group; `Stopping`, `Deleted` for STOP / DELETED), cut to 255 characters like keepalived's
 *   buffer; a body of one line (`=> VRRP Instance is now owning VRRP VIPs <=` …). A group
 *   has no DELETED mail (keepalived sends none). keepalived turns an instance's DELETED into
 *   FAULT unless `notify_deleted` is set: that mapping is the caller's, not this module's.
 * - ROUTER_ID defaults to the host name, From to USER@HOSTNAME (the daemon's user), the
 *   HELO name to the host name, the timeout to 30 s. keepalived takes the host's canonical
 *   name (getaddrinfo AI_CANONNAME of uname); vipd takes os.hostname() unless the caller
 *   passes `opts.hostname`.
 * - Headers Date (local time with its offset, as keepalived writes it), From, To (all
 *   addresses, comma separated), Subject. vipd sends `X-Mailer: vipd` (keepalived:
 *   `X-Mailer: Keepalived`); nodemailer adds Message-ID, MIME-Version and Content-Type
 *   (text/plain, UTF-8), which keepalived leaves out.
 *
 * Where vipd differs, and why:
 * - nodemailer greets with EHLO (HELO if the server refuses EHLO); keepalived sends HELO.
 * - STARTTLS: keepalived speaks plain SMTP only. vipd upgrades when the server offers
 *   STARTTLS (`opportunisticTLS`: a refused STARTTLS goes on in plain text) without checking
 *   the certificate (Debian's Postfix offers STARTTLS with a self-signed certificate; like
 *   Postfix's own client at security level "may", encryption without authentication), and
 *   if the TLS handshake itself fails the same mail is sent again once with `ignoreTLS`, so
 *   every server keepalived can mail through works for vipd too.
 * - A host name as smtp_server is resolved by nodemailer at each send (keepalived resolves
 *   it once, at start or reload): a changed DNS record is followed without a reload, a DNS
 *   failure is a failed mail (logged, counted).
 * - Timeouts: keepalived waits smtp_connect_timeout for the connection and for each reply.
 *   vipd gives nodemailer that value as connectionTimeout (DNS + connect), greetingTimeout,
 *   dnsTimeout and socketTimeout (silence on the connection), and caps a whole mail at
 *   timeout × (7 + recipients), keepalived's worst case (connect, greeting, HELO, MAIL,
 *   RCPT each, DATA, body, QUIT).
 * - keepalived opens one connection per alert, all at once; vipd sends one mail at a time,
 *   one connection each, from a bounded queue (`queueMax`, default 100): an alert beyond it
 *   is dropped, counted and logged. The Date header is the time of the transition, not of
 *   the send.
 *
 * Never blocks or throws into the caller: alert() only queues; sending runs later on the
 * event loop. Failures are counted and logged with the server and the error, one line per
 * minute at most (the next line says how many were not logged).
 */
import { hostname as osHostname, userInfo } from 'node:os';
import type { Logger } from 'pino';
import type { Transporter } from 'nodemailer';
import type { DaemonConfig } from '../../config/model.js';
import { Throttle } from '../throttle.js';

export type MailKind = 'instance' | 'group';
export type MailState = 'MASTER' | 'BACKUP' | 'FAULT' | 'STOP' | 'DELETED';

/** Counters since construction; `queued`: accepted, not finished (waiting + the one in flight). */
export interface MailStats {
  sent: number;
  failed: number;
  dropped: number;
  queued: number;
}

export interface MailerOptions {
  /** Host name for the defaults of router_id, From and HELO (default os.hostname()). */
  hostname?: string;
  /** User name for the default From (default the daemon's user, os.userInfo()). */
  user?: string;
  /** Most mails waiting or in flight at once (default 100); beyond, alerts are dropped. */
  queueMax?: number;
}

/** One mail as built at alert() time. */
interface Mail {
  subject: string;
  body: string;
  date: string;
}

/** keepalived's subject text and body line per state (vrrp_notify.c); null: no mail. */
const TEXT: Record<MailKind, Record<MailState, [string, string] | null>> = {
  instance: {
    MASTER: ['Entering MASTER state', '=> VRRP Instance is now owning VRRP VIPs <='],
    BACKUP: ['Entering BACKUP state', '=> VRRP Instance is no longer owning VRRP VIPs <='],
    FAULT: ['Entering FAULT state', '=> VRRP Instance is no longer owning VRRP VIPs <='],
    STOP: ['Stopping', '=> VRRP Instance stopping <='],
    DELETED: ['Deleted', '=> VRRP Deleted at reload <='],
  },
  group: {
    MASTER: ['Entering MASTER state', '=> All VRRP group instances are now in MASTER state <='],
    BACKUP: ['Entering BACKUP state', '=> All VRRP group instances are now in BACKUP state <='],
    FAULT: ['Entering FAULT state', '=> All VRRP group instances are now in FAULT state <='],
    STOP: ['Stopping', '=> All VRRP group instances are now stopping <='],
    DELETED: null,
  },
};

const FAIL_LOG_INTERVAL_MS = 60_000;
const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** `d` in local time as keepalived's strftime("%a, %d %b %Y %H:%M:%S %z"): `Mon, 01 Mar 2021 09:44:08 +0100`. */
export function rfc822Date(d: Date): string {
  const p2 = (n: number): string => String(n).padStart(2, '0');
  const off = -d.getTimezoneOffset();
  const a = Math.abs(off);
  const zone = `${off < 0 ? '-' : '+'}${p2(Math.floor(a / 60))}${p2(a % 60)}`;
  return `${DAYS[d.getDay()]}, ${p2(d.getDate())} ${MONTHS[d.getMonth()]} ${d.getFullYear()} ` +
    `${p2(d.getHours())}:${p2(d.getMinutes())}:${p2(d.getSeconds())} ${zone}`;
}

export class Mailer {
  /** True when mail can go out: at least one notification_email and an smtp_server (keepalived's test). */
  readonly enabled: boolean;
  /** `host:port` of the SMTP server, for logs ('' when none). */
  readonly server: string;
  readonly routerId: string;
  readonly from: string;
  readonly helo: string;

  private readonly to: string[];
  private readonly smtp: { host: string; port: number } | null;
  private readonly timeoutMs: number;
  private readonly queueMax: number;
  private readonly noEmailFaults: boolean;
  private readonly lastMailed = new Map<string, MailState>();
  private readonly waiting: Mail[] = [];
  private inFlight: { abort: AbortController; abandoned: boolean } | null = null;
  private pump: Promise<void> | null = null;
  private transports: { tls: Transporter; plain: Transporter } | null = null;
  private closed = false;
  private counts = { sent: 0, failed: 0, dropped: 0 };
  private readonly failLog = new Throttle(FAIL_LOG_INTERVAL_MS);
  private readonly dropLog = new Throttle(FAIL_LOG_INTERVAL_MS);

  /**
   * Reads `c.global.mail`, `c.routerId` and `no_email_faults` (`c.global.other`). Nothing is
   * connected or imported until the first mail. Never throws.
   */
  constructor(c: DaemonConfig, private readonly log: Logger, opts: MailerOptions = {}) {
    const m = c.global.mail;
    const host = opts.hostname ?? osHostname();
    this.to = [...m.emails];
    this.smtp = m.smtpServer ? { ...m.smtpServer } : null;
    this.enabled = this.to.length > 0 && m.smtpServer !== null;
    this.server = m.smtpServer ? `${m.smtpServer.host.includes(':') ? `[${m.smtpServer.host}]` : m.smtpServer.host}:${m.smtpServer.port}` : '';
    this.routerId = c.routerId ?? host;
    this.helo = m.smtpHelo ?? (host || 'localhost'); // smtp.c: "localhost" without a name
    this.timeoutMs = m.connectTimeoutS * 1000;
    this.queueMax = Math.max(1, opts.queueMax ?? 100);
    this.noEmailFaults = 'no_email_faults' in c.global.other;
    let user = opts.user;
    if (m.from === null && user === undefined) {
      try {
        user = userInfo().username;
      } catch (err) {
        // keepalived leaves From unset when getpwuid() fails; a mail needs one.
        user = 'vipd';
        if (this.enabled) log.warn({ err: String(err) }, `mail alerts: the daemon's user has no name; notification_email_from defaults to vipd@${host}`);
      }
    }
    this.from = m.from ?? `${user}@${host}`;
  }

  /**
   * A transition of instance or sync group `name` to `state`, with that object's resolved
   * `smtpAlert`. Queues one mail per keepalived's rules (see the file's comment) and returns
   * at once; never throws. Nothing is queued when not `enabled`; a mail due after close()
   * or beyond `queueMax` is dropped (counted in `dropped`, logged once a minute).
   */
  alert(kind: MailKind, name: string, state: MailState, smtpAlert: boolean): void {
    if (!smtpAlert || (this.noEmailFaults && state === 'FAULT')) return;
    const key = `${kind}\0${name}`;
    if (this.lastMailed.get(key) === state) return;
    const text = TEXT[kind][state];
    if (!text) return;
    this.lastMailed.set(key, state);
    if (!this.enabled) return;
    const what = kind === 'instance' ? 'VRRP Instance' : 'VRRP Group';
    const mail: Mail = {
      subject: `[${this.routerId}] ${what} ${name} - ${text[0]}`.slice(0, 255),
      body: text[1],
      date: rfc822Date(new Date()),
    };
    if (this.closed || this.queued() >= this.queueMax) {
      this.drop(mail, this.closed ? 'the mailer is closed' : `${this.queueMax} mails are already waiting`);
      return;
    }
    this.waiting.push(mail);
    if (!this.pump) this.pump = new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.run());
  }

  stats(): MailStats {
    return { ...this.counts, queued: this.queued() };
  }

  /**
   * Lets the queued mails go out for up to `timeoutMs` (the STOP mails of a shutdown), then
   * aborts the one in flight, drops the rest (counted in `dropped`) and logs how many were
   * not sent. Later alerts are dropped. Resolves when no connection is left; never rejects.
   */
  async close(timeoutMs: number): Promise<void> {
    this.closed = true;
    let timer: NodeJS.Timeout | undefined;
    if (this.pump) {
      const timedOut = new Promise<void>((resolve) => { timer = setTimeout(resolve, Math.max(0, timeoutMs)); });
      await Promise.race([this.pump, timedOut]);
      clearTimeout(timer);
    }
    const left = this.queued();
    if (left > 0) {
      this.counts.dropped += left;
      this.waiting.length = 0;
      if (this.inFlight) {
        this.inFlight.abandoned = true;
        this.inFlight.abort.abort();
      }
      this.log.warn({ server: this.server, notSent: left, timeoutMs }, `mail alerts: ${left} not sent at shutdown (gave up after ${timeoutMs} ms)`);
      await this.pump;
    }
    this.transports?.tls.close();
    this.transports?.plain.close();
  }

  private queued(): number {
    return this.waiting.length + (this.inFlight ? 1 : 0);
  }

  /** Sends the waiting mails one after the other; ends when the queue is empty. */
  private async run(): Promise<void> {
    try {
      for (let mail = this.waiting.shift(); mail; mail = this.waiting.shift()) {
        const abort = new AbortController();
        const cap = this.timeoutMs * (7 + this.to.length);
        const timer = setTimeout(() => abort.abort(new Error(`no answer within ${cap} ms`)), cap);
        const flight = { abort, abandoned: false };
        this.inFlight = flight;
        try {
          await this.send(mail, abort.signal);
          this.counts.sent++;
          this.log.debug({ server: this.server, subject: mail.subject }, 'mail alert sent');
        } catch (err) {
          if (!flight.abandoned) this.fail(mail, err);
        } finally {
          clearTimeout(timer);
          this.inFlight = null;
        }
      }
    } finally {
      this.pump = null;
    }
  }

  /** One mail through STARTTLS-if-offered, again in plain text when the TLS handshake fails. */
  private async send(mail: Mail, signal: AbortSignal): Promise<void> {
    const t = await this.transport();
    const msg = {
      from: this.from,
      to: this.to,
      subject: mail.subject,
      text: `${mail.body}\r\n`,
      date: mail.date,
      xMailer: 'vipd',
      signal,
    };
    try {
      await t.tls.sendMail(msg);
    } catch (err) {
      if (!tlsFailed(err) || signal.aborted) throw err;
      this.log.info({ server: this.server, err: errText(err) }, 'mail alert: STARTTLS failed, sending again without TLS as keepalived does');
      await t.plain.sendMail(msg);
    }
  }

  private async transport(): Promise<{ tls: Transporter; plain: Transporter }> {
    if (this.transports) return this.transports;
    const { createTransport } = await import('nodemailer'); // loaded only when a mail goes out
    const s = this.smtp ?? { host: 'localhost', port: 25 }; // only called when enabled
    const base = {
      host: s.host,
      port: s.port,
      secure: false,
      name: this.helo,
      connectionTimeout: this.timeoutMs,
      greetingTimeout: this.timeoutMs,
      socketTimeout: this.timeoutMs,
      dnsTimeout: this.timeoutMs,
      socketCloseTimeout: 0,
      logger: false,
    };
    this.transports ??= {
      tls: createTransport({ ...base, opportunisticTLS: true, tls: { rejectUnauthorized: false } }),
      plain: createTransport({ ...base, ignoreTLS: true }),
    };
    return this.transports;
  }

  private fail(mail: Mail, err: unknown): void {
    this.counts.failed++;
    const suppressed = this.failLog.pass();
    if (suppressed === null) return;
    const code = (err as { code?: unknown }).code;
    this.log.warn(
      { server: this.server, err: errText(err), code: typeof code === 'string' ? code : undefined, subject: mail.subject, failed: this.counts.failed, suppressed },
      `mail alert to ${this.server} failed: ${errText(err)}` + (suppressed ? ` (${suppressed} more failures not logged in the last minute)` : ''),
    );
  }

  private drop(mail: Mail, why: string): void {
    this.counts.dropped++;
    const suppressed = this.dropLog.pass();
    if (suppressed === null) return;
    this.log.warn(
      { server: this.server, subject: mail.subject, dropped: this.counts.dropped, suppressed },
      `mail alert dropped: ${why}` + (suppressed ? ` (${suppressed} more drops not logged in the last minute)` : ''),
    );
  }
}

/**
 * Whether nodemailer failed in STARTTLS: the server refused it (ETLS), the handshake failed
 * (an OpenSSL error, kept as originalCode ERR_SSL_*), or the handshake timed out.
 */
function tlsFailed(err: unknown): boolean {
  const e = err as { code?: unknown; originalCode?: unknown; timeoutType?: unknown };
  return e.code === 'ETLS' || (typeof e.originalCode === 'string' && e.originalCode.startsWith('ERR_SSL')) || e.timeoutType === 'UPGRADE_TIMEOUT';
}

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
