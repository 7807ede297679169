/**
 * The instance lock: at most one vipd per key in a network namespace, held by the kernel.
 *
 * The lock is a listening Unix socket bound to the abstract name `@vipd:lock:KEY` (Linux's
 * abstract namespace: no file). Binding is atomic (the second bind gets EADDRINUSE), the name
 * belongs to the network namespace, which is exactly the scope of the addresses vipd manages,
 * and it goes away with the process however it ends (kill -9 included): never a stale lock to
 * clean. Node opens it close-on-exec, so scripts and the crash guardian do not inherit it.
 *
 * The key vipd uses is its control socket path (src/cli/vipd-daemon.ts): the default path
 * already names the namespace and the configuration id, and a second daemon with the same
 * path could only steal the first one's socket. Two daemons with different keys that manage
 * one address are found another way: `lockHolders()` lists every vipd lock of the namespace
 * (from /proc/net/unix, which shows the current namespace's sockets) and asks each holder.
 *
 * The holder answers a connection with one JSON line (`LockInfo`: its pid, configuration,
 * control socket and addresses) and closes it: that is how a refused start names the pid.
 * Any process of the namespace can connect (abstract names have no file permissions) and
 * could bind the name first; the answer is information for the message, never trusted for a
 * decision other than refusing to start.
 *
 * keepalived 2.2.7 has no such lock: it refuses a second start only when its pid file names
 * a live process (and then exits 0).
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { connect, createServer, type Server } from 'node:net';

export const LOCK_PREFIX = 'vipd:lock:';
/** sun_path holds 108 bytes, the first of them the NUL that makes a name abstract. */
const MAX_NAME = 107;

/** What a lock holder says about itself. */
export interface LockInfo {
  pid: number;
  /** Its configuration file. */
  config: string;
  controlSocket: string;
  /** The addresses it manages (VIPs and excluded VIPs), canonical text. */
  addresses: string[];
  /** The virtual routers it runs, `INTERFACE/IPvF/VRID N` (older holders: absent). */
  routers?: string[];
}

/** The abstract name (without the leading NUL) for `key`; a key too long for sun_path is hashed. */
export function lockName(key: string): string {
  const name = `${LOCK_PREFIX}${key}`;
  if (Buffer.byteLength(name) <= MAX_NAME && !name.endsWith('@')) return name;
  return `${LOCK_PREFIX}#${createHash('sha256').update(key).digest('hex').slice(0, 40)}`;
}

/**
 * The names of listening vipd locks in /proc/net/unix text (this namespace's sockets).
 * Abstract names show with a leading `@`; Node pads them with NULs to the full sun_path,
 * which shows as trailing `@`s. Listening sockets carry the __SO_ACCEPTCON flag (0x10000).
 */
export function parseLockNames(procNetUnix: string): string[] {
  const names = new Set<string>();
  for (const line of procNetUnix.split('\n').slice(1)) {
    // Num: RefCount Protocol Flags Type St Inode Path
    const m = /^\s*\S+:\s+\S+\s+\S+\s+([0-9A-Fa-f]+)\s+\S+\s+\S+\s+\d+\s+(@.*)$/.exec(line);
    if (!m || (parseInt(m[1]!, 16) & 0x10000) === 0 || !m[2]!.startsWith(`@${LOCK_PREFIX}`)) continue;
    names.add(m[2]!.slice(1).replace(/@+$/, ''));
  }
  return [...names];
}

/** Ask the holder of lock `name` who it is; null when it does not answer within `timeoutMs`. */
export function askHolder(name: string, timeoutMs = 1000): Promise<LockInfo | null> {
  return new Promise((resolve) => {
    let buf = '';
    const c = connect(`\0${name}`);
    const done = (v: LockInfo | null): void => {
      clearTimeout(timer);
      c.destroy();
      resolve(v);
    };
    const timer = setTimeout(() => done(null), timeoutMs);
    c.setEncoding('utf8');
    c.on('data', (d: string) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      try {
        const v = JSON.parse(buf.slice(0, nl)) as LockInfo;
        done(typeof v.pid === 'number' && Array.isArray(v.addresses) ? v : null);
      } catch {
        done(null);
      }
    });
    c.on('error', () => done(null));
    c.on('end', () => done(null));
  });
}

/** Every vipd lock held in this network namespace except `own`, with its holder's answer. */
export async function lockHolders(own: string): Promise<{ name: string; info: LockInfo | null }[]> {
  const names = parseLockNames(await readFile('/proc/net/unix', 'utf8')).filter((n) => n !== own);
  return Promise.all(names.map(async (name) => ({ name, info: await askHolder(name) })));
}

/** The result of a try: the lock, or the holder (null when it did not say who it is). */
export type LockAttempt = { ok: true; lock: InstanceLock } | { ok: false; name: string; holder: LockInfo | null };

export class InstanceLock {
  private constructor(
    /** The abstract name, without its leading NUL (shown as `@NAME` by `ss -xl`). */
    readonly name: string,
    private server: Server | null,
  ) {}

  /** True until release(). */
  get held(): boolean {
    return this.server !== null;
  }

  /**
   * Take the lock for `key` now, or report who has it. `info` is what this holder answers
   * (called at each connection: it may change on reload). Throws on errors other than
   * "taken" (EADDRINUSE).
   */
  static async acquire(key: string, info: () => LockInfo): Promise<LockAttempt> {
    const name = lockName(key);
    const server = createServer((s) => {
      s.on('error', () => undefined);
      s.end(`${JSON.stringify(info())}\n`);
    });
    const taken = await new Promise<boolean>((resolve, reject) => {
      server.once('error', (e: NodeJS.ErrnoException) => (e.code === 'EADDRINUSE' ? resolve(true) : reject(e)));
      server.listen(`\0${name}`, () => resolve(false));
    });
    if (taken) return { ok: false, name, holder: await askHolder(name) };
    server.unref(); // the lock never keeps the process alive by itself
    return { ok: true, lock: new InstanceLock(name, server) };
  }

  /** Give the lock up (a process that ends gives it up anyway). */
  async release(): Promise<void> {
    const s = this.server;
    if (!s) return;
    this.server = null;
    await new Promise<void>((r) => s.close(() => r()));
  }
}
