/**
 * The kernel's process-event connector (NETLINK_CONNECTOR, multicast group CN_IDX_PROC;
 * linux/connector.h, linux/cn_proc.h) on the native fd layer, and the /proc reads that process
 * tracking needs. keepalived 2.2.7 does the same in core/track_process.c (nl_connect,
 * set_proc_ev_listen, handle_proc_ev, read_procs, check_process).
 *
 * The connector answers only in the initial network namespace: a socket made elsewhere binds,
 * but its PROC_CN_MCAST_LISTEN fails with ECONNREFUSED and it never sees an event. A socket
 * made in the initial namespace keeps working after its process moved to another one, which is
 * why keepalived opens it before setns (core/main.c, `net_namespace`) and why vipd opens it
 * before it re-executes itself under nsenter and hands it to the daemon
 * (src/cli/daemonize.ts: fd + PROC_CONNECTOR_FD_ENV).
 *
 * Byte layouts (little-endian, as on x86_64 and aarch64): nlmsghdr (16 bytes), then cn_msg
 * (idx, val, seq, ack: u32; len, flags: u16 = 20 bytes), then proc_event (what, cpu: u32;
 * timestamp_ns: u64; event_data), so event_data starts at byte 52 of the message.
 */
import { close as fsClose, open as fsOpen, read as fsRead, readdir } from 'node:fs';
import { AF_NETLINK, SO_RCVBUF, SO_RCVBUFFORCE, SOCK_DGRAM, SOL_SOCKET, sockaddrNl } from './linux.js';
import { native, type NativeError, type Watcher } from './native.js';

export const NETLINK_CONNECTOR = 11;
export const CN_IDX_PROC = 1;
export const CN_VAL_PROC = 1;
const PROC_CN_MCAST_LISTEN = 1;
const PROC_CN_MCAST_IGNORE = 2;
const NLMSG_NOOP = 1;
const NLMSG_ERROR = 2;
const NLMSG_DONE = 3;
const SO_PROTOCOL = 38;
const SO_DOMAIN = 39;
const EV_NONE = 0;
const EV_FORK = 0x1;
const EV_EXEC = 0x2;
const EV_COMM = 0x200;
const EV_EXIT = 0x80000000;
/** Offsets in a message: cn_msg after the nlmsghdr, proc_event after the cn_msg, event_data in it. */
const CN = 16;
const EV = CN + 20;
const DATA = EV + 16;
/** Start receive queue, bytes (the kernel doubles it): about 8000 queued events. */
const RCVBUF = 4 << 20;
/** What growRcvbuf() asks for at most after losses (the kernel doubles it; keepalived has no limit). */
const RCVBUF_MAX = 32 << 20;

/** The fd number of a connector socket a parent vipd opened and passed (daemonize.ts). */
export const PROC_CONNECTOR_FD_ENV = 'VIPD_PROC_CONNECTOR_FD';
/** Why the parent vipd could not open the connector (then it passes no fd). */
export const PROC_CONNECTOR_ERROR_ENV = 'VIPD_PROC_CONNECTOR_ERROR';

interface EventBase {
  /** The CPU that sent it (sequence numbers are per CPU); 0xffffffff on acks of older kernels. */
  cpu: number;
  seq: number;
}
/** One proc_event; pids are the initial pid namespace's (tid `pid`, process `tgid`). */
export type ProcEvent = EventBase &
  (
    | { what: 'ack'; err: number }
    | { what: 'fork'; parentPid: number; parentTgid: number; childPid: number; childTgid: number }
    | { what: 'exec'; pid: number; tgid: number }
    | { what: 'comm'; pid: number; tgid: number; comm: string }
    | { what: 'exit'; pid: number; tgid: number; exitCode: number; exitSignal: number }
    | { what: 'other'; code: number }
  );

/**
 * The proc_events of one datagram (the kernel sends one per datagram; several are walked all
 * the same), each given to `out`. Returns how many messages were malformed or not the
 * connector's (short, bad length, another cn id, an ack flag that does not fit): ignored.
 * keepalived's checks, handle_proc_ev. Comm bytes are kept as latin1 (one char per byte).
 */
