/**
 * Linux socket constants and the byte layouts of sockaddr_in/in6/ll/nl, ip_mreqn, ipv6_mreq
 * and control messages (x86_64 / aarch64 LP64 ABI). Pure: built and parsed here, not in C++.
 */

export const AF_INET = 2;
export const AF_INET6 = 10;
export const AF_NETLINK = 16;
export const AF_PACKET = 17;
export const SOCK_RAW = 3;
export const SOL_SOCKET = 1;
export const SO_BINDTODEVICE = 25;
/** Kernel receive timestamps as struct timespec (CLOCK_REALTIME) in SCM_TIMESTAMPNS. */
export const SO_TIMESTAMPNS = 35;
export const SO_RCVBUF = 8;
export const SO_RCVBUFFORCE = 33;
export const IPPROTO_IP = 0;
export const IPPROTO_IPV6 = 41;
export const IP_TOS = 1;
export const IP_TTL = 2;
export const IP_PKTINFO = 8;
export const IP_RECVTTL = 12;
export const IP_MULTICAST_IF = 32;
export const IP_MULTICAST_TTL = 33;
export const IP_MULTICAST_LOOP = 34;
export const IP_ADD_MEMBERSHIP = 35;
export const IPV6_CHECKSUM = 7;
export const IPV6_UNICAST_HOPS = 16;
export const IPV6_MULTICAST_IF = 17;
export const IPV6_MULTICAST_HOPS = 18;
export const IPV6_MULTICAST_LOOP = 19;
export const IPV6_JOIN_GROUP = 20;
export const IPV6_RECVPKTINFO = 49;
export const IPV6_PKTINFO = 50;
export const IPV6_RECVHOPLIMIT = 51;
export const IPV6_HOPLIMIT = 52;
export const IPV6_TCLASS = 67;
export const SOL_PACKET = 263;
export const ETH_P_ALL = 0x0003;
export const PACKET_OUTGOING = 4;
/** SOL_PACKET option (Linux 4.20): the socket is not given the host's own outgoing frames. */
export const PACKET_IGNORE_OUTGOING = 23;

export function sockaddrIn(addr: Uint8Array, port = 0): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt16LE(AF_INET, 0);
  b.writeUInt16BE(port, 2);
  b.set(addr, 4);
  return b;
}

export function sockaddrIn6(addr: Uint8Array, scopeId = 0, port = 0): Buffer {
  const b = Buffer.alloc(28);
  b.writeUInt16LE(AF_INET6, 0);
  b.writeUInt16BE(port, 2);
  b.set(addr, 8);
  b.writeUInt32LE(scopeId, 24);
  return b;
}

/** sockaddr_ll for bind (protocol, ifindex) or send (adds the destination MAC). */
export function sockaddrLl(ifindex: number, protocol: number, dstMac?: Uint8Array): Buffer {
  const b = Buffer.alloc(20);
  b.writeUInt16LE(AF_PACKET, 0);
  b.writeUInt16BE(protocol, 2);
  b.writeInt32LE(ifindex, 4);
  if (dstMac) {
    b[11] = 6;
    b.set(dstMac, 12);
  }
  return b;
}

export function sockaddrNl(groups = 0, pid = 0): Buffer {
  const b = Buffer.alloc(12);
  b.writeUInt16LE(AF_NETLINK, 0);
  b.writeUInt32LE(pid, 4);
  b.writeUInt32LE(groups, 8);
  return b;
}

export interface ParsedLl {
  protocol: number;
  ifindex: number;
  pkttype: number;
  addr: Uint8Array;
}

export function parseSockaddrLl(b: Buffer): ParsedLl | null {
  if (b.length < 20 || b.readUInt16LE(0) !== AF_PACKET) return null;
  const halen = Math.min(b[11] as number, 8);
  return { protocol: b.readUInt16BE(2), ifindex: b.readInt32LE(4), pkttype: b[10] as number, addr: b.subarray(12, 12 + halen) };
}

/** Source address of a sockaddr_in/in6 (bytes), or null. */
export function parseSockaddrIp(b: Buffer): { family: 4 | 6; addr: Uint8Array; scopeId: number } | null {
  if (b.length >= 8 && b.readUInt16LE(0) === AF_INET) return { family: 4, addr: b.subarray(4, 8), scopeId: 0 };
  if (b.length >= 28 && b.readUInt16LE(0) === AF_INET6) return { family: 6, addr: b.subarray(8, 24), scopeId: b.readUInt32LE(24) };
  return null;
}

/** struct ip_mreqn { in_addr multiaddr; in_addr address; int ifindex; } */
export function ipMreqn(group: Uint8Array, ifindex: number, local: Uint8Array = new Uint8Array(4)): Buffer {
  const b = Buffer.alloc(12);
  b.set(group, 0);
  b.set(local, 4);
  b.writeInt32LE(ifindex, 8);
  return b;
}

/** struct ipv6_mreq { in6_addr multiaddr; unsigned ifindex; } */
export function ipv6Mreq(group: Uint8Array, ifindex: number): Buffer {
  const b = Buffer.alloc(20);
  b.set(group, 0);
  b.writeUInt32LE(ifindex, 16);
  return b;
}

/**
 * One IPV6_PKTINFO control message (struct cmsghdr + struct in6_pktinfo) for sendmsg: the
 * source address to use, so that the kernel does not select one among every address on the
 * interface for each packet (RFC 6724 selection costs ~100 µs per send with 250 VIPs there).
 */
