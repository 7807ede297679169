/**
 * The VRRP socket of one (interface, family): raw IP protocol 112, bound to the device,
 * joined to 224.0.0.18 / ff02::12 there, TTL / hop limit 255 on send, TOS / traffic class
 * 0xc0 (as keepalived), multicast loop off. Unicast mode sends to each configured peer and
 * accepts only packets from them. Received packets carry the real TTL / hop limit, the
 * destination and the ifindex for RFC 9568 7.1 validation.
 */
import { EventEmitter } from 'node:events';
import { formatIP, parseIP, type Family } from '../protocol/addr.js';
import { parseIPv4 } from '../protocol/ip.js';
import { groupAddress, IPPROTO_VRRP, type ReceivedPacket } from '../protocol/vrrp.js';
import {
  AF_INET, AF_INET6, IP_ADD_MEMBERSHIP, IP_MULTICAST_IF, IP_MULTICAST_LOOP, IP_MULTICAST_TTL, IP_PKTINFO, IP_TOS, IP_TTL,
  IPPROTO_IP, IPPROTO_IPV6, IPV6_CHECKSUM, IPV6_JOIN_GROUP, IPV6_MULTICAST_HOPS, IPV6_MULTICAST_IF, IPV6_MULTICAST_LOOP,
  IPV6_RECVHOPLIMIT, IPV6_RECVPKTINFO, IPV6_TCLASS, IPV6_UNICAST_HOPS, ipMreqn, ipv6Mreq, parseCmsgs, parseSockaddrIp,
  SO_BINDTODEVICE, SOCK_RAW, SOL_SOCKET, sockaddrIn, sockaddrIn6,
} from './linux.js';
import { native, type NativeError, type Watcher } from './native.js';

export interface VrrpSocketOptions {
  ifname: string;
  ifindex: number;
  family: Family;
  /** IPv4: the primary address used as source for multicast. */
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

export class VrrpSocket extends EventEmitter<{ packet: [VrrpPacketIn]; filtered: [string]; error: [NativeError] }> {
  readonly fd: number;
  private readonly watcher: Watcher;
  private readonly peers: { bytes: Uint8Array; addr: Buffer; text: string }[];
  private readonly groupAddr: Buffer;
  /** sockaddr per unicast destination, built once (the send path allocates nothing). */
  private readonly sockaddrs: Map<string, Buffer>;
  private closed = false;

  constructor(readonly opts: VrrpSocketOptions) {
    super();
    const n = native();
    const v4 = opts.family === 4;
    const group = parseIP(groupAddress(opts.family))!.bytes;
    this.groupAddr = v4 ? sockaddrIn(group) : sockaddrIn6(group, opts.ifindex);
    this.peers = (opts.unicastPeers ?? []).map((t) => {
      const p = parseIP(t);
      if (!p || p.family !== opts.family) throw new Error(`unicast peer ${t} is not an IPv${opts.family} address`);
      return { bytes: p.bytes, addr: v4 ? sockaddrIn(p.bytes) : sockaddrIn6(p.bytes, opts.ifindex), text: formatIP(p.family, p.bytes) };
    });
    this.sockaddrs = new Map(this.peers.map((p) => [p.text, p.addr]));
    this.fd = n.socket(v4 ? AF_INET : AF_INET6, SOCK_RAW, IPPROTO_VRRP);
    try {
      n.setsockopt(this.fd, SOL_SOCKET, SO_BINDTODEVICE, Buffer.from(`${opts.ifname}\0`));
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
      this.watcher = new n.Watcher(this.fd, 65536, (d, from, ctrl, _flags, rxNs) => this.onDatagram(d, from, ctrl, rxNs), (e) => this.emit('error', e));
    } catch (e) {
      n.close(this.fd);
      throw e;
    }
  }

  /** Send one VRRP message to the group, or to every unicast peer. */
  send(payload: Buffer): void {
    const n = native();
    if (this.peers.length === 0) n.sendto(this.fd, payload, this.groupAddr);
    else for (const p of this.peers) n.sendto(this.fd, payload, p.addr);
  }

  /** Destinations this socket sends to (for pseudo-header checksums). */
  destinations(): string[] {
    return this.peers.length ? this.peers.map((p) => p.text) : [groupAddress(this.opts.family)];
  }

  /** Send a message built for one destination to that destination only. */
  sendTo(payload: Buffer, dst: string): void {
    native().sendto(this.fd, payload, this.sockaddrs.get(dst) ?? this.groupAddr);
  }

  private onDatagram(d: Buffer, from: Buffer, ctrl: Buffer, rxNs: number): void {
    const rxUs = Math.round(rxNs / 1000);
    const anc = parseCmsgs(ctrl);
    let pkt: VrrpPacketIn;
    if (this.opts.family === 4) {
      const ip = parseIPv4(d); // IPv4 raw sockets deliver the IP header
      if (!ip || ip.family !== 4) return;
      pkt = {
        family: 4, src: Uint8Array.from(ip.header.src), dst: Uint8Array.from(ip.header.dst), ttl: ip.header.ttl,
        payload: ip.payload, ifindex: anc.ifindex ?? this.opts.ifindex, srcText: formatIP(4, ip.header.src), rxUs,
      };
    } else {
      const s = parseSockaddrIp(from);
      if (!s || s.family !== 6) return;
      pkt = {
        family: 6, src: Uint8Array.from(s.addr), dst: anc.dst ?? new Uint8Array(16), ttl: anc.hopLimit ?? -1,
        payload: d, ifindex: anc.ifindex ?? this.opts.ifindex, srcText: formatIP(6, s.addr), rxUs,
      };
    }
    if (this.peers.length && !this.peers.some((p) => p.text === pkt.srcText)) {
      this.emit('filtered', pkt.srcText); // unicast mode: only configured peers count
      return;
    }
    this.emit('packet', pkt);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.watcher.stop();
    native().close(this.fd);
  }
}
