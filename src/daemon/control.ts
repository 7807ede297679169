/**
 * The control socket: a Unix stream socket speaking newline-delimited JSON (api 1), see
 * docs/control-api.md. Requests: status, who-owns, watch, reload, dump, handover, maintenance. It never slows the
 * VRRP path: replies are written asynchronously, request lines are bounded, and a watcher
 * whose unread output exceeds `maxBuffer` is told so and dropped.
 */
import { chmod, chown, mkdir, unlink } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';

export const API = 1;
const MAX_REQUEST = 64 * 1024;

export interface ControlHandlers {
  status(): unknown;
  whoOwns(address: string): unknown | null;
  dump(): unknown;
  reload(): Promise<unknown>;
  /** `{instance?, all?, to?}` as sent (src/daemon/handover.ts checks them). */
  handover(req: { instance?: unknown; all?: unknown; to?: unknown }): Promise<unknown>;
  maintenance(on: boolean, req: { instance?: unknown; all?: unknown }): Promise<unknown>;
}

export interface ControlOptions {
  path: string;
  /** Numeric gid allowed to connect besides root (socket mode 0660). */
  gid?: number;
  /** Bytes of unread watch output after which a watcher is dropped. */
  maxBuffer?: number;
}

export class ControlServer {
  private server: Server | null = null;
  private readonly watchers = new Set<Socket>();
  private readonly clients = new Set<Socket>();
  droppedWatchers = 0;

  constructor(
    private readonly o: ControlOptions,
    private readonly h: ControlHandlers,
  ) {}

  /**
   * Create the socket (mode 0660, owner root and the --control-group gid). The caller holds
   * the instance lock for this path, so a socket file found here is a crashed run's and is
   * replaced; one that answers belongs to a daemon of another network namespace given the
   * same path (file sockets are not per namespace): refused. Errors name the path.
   */
  async listen(): Promise<void> {
    const path = this.o.path;
    const fail = (e: unknown): never => {
      const code = (e as NodeJS.ErrnoException).code;
      const hint = code === 'EACCES' || code === 'EPERM' || code === 'EROFS' ? ': give a path this user may create with --control-socket PATH' : '';
      throw new Error(`cannot open the control socket ${path}: ${code ?? (e as Error).message}${hint}`);
    };
    await mkdir(dirname(path), { recursive: true, mode: 0o755 }).catch(fail);
    if (await answers(path)) throw new Error(`another vipd (in another network namespace?) answers on ${path}; give each daemon its own --control-socket`);
    await unlink(path).catch(() => undefined); // a stale socket from a crashed run
    const server = createServer((s) => this.onClient(s));
    // Created with no permissions for others from the first moment (umask), then 0660.
    const umask = process.umask(0o117);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, resolve);
    })
      .finally(() => process.umask(umask))
      .catch(fail);
    this.server = server;
    await chmod(path, 0o660).catch(fail);
    if (this.o.gid !== undefined) await chown(path, 0, this.o.gid).catch(fail);
  }

  /** Send an event to every watcher (drops the ones that do not keep up). */
  broadcast(event: unknown): void {
    if (this.watchers.size === 0) return;
    const line = `${JSON.stringify({ api: API, event })}\n`;
    const limit = this.o.maxBuffer ?? 256 * 1024;
    for (const s of this.watchers) {
      if (s.writableLength > limit) {
        this.watchers.delete(s);
        this.droppedWatchers++;
        s.end(`${JSON.stringify({ api: API, ok: false, error: 'dropped: watcher too slow (output buffer full)' })}\n`);
        setTimeout(() => s.destroy(), 1000).unref();
        continue;
      }
      s.write(line);
    }
  }

  private onClient(s: Socket): void {
    this.clients.add(s);
    let buf = '';
    s.setEncoding('utf8');
    s.on('error', () => undefined);
    s.on('close', () => {
      this.watchers.delete(s);
      this.clients.delete(s);
    });
    s.on('data', (chunk: string) => {
      buf += chunk;
      if (buf.length > MAX_REQUEST) {
        s.end(`${JSON.stringify({ api: API, ok: false, error: 'request too long' })}\n`);
        return;
      }
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (line) void this.handle(s, line);
      }
    });
  }

  private async handle(s: Socket, line: string): Promise<void> {
    let req: { id?: unknown; cmd?: unknown; address?: unknown; api?: unknown; instance?: unknown; all?: unknown; to?: unknown; on?: unknown };
    try {
      req = JSON.parse(line) as typeof req;
    } catch {
      return this.reply(s, undefined, { ok: false, error: 'not JSON' });
    }
    const id = req.id;
    if (req.api !== undefined && req.api !== API) return this.reply(s, id, { ok: false, error: `unsupported api ${String(req.api)} (this daemon speaks ${API})` });
    try {
      switch (req.cmd) {
        case 'status':
          return this.reply(s, id, { ok: true, result: this.h.status() });
        case 'dump':
          return this.reply(s, id, { ok: true, result: this.h.dump() });
        case 'who-owns': {
          const r = typeof req.address === 'string' ? this.h.whoOwns(req.address) : null;
          return this.reply(s, id, r === null ? { ok: false, error: 'bad address' } : { ok: true, result: r });
        }
        case 'reload':
          return this.reply(s, id, { ok: true, result: await this.h.reload() });
        case 'handover':
          return this.reply(s, id, { ok: true, result: await this.h.handover(req) });
        case 'maintenance':
          if (typeof req.on !== 'boolean') return this.reply(s, id, { ok: false, error: 'maintenance needs "on": true or false' });
          return this.reply(s, id, { ok: true, result: await this.h.maintenance(req.on, req) });
        case 'watch':
          this.watchers.add(s);
          return this.reply(s, id, { ok: true, result: { watching: true } });
        default:
          return this.reply(s, id, { ok: false, error: `unknown command ${JSON.stringify(req.cmd)}` });
      }
    } catch (e) {
      // a reload that did not happen says whether it was refused or rolled back, and what it was doing
      const { kind, result } = e as { kind?: unknown; result?: unknown };
      return this.reply(s, id, { ok: false, error: (e as Error).message, ...(kind !== undefined ? { kind } : {}), ...(result !== undefined ? { result } : {}) });
    }
  }

  private reply(s: Socket, id: unknown, body: Record<string, unknown>): void {
    if (!s.writable) return;
    s.write(`${JSON.stringify({ api: API, ...(id !== undefined ? { id } : {}), ...body })}\n`);
  }

  /** Close the socket and remove its file; nothing when listen() did not get that far (the file may be another daemon's). */
  async close(): Promise<void> {
    for (const c of this.clients) c.destroy();
    const server = this.server;
    if (!server) return;
    this.server = null;
    await new Promise<void>((r) => server.close(() => r()));
    await unlink(this.o.path).catch(() => undefined);
  }
}

/** Does something accept connections on this Unix socket path? */
function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = connect(path);
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
}