export function cmsgIn6Pktinfo(src: Uint8Array, ifindex: number): Buffer {
  const b = Buffer.alloc(40); // CMSG_SPACE(20)
  b.writeUInt32LE(36, 0); // cmsg_len = CMSG_LEN(20), size_t
  b.writeInt32LE(IPPROTO_IPV6, 8);
  b.writeInt32LE(IPV6_PKTINFO, 12);
  b.set(src, 16);
  b.writeInt32LE(ifindex, 32);
  return b;
}

/** Ancillary data scanned in place: reused across packets (fields reset by scanCmsgs). */
export interface AncillaryScratch {
  ttl: number;
  hopLimit: number;
  ifindex: number;
  /** Destination from IP_PKTINFO / IPV6_PKTINFO in the first dstLen bytes (0: none). */
  dst: Uint8Array;
  dstLen: number;
  /** SCM_TIMESTAMPNS: when the kernel received the packet, CLOCK_REALTIME ns (-1: none). */
  rxRealNs: number;
}

export function ancillaryScratch(): AncillaryScratch {
  return { ttl: -1, hopLimit: -1, ifindex: -1, dst: new Uint8Array(16), dstLen: 0, rxRealNs: -1 };
}

/**
 * Walk control messages (struct cmsghdr: size_t len, int level, int type; data 8-aligned)
 * in `c[off, off + len)` into `out`, allocating nothing.
 */
export function scanCmsgs(c: Buffer, start: number, length: number, out: AncillaryScratch): void {
  out.ttl = out.hopLimit = out.ifindex = out.rxRealNs = -1;
  out.dstLen = 0;
  const end = start + length;
  let off = start;
  while (off + 16 <= end) {
    const len = c.readUInt32LE(off) + c.readUInt32LE(off + 4) * 2 ** 32;
    if (len < 16 || off + len > end) break;
    const level = c.readInt32LE(off + 8);
    const type = c.readInt32LE(off + 12);
    const d = off + 16;
    const dlen = len - 16;
    if (level === SOL_SOCKET && type === SO_TIMESTAMPNS && dlen >= 16) {
      // struct timespec { int64 tv_sec; long tv_nsec; } (a double keeps it to ~0.3 µs)
      out.rxRealNs = (c.readUInt32LE(d) + c.readUInt32LE(d + 4) * 2 ** 32) * 1e9 + c.readUInt32LE(d + 8);
    } else if (level === IPPROTO_IP && type === IP_TTL && dlen >= 4) out.ttl = c.readInt32LE(d);
    else if (level === IPPROTO_IP && type === IP_PKTINFO && dlen >= 12) {
      out.ifindex = c.readInt32LE(d);
      c.copy(out.dst, 0, d + 8, d + 12);
      out.dstLen = 4;
    } else if (level === IPPROTO_IPV6 && type === IPV6_HOPLIMIT && dlen >= 4) out.hopLimit = c.readInt32LE(d);
    else if (level === IPPROTO_IPV6 && type === IPV6_PKTINFO && dlen >= 20) {
      c.copy(out.dst, 0, d, d + 16);
      out.dstLen = 16;
      out.ifindex = c.readInt32LE(d + 16);
    }
    off += (len + 7) & ~7;
  }
}

export const AF_UNIX = 1;
export const SOCK_DGRAM = 2;

/** sockaddr_un; a leading '@' names an abstract socket (as systemd's NOTIFY_SOCKET does). */
export function sockaddrUn(path: string): Buffer {
  const p = Buffer.from(path.startsWith('@') ? `\0${path.slice(1)}` : path, 'utf8');
  if (p.length > 107) throw new Error(`unix socket path too long: ${path}`);
  const b = Buffer.alloc(2 + p.length + (path.startsWith('@') ? 0 : 1));
  b.writeUInt16LE(AF_UNIX, 0);
  b.set(p, 2);
  return b;
}

/** One classic BPF instruction (struct sock_filter). */
function bpf(code: number, jt: number, jf: number, k: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt16LE(code, 0);
  b[2] = jt;
  b[3] = jf;
  b.writeUInt32LE(k >>> 0, 4);
  return b;
}
const LDH_ABS = 0x28;
const LDB_ABS = 0x30;
const JEQ_K = 0x15;
const RET_K = 0x06;

/** Accept Ethernet frames carrying IPv4 or IPv6 with protocol / next header 112 (VRRP). */
export function vrrpFramesFilter(): Buffer {
  return Buffer.concat([
    bpf(LDH_ABS, 0, 0, 12), // 0: ethertype
    bpf(JEQ_K, 0, 2, 0x0800), // 1: IPv4 -> 2, else -> 4
    bpf(LDB_ABS, 0, 0, 23), // 2: IPv4 protocol
    bpf(JEQ_K, 3, 4, 112), // 3: VRRP -> 7, else -> 8
    bpf(JEQ_K, 0, 3, 0x86dd), // 4: IPv6 -> 5, else -> 8
    bpf(LDB_ABS, 0, 0, 20), // 5: IPv6 next header
    bpf(JEQ_K, 0, 1, 112), // 6: VRRP -> 7, else -> 8
    bpf(RET_K, 0, 0, 0x40000), // 7: accept
    bpf(RET_K, 0, 0, 0), // 8: drop
  ]);
}
