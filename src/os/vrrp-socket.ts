/**
 * The VRRP socket of one (interface, family): raw IP protocol 112, bound to the device,
 * joined to 224.0.0.18 / ff02::12 there, TTL / hop limit 255 on send, TOS / traffic class
 * 0xc0 (as keepalived), multicast loop off. Unicast mode sends to each configured peer and
 * accepts only packets from them. Received packets carry the real TTL / hop limit, the
 * destination and the ifindex for RFC 9568 7.1 validation.
 *
 * VMAC (keepalived's use_vmac, src/os/vmac.ts): open the socket on the VMAC itself, with the
 * parent's address as `source` (IPv6: the link-local createVmac put on the VMAC). Adverts then
 * leave with the virtual MAC as source (RFC 9568 7.3), and are received there too, as
 * keepalived does (vrrp_scheduler.c vrrp_create_sockpool: both its sockets on the VMAC unless
 * vmac_xmit_base, then both on the parent): a private macvlan takes a peer's adverts sent
 * from the same virtual MAC away from its parent, and still gets those of a peer without one.
 */
import { EventEmitter } from 'node:events';
import { compareAddr, formatIP, parseIP, type Family } from '../protocol/addr.js';
import { groupAddress, IPPROTO_VRRP, vrrpLength, type ReceivedPacket } from '../protocol/vrrp.js';
import {
  AF_INET, AF_INET6, IP_ADD_MEMBERSHIP, IP_MULTICAST_IF, IP_MULTICAST_LOOP, IP_MULTICAST_TTL, IP_PKTINFO, IP_TOS, IP_TTL,
  IPPROTO_IP, IPPROTO_IPV6, IPV6_CHECKSUM, IPV6_JOIN_GROUP, IPV6_MULTICAST_HOPS, IPV6_MULTICAST_IF, IPV6_MULTICAST_LOOP,
  IPV6_RECVHOPLIMIT, IPV6_RECVPKTINFO, IPV6_TCLASS, IPV6_UNICAST_HOPS, ancillaryScratch, cmsgIn6Pktinfo, ipMreqn, ipv6Mreq, scanCmsgs,
  SO_BINDTODEVICE, SO_RCVBUF, SO_RCVBUFFORCE, SO_TIMESTAMPNS, SOCK_RAW, SOL_SOCKET, sockaddrIn, sockaddrIn6,
} from './linux.js';
import { watchBatched, type DatagramView } from './batch.js';
import { native, type BatchWatcher, type NativeError } from './native.js';

/**
 * Longest valid VRRP datagram as a raw socket delivers it, rounded up to 8 bytes (the slab
 * keeps each slot's control messages aligned). IPv4 comes with its header, up to 60 bytes
 * with options: VRRPv2 with 255 addresses and authentication (RFC 3768 5.1) is the longest.
 * IPv6 without it: VRRPv3 with 255 addresses (RFC 9568 5.1). A slot of 8 KiB for both made
 * each socket's slab 552 KiB, resident once bursts had filled its slots.
 */
const align8 = (n: number): number => (n + 7) & ~7;
const MAX_DATAGRAM_V4 = align8(60 + vrrpLength(2, 4, 255));
const MAX_DATAGRAM_V6 = align8(vrrpLength(3, 6, 255));
const RX_HOLD_S = 0.25;
const RX_TRUESIZE = 1536;
const RCVBUF_MIN = 256 * 1024;
const RCVBUF_MAX = 32 * 1024 * 1024;

export interface VrrpSocketOptions {
  ifname: string;
  ifindex: number;
  family: Family;
  /** The source of our adverts: IPv4 primary address, IPv6 link-local (RFC 9568 5.1.2.1). */
  source?: string;
  /** Unicast mode: send to these and accept only these. */
  unicastPeers?: string[];
}

export interface VrrpPacketIn extends ReceivedPacket {
  ifindex: number;
  srcText: string;
  /** Receive time, CLOCK_MONOTONIC microseconds (the daemon's clock). */
  rxUs: number;
}

/**
 * The datagram being delivered, parsed in place: one object per socket, overwritten for each
 * packet and valid only during the `onRaw` call (copy with `packetIn` to keep it).
 */
export interface RawVrrp {
  family: Family;
  /** The VRRP message is buf[payloadOff, payloadOff + payloadLen). */
  buf: Buffer;
  payloadOff: number;
  payloadLen: number;
  /** Source and destination address (4 or 16 bytes), reused. */
  src: Uint8Array;
  dst: Uint8Array;
  ttl: number;
  ifindex: number;
  /** Receive time, CLOCK_MONOTONIC microseconds (the daemon's clock). */
  rxUs: number;
}

