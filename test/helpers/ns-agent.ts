/**
 * Test agent: runs inside one network namespace (`ip netns exec NS node --import tsx ...`)
 * and performs socket / netlink operations on request. JSON lines on stdin -> JSON lines on
 * stdout ({id, ok, result} or {id, ok: false, error}). Used by the namespace tests only.
 */
import { createInterface } from 'node:readline';
import { parseIP, parseMac } from '../../src/protocol/addr.js';
import { buildGratuitousArp } from '../../src/protocol/arp.js';
import { buildUnsolicitedNa } from '../../src/protocol/ndisc.js';
import { encodeVrrp, receiveVrrp, type ChecksumMode, type VrrpAdvert } from '../../src/protocol/vrrp.js';
import { lookupInterface } from '../../src/os/iface.js';
import { PacketSocket } from '../../src/os/packet-socket.js';
import { AF_NETLINK, SO_RCVBUF, SOCK_RAW, SOL_SOCKET, sockaddrNl } from '../../src/os/linux.js';
import { native } from '../../src/os/native.js';
import { Rtnl, RtnlMonitor, type RtnlEvent } from '../../src/os/rtnl.js';
import { addrRequest } from '../../src/os/rtnl-addr.js';
import { NLMSG_ERROR, splitMessages } from '../../src/os/rtnl-msg.js';
import { VrrpSocket, type VrrpPacketIn } from '../../src/os/vrrp-socket.js';

const rtnl = new Rtnl();
const sockets = new Map<string, { sock: VrrpSocket; got: VrrpPacketIn[]; filtered: string[] }>();
const events: RtnlEvent[] = [];
let monitor: RtnlMonitor | null = null;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
async function until<T>(fn: () => T | undefined, timeoutMs: number): Promise<T | undefined> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v !== undefined || Date.now() > end) return v;
    await sleep(5);
  }
}

