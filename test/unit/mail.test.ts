/**
 * Mail alerts (issue 19) through a real SMTP server (smtp-server on 127.0.0.1, random port):
 * keepalived 2.2.7's subjects, bodies and headers, its sending rules, and how vipd fails.
 * Configurations go through the keepalived.conf parser, as the daemon reads them.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Logger } from 'pino';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import { loadKeepalivedConfig } from '../../src/config/keepalived.js';
import type { DaemonConfig } from '../../src/config/model.js';
import { Mailer, rfc822Date, type MailState } from '../../src/daemon/notify/mail.js';

interface Received {
  helo: string;
  secure: boolean;
  mailFrom: string;
  rcptTo: string[];
  headers: Record<string, string>;
  body: string;
}

interface Smtp {
  port: number;
  mails: Received[];
  close(): Promise<void>;
}

async function smtpServer(extra: Partial<SMTPServerOptions> = {}): Promise<Smtp> {
  const mails: Received[] = [];
  const server = new SMTPServer({
    authOptional: true,
    logger: false,
    disableReverseLookup: true,
    ...extra,
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        const cut = raw.indexOf('\r\n\r\n');
        const headers: Record<string, string> = {};
        for (const line of raw.slice(0, cut).replace(/\r\n[ \t]+/g, ' ').split('\r\n')) {
          const i = line.indexOf(':');
          headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
        }
        const env = session.envelope;
        mails.push({
          helo: session.hostNameAppearsAs,
          secure: session.secure,
          mailFrom: env.mailFrom ? env.mailFrom.address : '',
          rcptTo: env.rcptTo.map((r) => r.address),
          headers,
          body: raw.slice(cut + 4),
        });
        cb();
      });
    },
  });
  server.on('error', () => undefined); // a client's failed TLS handshake is reported here
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.server.address() as AddressInfo).port;
  return { port, mails, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

async function config(global: string, blocks = ''): Promise<DaemonConfig> {
  const text = `global_defs {\n${global}\n}\n${blocks}\nvrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id 51\n  priority 100\n  virtual_ipaddress { 192.0.2.100 }\n}\n`;
  return loadKeepalivedConfig('/etc/keepalived/keepalived.conf', { read: async () => text, glob: async (p) => [p], resolve: (_f, p) => p });
}

function fakeLog(): { log: Logger; lines: { level: string; o: Record<string, unknown>; msg: string }[] } {
  const lines: { level: string; o: Record<string, unknown>; msg: string }[] = [];
  const at = (level: string) => (o: Record<string, unknown>, msg: string) => lines.push({ level, o, msg });
  return { log: { warn: at('warn'), info: at('info'), debug: at('debug'), error: at('error') } as unknown as Logger, lines };
}

async function until(what: string, cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A port nothing listens on: bound, then closed. */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