export class VrrpSocket extends EventEmitter<{ packet: [VrrpPacketIn]; filtered: [string]; error: [NativeError] }> {
  readonly fd: number;
  private readonly watcher: BatchWatcher;
  private readonly peers: { bytes: Uint8Array; addr: Buffer; text: string }[];
  private readonly groupAddr: Buffer;
  /** sockaddr per unicast destination, built once (the send path allocates nothing). */
  private readonly sockaddrs: Map<string, Buffer>;
  private closed = false;
  /** IPv6: the source address as IPV6_PKTINFO, sent with every advert. */
  private readonly sendControl: Buffer | undefined;
  private readonly anc = ancillaryScratch();
  private readonly raw: RawVrrp;
  /** The per-packet path (the daemon): called with the reused RawVrrp of each datagram. */
  onRaw: ((raw: RawVrrp) => void) | null = null;

  constructor(readonly opts: VrrpSocketOptions) {
    super();
    const n = native();
    const v4 = opts.family === 4;
    const group = parseIP(groupAddress(opts.family))!.bytes;
    const alen = v4 ? 4 : 16;
    this.raw = { family: opts.family, buf: Buffer.alloc(0), payloadOff: 0, payloadLen: 0, src: new Uint8Array(alen), dst: new Uint8Array(alen), ttl: -1, ifindex: opts.ifindex, rxUs: 0 };
    this.groupAddr = v4 ? sockaddrIn(group) : sockaddrIn6(group, opts.ifindex);
    this.peers = (opts.unicastPeers ?? []).map((t) => {
      const p = parseIP(t);
      if (!p || p.family !== opts.family) throw new Error(`unicast peer ${t} is not an IPv${opts.family} address`);
      return { bytes: p.bytes, addr: v4 ? sockaddrIn(p.bytes) : sockaddrIn6(p.bytes, opts.ifindex), text: formatIP(p.family, p.bytes) };
    });
    this.sockaddrs = new Map(this.peers.length ? this.peers.map((p) => [p.text, p.addr]) : [[groupAddress(opts.family), this.groupAddr]]);
    const src6 = !v4 && opts.source ? parseIP(opts.source) : null;
    if (src6 && src6.family !== 6) throw new Error(`source ${opts.source} is not an IPv6 address`);
    this.sendControl = src6 ? cmsgIn6Pktinfo(src6.bytes, opts.ifindex) : undefined;
    this.fd = n.socket(v4 ? AF_INET : AF_INET6, SOCK_RAW, IPPROTO_VRRP);
    try {
      n.setsockopt(this.fd, SOL_SOCKET, SO_BINDTODEVICE, Buffer.from(`${opts.ifname}\0`));
      // The kernel's receive time: Master_Down timers count from the packet's arrival, not from
      // when a busy or sleeping process got round to reading it.
      n.setsockopt(this.fd, SOL_SOCKET, SO_TIMESTAMPNS, 1);
      if (v4) {
        const src = opts.source ? parseIP(opts.source)!.bytes : new Uint8Array(4);
        n.setsockopt(this.fd, IPPROTO_IP, IP_TOS, 0xc0);
        n.setsockopt(this.fd, IPPROTO_IP, IP_TTL, 255);
        n.setsockopt(this.fd, IPPROTO_IP, IP_MULTICAST_TTL, 255);
        n.setsockopt(this.fd, IPPROTO_IP, IP_MULTICAST_LOOP, 0);
        n.setsockopt(this.fd, IPPROTO_IP, IP_MULTICAST_IF, ipMreqn(new Uint8Array(4), opts.ifindex, src));
        n.setsockopt(this.fd, IPPROTO_IP, IP_PKTINFO, 1);
        // Unicast mode does not join the group (keepalived does the same).
        if (!this.peers.length) n.setsockopt(this.fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, ipMreqn(group, opts.ifindex));
      } else {
        n.setsockopt(this.fd, IPPROTO_IPV6, IPV6_CHECKSUM, 6); // RFC 9568 5.2.8: kernel fills the checksum
        n.setsockopt(this.fd, IPPROTO_IPV6, IPV6_TCLASS, 0xc0);
        n.setsockopt(this.fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, 255);
        n.setsockopt(this.fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, 255);
        n.setsockopt(this.fd, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, 0);
        n.setsockopt(this.fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, opts.ifindex);
        n.setsockopt(this.fd, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, 1);
        n.setsockopt(this.fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, 1);
        if (!this.peers.length) n.setsockopt(this.fd, IPPROTO_IPV6, IPV6_JOIN_GROUP, ipv6Mreq(group, opts.ifindex));
      }
      // 64 slots read by recvmmsg (src/os/batch.ts), each as long as the longest valid VRRP
      // message of the family; a longer datagram arrives cut short and fails validation.
      this.watcher = watchBatched(this.fd, v4 ? MAX_DATAGRAM_V4 : MAX_DATAGRAM_V6, 64, (d) => this.onDatagram(d), (e) => this.emit('error', e));
    } catch (e) {
      n.close(this.fd);
      throw e;
    }
  }

