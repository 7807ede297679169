/**
 * rtnetlink client on the native fd layer: address add/del/list, link lookup, macvlan
 * create/delete, link up/down, and a subscription to link and address events.
 * Requests are matched to replies by sequence number; failures carry the kernel's errno.
 */
import { EventEmitter } from 'node:events';
import { AF_NETLINK, SOCK_RAW, SO_RCVBUF, SO_RCVBUFFORCE, SOL_SOCKET, sockaddrNl } from './linux.js';
import { native, type NativeError, type Watcher } from './native.js';
import {
  addrRequest, delLinkRequest, dumpRequest, errorCode, macvlanRequest, NLMSG_DONE, NLMSG_ERROR, parseAddr, parseLink,
  RTM_DELADDR, RTM_DELLINK, RTM_NEWADDR, RTM_NEWLINK, RTMGRP_IPV4_IFADDR, RTMGRP_IPV6_IFADDR, RTMGRP_LINK, setLinkRequest,
  splitMessages, type AddrInfo, type AddrSpec, type LinkInfo, type NlMessage,
} from './rtnl-msg.js';

const NETLINK_ROUTE = 0;
const ERRNO_NAMES: Record<number, string> = {
  1: 'EPERM', 2: 'ENOENT', 5: 'EIO', 16: 'EBUSY', 17: 'EEXIST', 19: 'ENODEV', 22: 'EINVAL', 95: 'EOPNOTSUPP', 99: 'EADDRNOTAVAIL', 105: 'ENOBUFS', 108: 'ESHUTDOWN',
};

export const EEXIST = 17;
export const ENODEV = 19;
export const EADDRNOTAVAIL = 99;
const EIO = 5;
const ESHUTDOWN = 108;
const KERNEL = sockaddrNl();
/**
 * Receive queue of each rtnetlink socket: 4 MiB (the kernel doubles it) as root, else what
 * net.core.rmem_max allows (Debian's default: 208 KiB, doubled). The kernel drops an ack or
 * an event that finds the queue full, and an ack costs about 1 KiB of it.
 */
const NL_RCVBUF = 4 << 20;
/** Address operations in flight at most; more wait in order (their acks must fit the queue above). */
const MAX_INFLIGHT = 256;

/** The kernel's answer to a request without a promise: 0, or the errno it failed with. */
export type Ack = (errno: number) => void;

export class NetlinkError extends Error {
  readonly code: string;
  constructor(
    readonly errno: number,
    readonly op: string,
  ) {
    const code = ERRNO_NAMES[errno] ?? `errno ${errno}`;
    super(`${op}: ${code}`);
    this.code = code;
    this.name = 'NetlinkError';
  }
}

interface Pending {
  op: string;
  dump: boolean;
  items: NlMessage[];
  resolve: (v: NlMessage[]) => void;
  reject: (e: Error) => void;
}

export type RtnlEvent =
  | { type: 'link'; op: 'new' | 'del'; link: LinkInfo }
  | { type: 'addr'; op: 'new' | 'del'; addr: AddrInfo };

/**
 * `onError`: the kernel dropped messages for this socket (ENOBUFS: its queue was full), or
 * another receive error; the socket goes on being read.
 */
function openSocket(groups: number, onData: (b: Buffer) => void, onError: (e: NativeError) => void = () => undefined): { fd: number; watcher: Watcher } {
  const n = native();
  const fd = n.socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
  try {
    try {
      n.setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, NL_RCVBUF);
    } catch {
      n.setsockopt(fd, SOL_SOCKET, SO_RCVBUF, NL_RCVBUF); // without CAP_NET_ADMIN: up to rmem_max
    }
    n.bind(fd, sockaddrNl(groups));
    const watcher = new n.Watcher(fd, 1 << 16, (d) => onData(d), onError);
    return { fd, watcher };
  } catch (e) {
    n.close(fd);
    throw e;
  }
}

/** Request/response client. One per process is enough. */
export class Rtnl {
  private readonly fd: number;
  private readonly watcher: Watcher;
  private seq = Math.floor(Math.random() * 1e6);
  private readonly pending = new Map<number, Pending | Ack>();
  private closed = false;
  /** addressOp requests sent and not acknowledged, and those waiting behind them (from `waitHead`). */
  private inflight = 0;
  private readonly waiting: Array<{ op: 'add' | 'del'; a: AddrSpec; done: Ack }> = [];
  private waitHead = 0;

  /** `onError`: a receive error (acks dropped by the kernel, if ENOBUFS: MAX_INFLIGHT is meant to prevent it). */
  constructor(onError?: (e: NativeError) => void) {
    ({ fd: this.fd, watcher: this.watcher } = openSocket(0, (d) => this.onData(d), onError));
  }

  private onData(d: Buffer): void {
    for (const m of splitMessages(d)) {
      const p = this.pending.get(m.seq);
      if (!p) continue;
      if (typeof p === 'function') {
        if (m.type === NLMSG_ERROR) {
          this.pending.delete(m.seq);
          this.inflight--;
          p(-errorCode(m));
        }
      } else if (m.type === NLMSG_ERROR) {
        const err = errorCode(m);
        this.pending.delete(m.seq);
        if (err === 0) p.resolve(p.items);
        else p.reject(new NetlinkError(-err, p.op));
      } else if (m.type === NLMSG_DONE) {
        this.pending.delete(m.seq);
        p.resolve(p.items);
      } else {
        p.items.push(m);
      }
    }
    while (this.inflight < MAX_INFLIGHT && this.waitHead < this.waiting.length && !this.closed) {
      const w = this.waiting[this.waitHead++]!;
      this.sendAddressOp(w.op, w.a, w.done);
    }
    if (this.waitHead === this.waiting.length) {
      this.waiting.length = 0;
      this.waitHead = 0;
    }
  }