export function parseProcDatagram(d: Buffer, out: (e: ProcEvent) => void): number {
  let bad = 0;
  for (let off = 0; off + 16 <= d.length; ) {
    const len = d.readUInt32LE(off);
    const type = d.readUInt16LE(off + 4);
    if (len < 16 || off + len > d.length) return bad + 1;
    const m = d.subarray(off, off + len);
    off += (len + 3) & ~3;
    if (type === NLMSG_NOOP || type === NLMSG_ERROR) continue;
    if (len < DATA || m.readUInt32LE(CN) !== CN_IDX_PROC || m.readUInt32LE(CN + 4) !== CN_VAL_PROC || EV + m.readUInt16LE(CN + 16) > len) {
      bad++;
      continue;
    }
    const seq = m.readUInt32LE(CN + 8);
    const ack = m.readUInt32LE(CN + 12);
    const what = m.readUInt32LE(EV);
    const cpu = m.readUInt32LE(EV + 4);
    const need = what === EV_FORK ? 16 : what === EV_COMM ? 24 : what === EV_EXIT ? 16 : what === EV_EXEC ? 8 : 4;
    if ((what === EV_NONE) !== (ack !== 0) || DATA + need > len) {
      bad++;
      continue;
    }
    const i32 = (k: number): number => m.readInt32LE(DATA + k);
    if (what === EV_NONE) out({ what: 'ack', cpu, seq, err: m.readUInt32LE(DATA) });
    else if (what === EV_FORK) out({ what: 'fork', cpu, seq, parentPid: i32(0), parentTgid: i32(4), childPid: i32(8), childTgid: i32(12) });
    else if (what === EV_EXEC) out({ what: 'exec', cpu, seq, pid: i32(0), tgid: i32(4) });
    else if (what === EV_COMM) {
      const c = m.subarray(DATA + 8, DATA + 24);
      const nul = c.indexOf(0);
      out({ what: 'comm', cpu, seq, pid: i32(0), tgid: i32(4), comm: c.toString('latin1', 0, nul < 0 ? 16 : nul) });
    } else if (what === EV_EXIT) out({ what: 'exit', cpu, seq, pid: i32(0), tgid: i32(4), exitCode: m.readUInt32LE(DATA + 8), exitSignal: m.readUInt32LE(DATA + 12) });
    else out({ what: 'other', cpu, seq, code: what });
  }
  return bad;
}

/** The PROC_CN_MCAST_LISTEN / IGNORE request: nlmsghdr (NLMSG_DONE) + cn_msg + the op (40 bytes). */
export function mcastRequest(op: 'listen' | 'ignore'): Buffer {
  const b = Buffer.alloc(40);
  b.writeUInt32LE(40, 0);
  b.writeUInt16LE(NLMSG_DONE, 4);
  b.writeUInt32LE(CN_IDX_PROC, CN);
  b.writeUInt32LE(CN_VAL_PROC, CN + 4);
  b.writeUInt16LE(4, CN + 16);
  b.writeUInt32LE(op === 'listen' ? PROC_CN_MCAST_LISTEN : PROC_CN_MCAST_IGNORE, EV);
  return b;
}

/**
 * A subscribed connector socket in this process's network namespace: socket, receive queue
 * (SO_RCVBUFFORCE, else SO_RCVBUF up to rmem_max), bind to CN_IDX_PROC, PROC_CN_MCAST_LISTEN.
 * Throws the NativeError of the step that failed (ECONNREFUSED outside the initial namespace).
 */
export function openConnectorFd(): number {
  const n = native();
  const fd = n.socket(AF_NETLINK, SOCK_DGRAM, NETLINK_CONNECTOR);
  try {
    try {
      n.setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, RCVBUF);
    } catch {
      n.setsockopt(fd, SOL_SOCKET, SO_RCVBUF, RCVBUF);
    }
    n.bind(fd, sockaddrNl(CN_IDX_PROC));
    n.sendto(fd, mcastRequest('listen'), sockaddrNl());
    return fd;
  } catch (e) {
    n.close(fd);
    throw e;
  }
}

/** What to tell an operator about a failed openConnectorFd (one line, with what to do). */
export function connectorErrorText(e: unknown): string {
  const err = e as Partial<NativeError>;
  switch (err.code) {
    case 'ECONNREFUSED':
      return 'vrrp_track_process needs the kernel\'s process connector, which answers only in the initial network namespace, and vipd runs in another one (started with `ip netns exec`?): start vipd from the initial namespace with --namespace NAME (keepalived: -s NAME) or net_namespace NAME in the configuration; vipd then opens the connector before it enters the namespace, as keepalived does';
    case 'EPROTONOSUPPORT':
      return 'vrrp_track_process needs the kernel\'s process connector (CONFIG_CONNECTOR and CONFIG_PROC_EVENTS), which this kernel lacks: track the process with a vrrp_script (e.g. pidof) instead';
    case 'EPERM':
    case 'EACCES':
      return `vrrp_track_process: listening to the kernel's process events needs root (CAP_NET_ADMIN): ${err.syscall ?? 'socket'} failed with ${err.code}`;
    default:
      return `vrrp_track_process: cannot open the kernel's process connector: ${err.message ?? String(e)}`;
  }
}