  /**
   * Room in the receive queue for a quarter second of adverts from `instances` masters at
   * `intervalUs` (at least the kernel's default): a daemon held off the CPU for a moment
   * must find the adverts that arrived meanwhile, not lose them and take over by mistake.
   * A small advert costs about 1.5 KiB of socket memory. As root SO_RCVBUFFORCE passes
   * net.core.rmem_max (keepalived's vrrp_rx_bufs_policy plays the same part).
   */
  sizeReceiveQueue(instances: number, intervalUs: number): number {
    const perSecond = 1_000_000 / Math.max(intervalUs, 1000);
    const bytes = Math.min(RCVBUF_MAX, Math.max(RCVBUF_MIN, Math.ceil(instances * perSecond * RX_HOLD_S) * RX_TRUESIZE));
    const n = native();
    try {
      n.setsockopt(this.fd, SOL_SOCKET, SO_RCVBUFFORCE, bytes);
    } catch {
      n.setsockopt(this.fd, SOL_SOCKET, SO_RCVBUF, bytes); // without CAP_NET_ADMIN: up to rmem_max
    }
    return n.getsockopt(this.fd, SOL_SOCKET, SO_RCVBUF, 4).readInt32LE(0);
  }

  /** Deliver everything queued now (before timers decide that a master went quiet). */
  drain(): void {
    if (!this.closed) this.watcher.drain();
  }

  /** Destinations this socket sends to (for pseudo-header checksums). */
  destinations(): string[] {
    return this.peers.length ? this.peers.map((p) => p.text) : [groupAddress(this.opts.family)];
  }

  /**
   * Send a message built for one destination (its checksum covers that pseudo-header) to
   * that destination only: one of `destinations()`, else an Error (never a silent fallback
   * to another address). The native layer throws the sendto errno (ENETDOWN, ENOBUFS …).
   */
  sendTo(payload: Buffer, dst: string): void {
    const addr = this.sockaddrs.get(dst);
    if (!addr) throw new Error(`VRRP socket on ${this.opts.ifname}: ${dst} is not one of its destinations (${this.destinations().join(', ')})`);
    native().sendto(this.fd, payload, addr, this.sendControl);
  }

  private onDatagram(d: DatagramView): void {
    const raw = this.raw;
    const b = d.buf;
    scanCmsgs(b, d.ctrlOff, d.ctrlLen, this.anc);
    raw.buf = b;
    const kernelNs = this.anc.rxRealNs >= 0 ? this.anc.rxRealNs - d.realMinusMonoNs : d.rxNs;
    raw.rxUs = Math.round(Math.min(kernelNs, d.rxNs) / 1000);
    raw.ifindex = this.anc.ifindex >= 0 ? this.anc.ifindex : this.opts.ifindex;
    if (this.opts.family === 4) {
      // IPv4 raw sockets deliver the IP header
      if (d.len < 20 || (b[d.off] as number) >> 4 !== 4) return;
      const ihl = ((b[d.off] as number) & 0x0f) * 4;
      if (ihl < 20 || d.len < ihl) return;
      const total = b.readUInt16BE(d.off + 2);
      raw.payloadOff = d.off + ihl;
      raw.payloadLen = (total > d.len || total < ihl ? d.len : total) - ihl; // strip padding
      raw.ttl = b[d.off + 8] as number;
      b.copy(raw.src, 0, d.off + 12, d.off + 16);
      b.copy(raw.dst, 0, d.off + 16, d.off + 20);
    } else {
      // sockaddr_in6: family, port, flowinfo, address at 8
      if (d.fromLen < 24 || b.readUInt16LE(d.fromOff) !== AF_INET6) return;
      raw.payloadOff = d.off;
      raw.payloadLen = d.len;
      raw.ttl = this.anc.hopLimit;
      b.copy(raw.src, 0, d.fromOff + 8, d.fromOff + 24);
      if (this.anc.dstLen === 16) raw.dst.set(this.anc.dst);
      else raw.dst.fill(0);
    }
    if (this.peers.length && !this.peers.some((p) => compareAddr(p.bytes, raw.src) === 0)) {
      this.emit('filtered', formatIP(this.opts.family, raw.src)); // unicast mode: only configured peers count
      return;
    }
    this.onRaw?.(raw);
    if (this.listenerCount('packet')) this.emit('packet', this.packetIn(raw));
  }

  /** A copy of the datagram being delivered, safe to keep. */
  packetIn(raw: RawVrrp): VrrpPacketIn {
    return {
      // Buffer.from copies into Node's shared pool (no ArrayBuffer per copy).
      family: raw.family, src: Buffer.from(raw.src), dst: Buffer.from(raw.dst), ttl: raw.ttl,
      payload: Buffer.from(raw.buf.subarray(raw.payloadOff, raw.payloadOff + raw.payloadLen)),
      ifindex: raw.ifindex, srcText: formatIP(raw.family, raw.src), rxUs: raw.rxUs,
    };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.watcher.stop();
    native().close(this.fd);
  }
}

