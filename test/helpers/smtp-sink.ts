/**
 * A test SMTP server (the `smtp-server` package: no auth, no TLS) run inside a lab namespace:
 * `lab.spawn(ns, [process.execPath, '--import', 'tsx', SMTP_SINK, HOST, PORT])`. It prints
 * `{"ready":true}` once listening, then one JSON line per mail received (see {@link SinkMail});
 * it stops on SIGTERM or when its stdin ends. Used by the namespace tests only.
 *
 * Host side: {@link SmtpSink.start} spawns it and collects the mails.
 */
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { NetnsLab } from '../../src/lab/netns.js';

/** One mail as the server got it. */
export interface SinkMail {
  /** Milliseconds since the epoch when the DATA ended. */
  at: number;
  /** The client's HELO/EHLO name and address. */
  helo: string;
  remote: string;
  mailFrom: string;
  rcptTo: string[];
  /** The header lines (unfolded), names as sent. */
  headers: [string, string][];
  /** Everything after the blank line, CRLFs kept. */
  body: string;
}

/** The value of the first header `name` (case-insensitive), or undefined. */
export function header(m: SinkMail, name: string): string | undefined {
  return m.headers.find(([k]) => k.toLowerCase() === name.toLowerCase())?.[1];
}

/** Host side: the sink running in a namespace and the mails it has received. */
export class SmtpSink {
  readonly mails: SinkMail[] = [];
  stderr = '';

  private constructor(private readonly proc: ChildProcess) {
    proc.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString()));
  }

  /** Start the sink in `node`'s namespace, listening on host:port; resolves once it listens. */
  static async start(lab: NetnsLab, node: string, host: string, port: number): Promise<SmtpSink> {
    const file = fileURLToPath(import.meta.url);
    const s = new SmtpSink(lab.spawn(lab.node(node).ns, [process.execPath, '--import', 'tsx', file, host, String(port)]));
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`smtp sink in ${node} did not start: ${s.stderr}`)), 15_000);
      createInterface({ input: s.proc.stdout! }).on('line', (l) => {
        const m = JSON.parse(l) as SinkMail & { ready?: boolean };
        if (m.ready) {
          clearTimeout(t);
          resolve();
        } else s.mails.push(m);
      });
      s.proc.once('exit', (code) => reject(new Error(`smtp sink exited (${code}): ${s.stderr}`)));
    });
    return s;
  }

  /** Wait for a mail matching `pred`; rejects after `timeoutMs` with the mails seen. */
  async waitFor(pred: (m: SinkMail) => boolean, timeoutMs: number, what: string): Promise<SinkMail> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.mails.find(pred);
      if (hit) return hit;
      if (Date.now() > end) throw new Error(`smtp sink: no ${what} after ${timeoutMs} ms; got ${JSON.stringify(this.mails, null, 1)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** SIGTERM by pid and wait (3 s) for the exit. */
  async stop(): Promise<void> {
    const p = this.proc;
    if (!p.pid || p.exitCode !== null || p.signalCode !== null) return;
    const done = new Promise((r) => p.once('exit', r));
    process.kill(p.pid, 'SIGTERM');
    await Promise.race([done, new Promise((r) => setTimeout(r, 3000))]);
  }
}

/** Split a received message into unfolded headers and body. */
function parse(raw: string): { headers: [string, string][]; body: string } {
  const cut = raw.indexOf('\r\n\r\n');
  const head = cut < 0 ? raw : raw.slice(0, cut);
  const body = cut < 0 ? '' : raw.slice(cut + 4);
  const headers: [string, string][] = [];
  for (const line of head.split('\r\n')) {
    if (/^[ \t]/.test(line) && headers.length) headers[headers.length - 1]![1] += ` ${line.trim()}`;
    else if (line.includes(':')) headers.push([line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 1).trim()]);
  }
  return { headers, body };
}

async function main(host: string, port: number): Promise<void> {
  const { SMTPServer } = await import('smtp-server');
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['AUTH', 'STARTTLS'],
    disableReverseLookup: true,
    logger: false,
    onData(stream, session, done) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const env = session.envelope;
        const mail: SinkMail = {
          at: Date.now(),
          helo: session.hostNameAppearsAs,
          remote: session.remoteAddress,
          mailFrom: env.mailFrom ? env.mailFrom.address : '',
          rcptTo: env.rcptTo.map((r) => r.address),
          ...parse(Buffer.concat(chunks).toString('utf8')),
        };
        process.stdout.write(`${JSON.stringify(mail)}\n`);
        done();
      });
    },
  });
  const stop = (): void => server.close(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.stdin.on('end', stop).resume();
  server.on('error', (e: Error) => process.stderr.write(`smtp sink: ${e.message}\n`));
  server.listen(port, host, () => process.stdout.write('{"ready":true}\n'));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [host, port] = process.argv.slice(2);
  if (!host || !port) {
    process.stderr.write('usage: smtp-sink.ts HOST PORT\n');
    process.exit(2);
  }
  void main(host, Number(port));
}