type Args = Record<string, unknown>;
const ops: Record<string, (a: Args) => Promise<unknown> | unknown> = {
  iface: (a) => lookupInterface(rtnl, a.name as string).then((i) => ({ ...i, mac: undefined })),
  async vrrpOpen(a) {
    const i = await lookupInterface(rtnl, a.ifname as string);
    const sock = new VrrpSocket({ ifname: i.name, ifindex: i.index, family: a.family as 4 | 6, source: (a.family === 4 ? i.primaryV4 : a.peers ? null : i.linkLocalV6) ?? undefined, unicastPeers: a.peers as string[] | undefined });
    // queue: size the receive queue as the daemon does for that many instances at 1 s
    const rcvbuf = a.queueFor ? sock.sizeReceiveQueue(a.queueFor as number, 1_000_000) : undefined;
    const entry = { sock, got: [] as VrrpPacketIn[], filtered: [] as string[] };
    sock.on('packet', (p) => entry.got.push(p));
    sock.on('filtered', (s) => entry.filtered.push(s));
    sockets.set(a.id as string, entry);
    return { ifindex: i.index, rcvbuf };
  },
  async vrrpSend(a) {
    const e = sockets.get(a.id as string)!;
    const adv = a.advert as VrrpAdvert;
    const i = await lookupInterface(rtnl, e.sock.opts.ifname);
    const src = adv.family === 4 ? i.primaryV4! : i.linkLocalV6!;
    // repeat: that many adverts back to back, priorities 1, 2, 3... (a burst for the batch reader)
    const n = (a.repeat as number | undefined) ?? 1;
    for (let k = 0; k < n; k++) {
      const one = a.repeat ? { ...adv, priority: 1 + (k % 254) } : adv;
      for (const dst of e.sock.destinations()) e.sock.sendTo(encodeVrrp(one, { src, dst, checksumMode: a.checksumMode as ChecksumMode | undefined }), dst);
    }
    return { src };
  },
  /** Send the same advert `n` times; wall-clock microseconds per send. */
  async vrrpSendTimed(a) {
    const e = sockets.get(a.id as string)!;
    const adv = a.advert as VrrpAdvert;
    const i = await lookupInterface(rtnl, e.sock.opts.ifname);
    const dst = e.sock.destinations()[0]!;
    const buf = encodeVrrp(adv, { src: adv.family === 4 ? i.primaryV4! : i.linkLocalV6!, dst });
    const n = a.n as number;
    for (let k = 0; k < 500; k++) e.sock.sendTo(buf, dst); // warm up (JIT), not measured
    const t0 = process.hrtime.bigint();
    for (let k = 0; k < n; k++) e.sock.sendTo(buf, dst);
    return { usPerSend: Number(process.hrtime.bigint() - t0) / 1000 / n };
  },
  async vrrpRecv(a) {
    const e = sockets.get(a.id as string)!;
    await until(() => (e.got.length >= (a.count as number) ? true : undefined), (a.timeoutMs as number) ?? 2000);
    const got = e.got.splice(0);
    return {
      filtered: e.filtered.splice(0),
      packets: got.map((p) => {
        const r = receiveVrrp(p);
        return { rxUs: p.rxUs, src: p.srcText, ttl: p.ttl, ifindex: p.ifindex, dst: Buffer.from(p.dst).toString('hex'), valid: r.valid, reason: r.valid ? undefined : r.reason, advert: r.advert, checksumMode: r.checksumMode };
      }),
    };
  },
  /** Keep the event loop busy for `ms` (a daemon stuck in work); monotonic µs around it. */
  busy(a) {
    const t = (): number => Number(process.hrtime.bigint() / 1000n);
    const startUs = t();
    while (t() - startUs < (a.ms as number) * 1000);
    return { startUs, endUs: t() };
  },
  async frame(a) {
    const i = await lookupInterface(rtnl, a.ifname as string);
    const ps = new PacketSocket(i.index);
    try {
      let f: Buffer;
      if (a.kind === 'garp') f = buildGratuitousArp(i.mac, parseIP(a.ip as string)!.bytes);
      else if (a.kind === 'na') f = buildUnsolicitedNa(i.mac, parseIP(a.ip as string)!.bytes, { router: Boolean(a.router) });
      else f = Buffer.from(a.hex as string, 'hex');
      // repeat / everyMs: send the same frame that many times at that period
      for (let k = 0; k < ((a.repeat as number | undefined) ?? 1); k++) {
        if (k) await sleep((a.everyMs as number | undefined) ?? 0);
        ps.send(f);
      }
      return { mac: i.macText, bytes: f.length };
    } finally {
      ps.close();
    }
  },
  async addr(a) {
    const i = await lookupInterface(rtnl, a.ifname as string);
    const p = parseIP(a.address as string)!;
    const spec = { family: p.family, address: p.bytes, prefixLen: a.prefixLen as number, ifindex: i.index, label: a.label as string | undefined, nodad: Boolean(a.nodad), noprefixroute: Boolean(a.noprefixroute) };
    if (a.op === 'add') await rtnl.addAddress(spec);
    else await rtnl.delAddress(spec);
    return null;
  },
  /** Address operations sent back to back without waiting (Rtnl.addressOp); the errno of each, in order. */
  async addrOps(a) {
    const i = await lookupInterface(rtnl, a.ifname as string);
    const ops = a.ops as { op: 'add' | 'del'; address: string; prefixLen: number }[];
    return new Promise((resolve) => {
      const errnos: number[] = new Array(ops.length);
      let left = ops.length;
      ops.forEach((o, k) => {
        const p = parseIP(o.address)!;
        rtnl.addressOp(o.op, { family: p.family, address: p.bytes, prefixLen: o.prefixLen, ifindex: i.index, nodad: p.family === 6 }, (errno) => {
          errnos[k] = errno;
          if (--left === 0) resolve(errnos);
        });
      });
    });
  },
  /**
   * A netlink socket with the smallest receive queue, sent `count` address adds on `lo`
   * without reading: the kernel drops acks (ENOBUFS). Then one more request once that is
   * over: is the socket still read? Receive errors and acks counted before and after.
   */
  async nlOverflow(a) {
    const n = native();
    const fd = n.socket(AF_NETLINK, SOCK_RAW, 0);
    n.setsockopt(fd, SOL_SOCKET, SO_RCVBUF, 1);
    n.bind(fd, sockaddrNl(0));
    const errors: string[] = [];
    let acks = 0;
    const w = new n.Watcher(fd, 1 << 16, (d) => {
      for (const m of splitMessages(d)) if (m.type === NLMSG_ERROR) acks++;
    }, (e) => errors.push(e.code ?? e.message));
    const add = (k: number): Buffer => addrRequest('add', { family: 4, address: Uint8Array.from([198, 51, 100, k]), prefixLen: 32, ifindex: 1 }, k);
    try {
      for (let k = 1; k <= (a.count as number); k++) n.sendto(fd, add(k), sockaddrNl());
      await sleep(200);
      const before = acks;
      n.sendto(fd, add(250), sockaddrNl());
      await sleep(200);
      return { errors, before, after: acks };
    } finally {
      w.stop();
      n.close(fd);
    }
  },
  async addrList(a) {
    const i = await lookupInterface(rtnl, a.ifname as string);
    return rtnl.addresses(i.index);
  },
  async links() {
    return rtnl.links();
  },
  async macvlan(a) {
    const parent = await lookupInterface(rtnl, a.parent as string);
    await rtnl.addMacvlan(a.name as string, parent.index, parseMac(a.mac as string)!);
    return (await rtnl.link(a.name as string)).index;
  },
  async delLink(a) {
    await rtnl.delLink((await rtnl.link(a.name as string)).index);
    return null;
  },
  monitor() {
    monitor ??= new RtnlMonitor();
    monitor.on('event', (e) => events.push(e));
    return null;
  },
  async events(a) {
    const want = a.match as string | undefined;
    if (want) await until(() => (events.some((e) => JSON.stringify(e).includes(want)) ? true : undefined), (a.timeoutMs as number) ?? 2000);
    return events.splice(0);
  },
  cpu: () => ({ ...process.cpuUsage(), uptimeMs: process.uptime() * 1000 }),
  idle: (a) => sleep(a.ms as number).then(() => process.cpuUsage()),
  exit() {
    setImmediate(() => {
      for (const s of sockets.values()) s.sock.close();
      monitor?.close();
      rtnl.close();
      process.exit(0);
    });
    return null;
  },
};

const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  const req = JSON.parse(line) as { id: number; op: string; args: Args };
  Promise.resolve()
    .then(() => {
      const fn = ops[req.op];
      if (!fn) throw new Error(`unknown op ${req.op}`);
      return fn(req.args ?? {});
    })
    .then(
      (result) => process.stdout.write(`${JSON.stringify({ id: req.id, ok: true, result }, (_k, v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v))}\n`),
      (e: Error & { code?: string }) => process.stdout.write(`${JSON.stringify({ id: req.id, ok: false, error: e.message, code: e.code })}\n`),
    );
});
rl.on('close', () => process.exit(0));
process.stdout.write(`${JSON.stringify({ ready: true, pid: process.pid })}\n`);