/** A connector fd handed down by the parent vipd, or its reason, or a probe kept by procConnectorProblem. */
let inherited: { fd: number } | { error: string } | null | undefined;
let spare: number | null = null;

/** Read (once) and remove from the environment what the parent vipd passed; scripts never see it. */
function inheritedConnector(): { fd: number } | { error: string } | null {
  if (inherited !== undefined) return inherited;
  const v = process.env[PROC_CONNECTOR_FD_ENV];
  const why = process.env[PROC_CONNECTOR_ERROR_ENV];
  delete process.env[PROC_CONNECTOR_FD_ENV];
  delete process.env[PROC_CONNECTOR_ERROR_ENV];
  inherited = null;
  if (v !== undefined) {
    const fd = Number(v);
    inherited = Number.isInteger(fd) && fd > 2 && isConnectorSocket(fd) ? { fd } : { error: `${PROC_CONNECTOR_FD_ENV}=${v} is not a process connector socket of this process` };
  } else if (why) inherited = { error: `the vipd that entered the namespace could not open the kernel's process connector: ${why}` };
  return inherited;
}

function isConnectorSocket(fd: number): boolean {
  try {
    const n = native();
    return n.getsockopt(fd, SOL_SOCKET, SO_DOMAIN, 4).readInt32LE(0) === AF_NETLINK && n.getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, 4).readInt32LE(0) === NETLINK_CONNECTOR;
  } catch {
    return false;
  }
}

/**
 * Why vrrp_track_process cannot work in this process (one line saying what to do), or null.
 * Null when the parent passed a connector socket, or when one can be opened and subscribed
 * here (the initial namespace); that socket is kept for `acquireProcConnector`. keepalived
 * 2.2.7 only logs (and tracks nothing); the daemon refuses to start on this reason.
 */
export async function procConnectorProblem(): Promise<string | null> {
  const inh = inheritedConnector();
  if (inh) return 'error' in inh ? inh.error : null;
  if (spare !== null) return null;
  try {
    spare = openConnectorFd();
    return null;
  } catch (e) {
    return connectorErrorText(e);
  }
}

export interface ConnectorCounters {
  datagrams: number;
  events: number;
  /** Messages not from the kernel, malformed, or not the process connector's: dropped. */
  dropped: number;
  /** Receive errors (ENOBUFS: the kernel dropped events for a full queue). */
  overruns: number;
  /** Events missing from the per-CPU sequence numbers. */
  missed: number;
}

/** What process tracking needs from an event source (a ProcConnector, or a fake in tests). */
export interface ProcEventSource {
  /** Start delivering: every event, and every loss (`why`: what was lost, for the log). */
  start(onEvent: (e: ProcEvent) => void, onLost: (why: string) => void): void;
  /** Double the receive queue after a loss (up to 64 MiB as the kernel counts it); the new size in bytes, or null. */
  growRcvbuf(): number | null;
  /** True when it came from the parent vipd (it could not be opened again here). */
  readonly inherited: boolean;
  readonly counters: ConnectorCounters;
  close(): void;
}

/** A subscribed connector socket, read on the libuv loop by a native Watcher (no thread, no polling). */
export class ProcConnector implements ProcEventSource {
  readonly counters: ConnectorCounters = { datagrams: 0, events: 0, dropped: 0, overruns: 0, missed: 0 };
  private watcher: Watcher | null = null;
  private closed = false;
  /** Last sequence number per CPU (missing: none yet). */
  private readonly seqs = new Map<number, number>();

  constructor(
    readonly fd: number,
    readonly inherited: boolean,
  ) {}

  start(onEvent: (e: ProcEvent) => void, onLost: (why: string) => void): void {
    if (this.watcher || this.closed) return;
    const each = (e: ProcEvent): void => {
      this.counters.events++;
      if (e.cpu !== 0xffffffff) {
        const last = this.seqs.get(e.cpu);
        this.seqs.set(e.cpu, e.seq);
        const gap = last === undefined ? 0 : (e.seq - last - 1) >>> 0;
        // a gap of more than 2^31 is a sequence restarted (or an old kernel's ack), not a loss
        if (gap > 0 && gap < 0x80000000) {
          this.counters.missed += gap;
          onLost(`${gap} process event${gap === 1 ? '' : 's'} missed on CPU ${e.cpu}`);
        }
      }
      onEvent(e);
    };
    this.watcher = new (native().Watcher)(
      this.fd, 1024,
      (d, from) => {
        this.counters.datagrams++;
        // only the kernel (port 0) speaks for the connector (keepalived checks the same)
        if (from.length < 12 || from.readUInt32LE(4) !== 0) this.counters.dropped++;
        else this.counters.dropped += parseProcDatagram(d, each);
      },
      (err) => {
        this.counters.overruns++;
        onLost(err.code === 'ENOBUFS' ? 'the kernel dropped process events (receive queue full, ENOBUFS)' : `process connector receive error ${err.code}`);
      },
    );
  }

