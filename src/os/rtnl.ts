/**
 * rtnetlink client on the native fd layer: acked operations (addresses, routes, rules, or any
 * request), dumps of links, addresses, routes and rules, macvlan create/delete, link up/down,
 * and a subscription to link, address, route and rule events.
 * Requests are matched to replies by sequence number; failures carry the kernel's errno.
 */
import { EventEmitter } from 'node:events';
import { AF_NETLINK, SOCK_RAW, SO_RCVBUF, SO_RCVBUFFORCE, SOL_SOCKET, sockaddrNl } from './linux.js';
import { native, type NativeError, type Watcher } from './native.js';
import { addrRequest, parseAddr, type AddrInfo, type AddrSpec } from './rtnl-addr.js';
import {
  delLinkRequest, dumpRequest, errorCode, macvlanRequest, NLMSG_DONE, NLMSG_ERROR, parseLink, RTM_DELADDR, RTM_DELLINK, RTM_DELROUTE, RTM_DELRULE,
  RTM_NEWADDR, RTM_NEWLINK, RTM_NEWROUTE, RTM_NEWRULE, RTMGRP_IPV4_IFADDR, RTMGRP_IPV4_ROUTE, RTMGRP_IPV4_RULE, RTMGRP_IPV6_IFADDR, RTMGRP_IPV6_ROUTE,
  RTMGRP_IPV6_RULE, RTMGRP_LINK, setLinkRequest, splitMessages, type LinkInfo, type NlMessage,
} from './rtnl-msg.js';
import { parseRouteMsg, type RouteInfo } from './rtnl-route.js';
import { parseRuleMsg, type RuleInfo } from './rtnl-rule.js';