const mailers: Mailer[] = [];
const servers: Smtp[] = [];
afterEach(async () => {
  await Promise.all(mailers.splice(0).map((m) => m.close(0)));
});
afterAll(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function mailer(c: DaemonConfig, opts?: ConstructorParameters<typeof Mailer>[2]): Promise<{ m: Mailer; lines: ReturnType<typeof fakeLog>['lines'] }> {
  const { log, lines } = fakeLog();
  const m = new Mailer(c, log, opts);
  mailers.push(m);
  return { m, lines };
}

const STATES: MailState[] = ['MASTER', 'BACKUP', 'FAULT', 'STOP', 'DELETED'];
const DATE = /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d [+-]\d{4}$/;

describe('Mailer: keepalived 2.2.7 mail content through a real SMTP server', () => {
  let tlsServer: Smtp;
  let plainServer: Smtp;
  beforeAll(async () => {
    tlsServer = await smtpServer(); // offers STARTTLS with smtp-server's self-signed certificate
    plainServer = await smtpServer({ hideSTARTTLS: true });
    servers.push(tlsServer, plainServer);
  });
  beforeEach(() => {
    tlsServer.mails.length = 0;
    plainServer.mails.length = 0;
  });

  it('instance: every state, subject and body line as keepalived, headers, envelope, HELO; STARTTLS when offered', async () => {
    const c = await config(`  router_id R1\n  notification_email {\n    ops@example.com\n    noc@example.org\n  }\n  notification_email_from vipd@example.net\n  smtp_server 127.0.0.1 ${tlsServer.port}\n  smtp_helo_name helo.example.net\n  smtp_alert`);
    const { m } = await mailer(c);
    expect(m.enabled).toBe(true);
    for (const s of STATES) m.alert('instance', 'VI_1', s, c.instances[0]!.smtpAlert);
    await until('5 mails', () => tlsServer.mails.length === 5 && m.stats().sent === 5); // the server has it before the client has its reply
    expect(tlsServer.mails.map((x) => [x.headers['subject'], x.body])).toEqual([
      ['[R1] VRRP Instance VI_1 - Entering MASTER state', '=> VRRP Instance is now owning VRRP VIPs <=\r\n'],
      ['[R1] VRRP Instance VI_1 - Entering BACKUP state', '=> VRRP Instance is no longer owning VRRP VIPs <=\r\n'],
      ['[R1] VRRP Instance VI_1 - Entering FAULT state', '=> VRRP Instance is no longer owning VRRP VIPs <=\r\n'],
      ['[R1] VRRP Instance VI_1 - Stopping', '=> VRRP Instance stopping <=\r\n'],
      ['[R1] VRRP Instance VI_1 - Deleted', '=> VRRP Deleted at reload <=\r\n'],
    ]);
    const first = tlsServer.mails[0]!;
    expect(first).toMatchObject({ helo: 'helo.example.net', secure: true, mailFrom: 'vipd@example.net', rcptTo: ['ops@example.com', 'noc@example.org'] });
    expect(first.headers).toMatchObject({ from: 'vipd@example.net', to: 'ops@example.com, noc@example.org', 'x-mailer': 'vipd' });
    expect(first.headers['date']).toMatch(DATE);
    expect(m.stats()).toEqual({ sent: 5, failed: 0, dropped: 0, queued: 0 });
  });

  it('group: every state (no DELETED mail, as keepalived); defaults router_id = host, From = USER@HOST, HELO = host; plain SMTP', async () => {
    const c = await config(`  notification_email {\n    ops@example.com\n  }\n  smtp_server 127.0.0.1 ${plainServer.port}`,
      'vrrp_sync_group G1 {\n  group {\n    VI_1\n  }\n  smtp_alert\n}');
    const { m } = await mailer(c, { hostname: 'lb1.example.net', user: 'keepalived' });
    const g = c.syncGroups[0]!;
    expect(g.smtpAlert).toBe(true);
    for (const s of STATES) m.alert('group', 'G1', s, g.smtpAlert);
    m.alert('instance', 'VI_1', 'MASTER', true); // sentinel: sent after the group's mails
    await until('5 mails', () => plainServer.mails.length === 5 && m.stats().sent === 5);
    expect(plainServer.mails.map((x) => [x.headers['subject'], x.body])).toEqual([
      ['[lb1.example.net] VRRP Group G1 - Entering MASTER state', '=> All VRRP group instances are now in MASTER state <=\r\n'],
      ['[lb1.example.net] VRRP Group G1 - Entering BACKUP state', '=> All VRRP group instances are now in BACKUP state <=\r\n'],
      ['[lb1.example.net] VRRP Group G1 - Entering FAULT state', '=> All VRRP group instances are now in FAULT state <=\r\n'],
      ['[lb1.example.net] VRRP Group G1 - Stopping', '=> All VRRP group instances are now stopping <=\r\n'],
      ['[lb1.example.net] VRRP Instance VI_1 - Entering MASTER state', '=> VRRP Instance is now owning VRRP VIPs <=\r\n'],
    ]);
    expect(plainServer.mails[0]).toMatchObject({ helo: 'lb1.example.net', secure: false, mailFrom: 'keepalived@lb1.example.net', rcptTo: ['ops@example.com'] });
    expect(plainServer.mails[0]!.headers['from']).toBe('keepalived@lb1.example.net');
  });

  it('rules: one mail per state change, no_email_faults (a skipped FAULT is not a mailed state), smtp_alert off, no server', async () => {
    const c = await config(`  router_id R2\n  notification_email {\n    ops@example.com\n  }\n  smtp_server 127.0.0.1 ${plainServer.port}\n  no_email_faults`);
    const { m } = await mailer(c);
    expect(c.instances[0]!.smtpAlert).toBe(false); // no smtp_alert anywhere: keepalived's default
    m.alert('instance', 'VI_1', 'MASTER', c.instances[0]!.smtpAlert);
    m.alert('instance', 'VI_2', 'BACKUP', true);
    m.alert('instance', 'VI_2', 'BACKUP', true); // same state: no second mail
    m.alert('instance', 'VI_2', 'MASTER', true);
    m.alert('instance', 'VI_2', 'FAULT', true); // no_email_faults
    m.alert('instance', 'VI_2', 'MASTER', true); // last mailed was MASTER: keepalived sends nothing
    m.alert('instance', 'VI_2', 'BACKUP', true);
    m.alert('group', 'VI_2', 'BACKUP', true); // a group of the same name is another object
    m.alert('instance', 'VI_2', 'STOP', true);
    await until('5 mails', () => plainServer.mails.length >= 5 && m.stats().sent >= 5);
    await new Promise((r) => setTimeout(r, 100)); // nothing more comes
    expect(plainServer.mails.map((x) => x.headers['subject'])).toEqual([
      '[R2] VRRP Instance VI_2 - Entering BACKUP state',
      '[R2] VRRP Instance VI_2 - Entering MASTER state',
      '[R2] VRRP Instance VI_2 - Entering BACKUP state',
      '[R2] VRRP Group VI_2 - Entering BACKUP state',
      '[R2] VRRP Instance VI_2 - Stopping',
    ]);
    expect(m.stats()).toEqual({ sent: 5, failed: 0, dropped: 0, queued: 0 });

    const none = await config(`  notification_email {\n    ops@example.com\n  }\n  smtp_alert`);
    const { m: off } = await mailer(none);
    expect(off.enabled).toBe(false); // keepalived: no smtp_server, no mail
    off.alert('instance', 'VI_1', 'MASTER', true);
    expect(off.stats()).toEqual({ sent: 0, failed: 0, dropped: 0, queued: 0 });
  });

  it('close() lets a queued STOP mail go out', async () => {
    const c = await config(`  notification_email {\n    ops@example.com\n  }\n  smtp_server 127.0.0.1 ${plainServer.port}`);
    const { m, lines } = await mailer(c, { hostname: 'h' });
    m.alert('instance', 'VI_1', 'STOP', true);
    await m.close(5000);
    expect(plainServer.mails.map((x) => x.headers['subject'])).toEqual(['[h] VRRP Instance VI_1 - Stopping']);
    expect(m.stats()).toEqual({ sent: 1, failed: 0, dropped: 0, queued: 0 });
    expect(lines.filter((l) => l.level === 'warn')).toEqual([]);
  });

  it('a server whose STARTTLS handshake fails still gets the mail, in plain text', async () => {
    const broken = await smtpServer({ maxVersion: 'TLSv1.1', minVersion: 'TLSv1' }); // Node's client wants TLS 1.2+
    servers.push(broken);
    const c = await config(`  notification_email {\n    ops@example.com\n  }\n  smtp_server 127.0.0.1 ${broken.port}`);
    const { m, lines } = await mailer(c, { hostname: 'h' });
    m.alert('instance', 'VI_1', 'MASTER', true);
    await until('the mail', () => broken.mails.length === 1 && m.stats().sent === 1);
    expect(broken.mails[0]).toMatchObject({ secure: false });
    expect(lines.some((l) => l.level === 'info' && /STARTTLS failed/.test(l.msg))).toBe(true);
    expect(m.stats()).toMatchObject({ sent: 1, failed: 0 });
  });
});

describe('Mailer: failures are counted and logged, never block or throw', () => {
  it('unreachable server: alert() returns at once, the failure is counted and logged once a minute', async () => {
    const port = await closedPort();
    const c = await config(`  notification_email {\n    ops@example.com\n  }\n  smtp_server 127.0.0.1 ${port}\n  smtp_connect_timeout 1`);
    const { m, lines } = await mailer(c, { hostname: 'h' });
    const t0 = performance.now();
    m.alert('instance', 'VI_1', 'MASTER', true);
    const dt = performance.now() - t0;
    expect(dt).toBeLessThan(5);
    await until('the failure', () => m.stats().failed === 1);
    m.alert('instance', 'VI_1', 'BACKUP', true);
    await until('the second failure', () => m.stats().failed === 2);
    expect(m.stats()).toEqual({ sent: 0, failed: 2, dropped: 0, queued: 0 });
    const warns = lines.filter((l) => l.level === 'warn');
    expect(warns).toHaveLength(1); // the second is counted, not logged (rate limit)
    expect(warns[0]!.msg).toContain(`127.0.0.1:${port}`);
    expect(warns[0]!.o).toMatchObject({ server: `127.0.0.1:${port}`, subject: '[h] VRRP Instance VI_1 - Entering MASTER state' });
    expect(String(warns[0]!.o['err']) + String(warns[0]!.o['code'])).toMatch(/ECONNREFUSED/);
  });

  describe('a server that accepts and never greets', () => {
    let stall: Server;
    let port: number;
    const socks: Socket[] = [];
    beforeAll(async () => {
      stall = createServer((s) => { socks.push(s); s.on('error', () => undefined); });
      await new Promise<void>((resolve) => stall.listen(0, '127.0.0.1', resolve));
      port = (stall.address() as AddressInfo).port;
    });
    afterAll(async () => {
      for (const s of socks) s.destroy();
      await new Promise<void>((resolve) => stall.close(() => resolve()));
    });

    it('gives up after smtp_connect_timeout (1 s), counted and logged', async () => {
      const c = await config(`  notification_email {\n    ops@example.com\n  }\n  smtp_server 127.0.0.1 ${port}\n  smtp_connect_timeout 1`);
      const { m, lines } = await mailer(c, { hostname: 'h' });
      const t0 = Date.now();
      m.alert('instance', 'VI_1', 'MASTER', true);
      expect(m.stats().queued).toBe(1);
      await until('the failure', () => m.stats().failed === 1, 4000);
      const took = Date.now() - t0;
      expect(took).toBeGreaterThanOrEqual(900);
      expect(took).toBeLessThan(3000);
      expect(lines.filter((l) => l.level === 'warn').map((l) => l.o['server'])).toEqual([`127.0.0.1:${port}`]);
    });

    it('bounded queue: beyond 100 mails they are dropped and counted; close() gives up on the rest and says how many', async () => {
      const c = await config(`  notification_email {\n    ops@example.com\n  }\n  smtp_server 127.0.0.1 ${port}\n  smtp_connect_timeout 1`);
      const { m, lines } = await mailer(c, { hostname: 'h' });
      for (let i = 0; i < 105; i++) m.alert('instance', `VI_${i}`, 'MASTER', true);
      expect(m.stats()).toEqual({ sent: 0, failed: 0, dropped: 5, queued: 100 });
      const drops = lines.filter((l) => /dropped/.test(l.msg));
      expect(drops).toHaveLength(1); // once a minute, with the count
      expect(drops[0]!.msg).toContain('100 mails are already waiting');
      await new Promise((r) => setTimeout(r, 50)); // the first one is on the wire
      const t0 = Date.now();
      await m.close(200);
      expect(Date.now() - t0).toBeLessThan(1000);
      expect(m.stats()).toEqual({ sent: 0, failed: 0, dropped: 105, queued: 0 });
      expect(lines.some((l) => l.level === 'warn' && l.o['notSent'] === 100 && /100 not sent at shutdown/.test(l.msg))).toBe(true);
      m.alert('instance', 'VI_200', 'MASTER', true); // after close: dropped
      expect(m.stats().dropped).toBe(106);
    });
  });
});

describe('rfc822Date', () => {
  it('writes local time with its offset, as keepalived\'s strftime', () => {
    const d = new Date(2021, 2, 1, 9, 44, 8);
    const off = -d.getTimezoneOffset();
    const z = `${off < 0 ? '-' : '+'}${String(Math.floor(Math.abs(off) / 60)).padStart(2, '0')}${String(Math.abs(off) % 60).padStart(2, '0')}`;
    expect(rfc822Date(d)).toBe(`Mon, 01 Mar 2021 09:44:08 ${z}`);
  });
});