  growRcvbuf(): number | null {
    const n = native();
    try {
      const now = n.getsockopt(this.fd, SOL_SOCKET, SO_RCVBUF, 4).readInt32LE(0); // the kernel's doubled figure
      const want = Math.min(now, RCVBUF_MAX);
      try {
        n.setsockopt(this.fd, SOL_SOCKET, SO_RCVBUFFORCE, want);
      } catch {
        n.setsockopt(this.fd, SOL_SOCKET, SO_RCVBUF, want);
      }
      return n.getsockopt(this.fd, SOL_SOCKET, SO_RCVBUF, 4).readInt32LE(0);
    } catch {
      return null;
    }
  }

  /** Unsubscribe (best effort) and close. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.watcher?.stop();
    const n = native();
    try {
      n.sendto(this.fd, mcastRequest('ignore'), sockaddrNl());
    } catch {
      // already unusable: closing is all that is left
    }
    n.close(this.fd);
  }
}

/**
 * The connector for this process: the socket the parent passed, else the one
 * procConnectorProblem opened, else a new one. Throws Error(connectorErrorText) when none can be had.
 */
export function acquireProcConnector(): ProcConnector {
  const inh = inheritedConnector();
  if (inh && 'fd' in inh) {
    inherited = { error: 'the process connector passed by the parent vipd is already in use' };
    // Scripts never inherit it: Node marks the fds it inherited close-on-exec at start-up
    // (libuv's uv_disable_stdio_inheritance, fds up to 15 at least).
    return new ProcConnector(inh.fd, true);
  }
  if (inh) throw new Error(inh.error);
  if (spare !== null) {
    const fd = spare;
    spare = null;
    return new ProcConnector(fd, false);
  }
  try {
    return new ProcConnector(openConnectorFd(), false);
  } catch (e) {
    throw new Error(connectorErrorText(e));
  }
}

/** /proc/PID/stat's comm (latin1) and state letter, or null if it cannot be parsed. */
export function parseStat(text: string): { comm: string; state: string } | null {
  const a = text.indexOf('(');
  const b = text.lastIndexOf(')'); // a comm may itself hold ')' (keepalived takes the first one)
  if (a < 0 || b < a || b + 2 >= text.length) return null;
  return { comm: text.slice(a + 1, b), state: text[b + 2]! };
}

/** Up to `max` bytes of a small file (procfs), asynchronously; null if it cannot be opened or read. */
export function readSmall(path: string, max: number): Promise<Buffer | null> {
  return new Promise((resolve) => {
    fsOpen(path, 'r', (err, fd) => {
      if (err) return resolve(null);
      const buf = Buffer.allocUnsafe(max);
      fsRead(fd, buf, 0, max, null, (e, n) => {
        fsClose(fd, () => undefined);
        resolve(e ? null : buf.subarray(0, n));
      });
    });
  });
}

/** How process tracking reads /proc (injectable for tests). All asynchronous. */
export interface ProcFs {
  /** Pids of /proc/[1-9]*. */
  pids(): Promise<number[]>;
  /** Name and state from /proc/PID/stat (the start-up scan: zombies are skipped). */
  stat(pid: number): Promise<{ comm: string; state: string } | null>;
  /** /proc/PID/comm without its newline (after an exec). */
  comm(pid: number): Promise<string | null>;
  /** The first `max` bytes of /proc/PID/cmdline. */
  cmdline(pid: number, max: number): Promise<Buffer | null>;
}

export const procFs: ProcFs = {
  pids: () =>
    new Promise((resolve) =>
      readdir('/proc', { withFileTypes: true }, (err, ents) => {
        if (err) return resolve([]);
        resolve(ents.filter((e) => e.isDirectory() && e.name[0]! >= '1' && e.name[0]! <= '9').map((e) => Number(e.name)));
      })),
  stat: async (pid) => {
    const b = await readSmall(`/proc/${pid}/stat`, 512);
    return b ? parseStat(b.toString('latin1')) : null;
  },
  comm: async (pid) => {
    const b = await readSmall(`/proc/${pid}/comm`, 17);
    if (!b) return null;
    return b.toString('latin1', 0, b.length && b[b.length - 1] === 10 ? b.length - 1 : b.length);
  },
  cmdline: (pid, max) => readSmall(`/proc/${pid}/cmdline`, max),
};