const NETLINK_ROUTE = 0;
const ERRNO_NAMES: Record<number, string> = {
  1: 'EPERM', 2: 'ENOENT', 3: 'ESRCH', 5: 'EIO', 16: 'EBUSY', 17: 'EEXIST', 19: 'ENODEV', 22: 'EINVAL', 34: 'ERANGE', 95: 'EOPNOTSUPP', 99: 'EADDRNOTAVAIL',
  100: 'ENETDOWN', 101: 'ENETUNREACH', 105: 'ENOBUFS', 108: 'ESHUTDOWN',
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
/** Acked operations (op, addressOp) in flight at most; more wait in order (their acks must fit the queue above). */
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

/**
 * An event. `pid`: the netlink port id of the socket whose request caused it, which the kernel
 * copies into its notification: compare with Rtnl.portId to tell one's own changes from
 * someone else's. 0 when the kernel does not say: its own changes (the local route of a new
 * address) and every IPv6 address event (sent from the IPv6 code, after DAD too).
 */
export type RtnlEvent =
  | { type: 'link'; op: 'new' | 'del'; pid: number; link: LinkInfo }
  | { type: 'addr'; op: 'new' | 'del'; pid: number; addr: AddrInfo }
  | { type: 'route'; op: 'new' | 'del'; pid: number; route: RouteInfo }
  | { type: 'rule'; op: 'new' | 'del'; pid: number; rule: RuleInfo };

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
  /** Acked operations sent and not acknowledged, and those waiting behind them (from `waitHead`), built. */
  private inflight = 0;
  private readonly waiting: Array<{ seq: number; msg: Buffer; done: Ack }> = [];
  private waitHead = 0;
  private port: number | null = null;

  /** `onError`: a receive error (acks dropped by the kernel, if ENOBUFS: MAX_INFLIGHT is meant to prevent it). */
  constructor(onError?: (e: NativeError) => void) {
    ({ fd: this.fd, watcher: this.watcher } = openSocket(0, (d) => this.onData(d), onError));
  }

  /** This socket's netlink port id, as the kernel's first reply to it says (null before any reply). */
  get portId(): number | null {
    return this.port;
  }

  private onData(d: Buffer): void {
    for (const m of splitMessages(d)) {
      const p = this.pending.get(m.seq);
      if (!p) continue;
      if (this.port === null && m.pid !== 0) this.port = m.pid;
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
      this.send(w.seq, w.msg, w.done);
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

  /** Every IPv4 and IPv6 route of every table (cache entries and other families left out). */
  async routes(): Promise<RouteInfo[]> {
    const ms = await this.request('dump routes', (s) => dumpRequest('route', s), true);
    return ms.map(parseRouteMsg).filter((r): r is RouteInfo => r !== null);
  }

  /** Every IPv4 and IPv6 policy-routing rule. */
  async rules(): Promise<RuleInfo[]> {
    const ms = await this.request('dump rules', (s) => dumpRequest('rule', s), true);
    return ms.map(parseRuleMsg).filter((r): r is RuleInfo => r !== null);
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

  /** An address add or delete as `op` (see there). */
  addressOp(op: 'add' | 'del', a: AddrSpec, done: Ack): void {
    this.op(op === 'add' ? 'add address' : 'delete address', (seq) => addrRequest(op, a, seq), done);
  }

  /**
   * One acked request without a promise (an address, route or rule add or delete: `build`
   * makes the request, with NLM_F_ACK, for the sequence number it is given), for bursts
   * (1000 instances taking over in one wake-up): `done` gets 0 or the errno the kernel
   * refused it with (ESHUTDOWN once closed, the sendto errno if it could not be sent). The
   * request is built at once (`build` throwing is thrown from here: nothing is sent) and
   * sent at once unless MAX_INFLIGHT requests wait for their acks: then it waits, in order,
   * for acks to make room (all acked operations share that queue). Requests on one socket are
   * carried out in the order sent (rtnetlink handles them in sendmsg). `name` is for errors
   * raised around it (the errno alone reaches `done`).
   */
  op(name: string, build: (seq: number) => Buffer, done: Ack): void {
    if (this.closed) return done(ESHUTDOWN);
    const seq = (this.seq = (this.seq + 1) >>> 0);
    let msg: Buffer;
    try {
      msg = build(seq);
    } catch (e) {
      throw new Error(`${name}: ${(e as Error).message}`, { cause: e });
    }
    if (this.inflight >= MAX_INFLIGHT || this.waitHead < this.waiting.length) this.waiting.push({ seq, msg, done });
    else this.send(seq, msg, done);
  }

  private send(seq: number, msg: Buffer, done: Ack): void {
    this.pending.set(seq, done);
    this.inflight++;
    try {
      native().sendto(this.fd, msg, KERNEL);
    } catch (e) {
      this.pending.delete(seq);
      this.inflight--;
      const errno = (e as { errno?: unknown }).errno;
      done(typeof errno === 'number' && errno > 0 ? errno : EIO);
    }
  }

  /** A macvlan on `parent` with `mac`; `mode`: MACVLAN_MODE_* (default bridge; VMACs: private). */
  async addMacvlan(name: string, parent: number, mac: Uint8Array, mode?: number): Promise<void> {
    await this.request(`create macvlan ${name}`, (s) => macvlanRequest(name, parent, mac, s, mode));
  }

  /** Every link as the kernel's raw messages (for attributes LinkInfo leaves out: src/os/vmac.ts). */
  linkMessages(): Promise<NlMessage[]> {
    return this.request('dump links', (s) => dumpRequest('link', s), true);
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

/** What an RtnlMonitor listens to: links and addresses always, routes and rules unless turned off. */
export interface RtnlMonitorOptions {
  /** RTNLGRP_IPV4_ROUTE and RTNLGRP_IPV6_ROUTE (default true). */
  routes?: boolean;
  /** RTNLGRP_IPV4_RULE and RTNLGRP_IPV6_RULE (default true). */
  rules?: boolean;
}

/**
 * Link, address, route and rule events (RTMGRP_LINK and the IPv4 and IPv6 address, route and
 * rule groups: all within the 32 bits of the bind(2) group mask, RTNLGRP_IPV6_RULE = 19
 * included). Route events are many (each address brings its local and prefix routes, every
 * table is reported): each is one parse of a short message, and `routes: false` leaves them
 * out. 'lost': the kernel dropped events for a full queue (or another receive error): what
 * they said must be read again with a dump.
 */
export class RtnlMonitor extends EventEmitter<{ event: [RtnlEvent]; lost: [NativeError] }> {
  private readonly fd: number;
  private readonly watcher: Watcher;

  constructor(o: RtnlMonitorOptions = {}) {
    super();
    let groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR;
    if (o.routes !== false) groups |= RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_ROUTE;
    if (o.rules !== false) groups |= RTMGRP_IPV4_RULE | RTMGRP_IPV6_RULE;
    ({ fd: this.fd, watcher: this.watcher } = openSocket(groups, (d) => this.onData(d), (e) => this.emit('lost', e)));
  }

  private onData(d: Buffer): void {
    for (const m of splitMessages(d)) {
      const pid = m.pid;
      if (m.type === RTM_NEWLINK || m.type === RTM_DELLINK) {
        const link = parseLink(m);
        if (link) this.emit('event', { type: 'link', op: m.type === RTM_NEWLINK ? 'new' : 'del', pid, link });
      } else if (m.type === RTM_NEWADDR || m.type === RTM_DELADDR) {
        const addr = parseAddr(m);
        if (addr) this.emit('event', { type: 'addr', op: m.type === RTM_NEWADDR ? 'new' : 'del', pid, addr });
      } else if (m.type === RTM_NEWROUTE || m.type === RTM_DELROUTE) {
        const route = parseRouteMsg(m);
        if (route) this.emit('event', { type: 'route', op: m.type === RTM_NEWROUTE ? 'new' : 'del', pid, route });
      } else if (m.type === RTM_NEWRULE || m.type === RTM_DELRULE) {
        const rule = parseRuleMsg(m);
        if (rule) this.emit('event', { type: 'rule', op: m.type === RTM_NEWRULE ? 'new' : 'del', pid, rule });
      }
    }
  }

  close(): void {
    this.watcher.stop();
    native().close(this.fd);
  }
}