  private request(op: string, build: (seq: number) => Buffer, dump = false): Promise<NlMessage[]> {
    if (this.closed) return Promise.reject(new Error('rtnetlink client closed'));
    const seq = (this.seq = (this.seq + 1) >>> 0);
    return new Promise((resolve, reject) => {
      this.pending.set(seq, { op, dump, items: [], resolve, reject });
      try {
        native().sendto(this.fd, build(seq), sockaddrNl());
      } catch (e) {
        this.pending.delete(seq);
        reject(e as Error);
      }
    });
  }

  async links(): Promise<LinkInfo[]> {
    const ms = await this.request('dump links', (s) => dumpRequest('link', s), true);
    return ms.map(parseLink).filter((l): l is LinkInfo => l !== null);
  }

  async link(name: string): Promise<LinkInfo> {
    const l = (await this.links()).find((x) => x.name === name);
    if (!l) throw new NetlinkError(19, `link ${name}`);
    return l;
  }

  async addresses(ifindex?: number): Promise<AddrInfo[]> {
    const ms = await this.request('dump addresses', (s) => dumpRequest('addr', s), true);
    return ms.map(parseAddr).filter((a): a is AddrInfo => a !== null && (ifindex === undefined || a.ifindex === ifindex));
  }

  addAddress(a: AddrSpec): Promise<void> {
    return this.address('add', a);
  }

  delAddress(a: AddrSpec): Promise<void> {
    return this.address('del', a);
  }

  /** addressOp as a promise (one operation at a time, not a burst); rejects with the NetlinkError. */
  private address(op: 'add' | 'del', a: AddrSpec): Promise<void> {
    return new Promise((resolve, reject) =>
      this.addressOp(op, a, (errno) => (errno === 0 ? resolve() : reject(new NetlinkError(errno, `${op === 'add' ? 'add' : 'delete'} address ${a.family}/${a.prefixLen}`)))));
  }

  /**
   * Address add or delete without a promise, for bursts (1000 instances taking over in one
   * wake-up): the request is sent at once and only `done` waits for the ack, so nothing else
   * of it lives long enough to reach V8's old generation. Requests on one socket are carried
   * out in the order sent (rtnetlink handles them in sendmsg); beyond MAX_INFLIGHT they wait,
   * in order, for acks to make room.
   */
  addressOp(op: 'add' | 'del', a: AddrSpec, done: Ack): void {
    if (this.closed) return done(ESHUTDOWN);
    if (this.inflight >= MAX_INFLIGHT || this.waitHead < this.waiting.length) this.waiting.push({ op, a, done });
    else this.sendAddressOp(op, a, done);
  }

  private sendAddressOp(op: 'add' | 'del', a: AddrSpec, done: Ack): void {
    const seq = (this.seq = (this.seq + 1) >>> 0);
    this.pending.set(seq, done);
    this.inflight++;
    try {
      native().sendto(this.fd, addrRequest(op, a, seq), KERNEL);
    } catch (e) {
      this.pending.delete(seq);
      this.inflight--;
      const errno = (e as { errno?: unknown }).errno;
      done(typeof errno === 'number' && errno > 0 ? errno : EIO);
    }
  }

  async addMacvlan(name: string, parent: number, mac: Uint8Array): Promise<void> {
    await this.request(`create macvlan ${name}`, (s) => macvlanRequest(name, parent, mac, s));
  }

  async delLink(ifindex: number): Promise<void> {
    await this.request(`delete link ${ifindex}`, (s) => delLinkRequest(ifindex, s));
  }

  async setLink(ifindex: number, up: boolean): Promise<void> {
    await this.request(`set link ${ifindex} ${up ? 'up' : 'down'}`, (s) => setLinkRequest(ifindex, up, s));
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.watcher.stop();
    native().close(this.fd);
    for (const p of this.pending.values()) {
      if (typeof p === 'function') p(ESHUTDOWN);
      else p.reject(new Error('rtnetlink client closed'));
    }
    this.pending.clear();
    for (let i = this.waitHead; i < this.waiting.length; i++) this.waiting[i]!.done(ESHUTDOWN);
    this.waiting.length = 0;
    this.waitHead = 0;
    this.inflight = 0;
  }
}

/**
 * Link and address events (RTMGRP_LINK, IPv4 and IPv6 address groups). 'lost': the kernel
 * dropped events for a full queue (or another receive error): what they said must be read
 * again with a dump.
 */
export class RtnlMonitor extends EventEmitter<{ event: [RtnlEvent]; lost: [NativeError] }> {
  private readonly fd: number;
  private readonly watcher: Watcher;

  constructor() {
    super();
    ({ fd: this.fd, watcher: this.watcher } = openSocket(RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR, (d) => this.onData(d), (e) => this.emit('lost', e)));
  }

  private onData(d: Buffer): void {
    for (const m of splitMessages(d)) {
      if (m.type === RTM_NEWLINK || m.type === RTM_DELLINK) {
        const link = parseLink(m);
        if (link) this.emit('event', { type: 'link', op: m.type === RTM_NEWLINK ? 'new' : 'del', link });
      } else if (m.type === RTM_NEWADDR || m.type === RTM_DELADDR) {
        const addr = parseAddr(m);
        if (addr) this.emit('event', { type: 'addr', op: m.type === RTM_NEWADDR ? 'new' : 'del', addr });
      }
    }
  }

  close(): void {
    this.watcher.stop();
    native().close(this.fd);
  }
}
