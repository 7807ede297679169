/**
 * The VRRP sockets: one per (interface, family, unicast peers), shared by the instances that
 * speak on it; a datagram goes to the instance of its VRID (others are counted). Each
 * socket's receive queue is sized for its instances at the shortest advert interval among
 * them.
 */
import type { Logger } from 'pino';
import type { InstanceModel } from '../config/model.js';
import type { Interface } from '../os/iface.js';
import { VrrpSocket } from '../os/vrrp-socket.js';
import type { InstanceRunner, RunnerDeps } from './runner.js';

interface SocketEntry {
  sock: VrrpSocket;
  runners: Map<number, InstanceRunner>;
  /** What the socket's runners share (one object and one event closure, not one per instance). */
  deps: RunnerDeps | null;
}

export class VrrpSockets {
  private readonly sockets = new Map<string, SocketEntry>();
  /** Packets for a VRID no instance here serves. */
  unknownVrid = 0;

  constructor(
    private readonly log: Logger,
    /** The dependencies of the runners of a socket (made once per socket and interface record). */
    private readonly makeDeps: (iface: Interface, sock: VrrpSocket) => RunnerDeps,
  ) {}

  /** Read every socket to the end (before Master_Down timers are judged: scheduler.beforeFire). */
  drain(): void {
    for (const e of this.sockets.values()) e.sock.drain();
  }

  /** Make the runner of `m` on its socket (opened on first use) with `make`. */
  attach(m: InstanceModel, iface: Interface, make: (deps: RunnerDeps) => InstanceRunner): InstanceRunner {
    const e = this.entry(m, iface);
    // a reload looks the interfaces up again: new runners get the fresh record
    if (e.deps?.iface !== iface) e.deps = this.makeDeps(iface, e.sock);
    const r = make(e.deps);
    e.runners.set(m.vrid, r);
    sizeQueue(e);
    return r;
  }

  /**
   * Open now the sockets `models` will need (a reload's check before it touches a running
   * instance: a socket that cannot open refuses the reload, nothing closed or changed). They
   * stay open, even with no runner, until `release()`, which closes those still unused.
   * @throws Error of the socket that could not open (those opened here are closed again).
   */
  reserve(models: readonly { m: InstanceModel; iface: Interface }[]): () => void {
    const made: string[] = [];
    this.reserved++; // detach() meanwhile keeps empty sockets (a restarted instance's own)
    try {
      for (const { m, iface } of models) {
        const key = socketKey(m, iface);
        if (this.sockets.has(key)) continue;
        this.entry(m, iface);
        made.push(key);
      }
    } catch (e) {
      this.reserved--;
      this.closeUnused(made);
      throw e;
    }
    return () => {
      this.reserved--;
      if (this.reserved === 0) this.closeUnused([...this.sockets.keys()]);
    };
  }

  /** reserve() calls not yet released: detach() keeps an empty socket open meanwhile. */
  private reserved = 0;

  private closeUnused(keys: readonly string[]): void {
    for (const key of keys) {
      const e = this.sockets.get(key);
      if (!e || e.runners.size) continue;
      e.sock.close();
      this.sockets.delete(key);
    }
  }

  /** The runner has stopped: off its socket (closed when it was the last, unless a reload reserved sockets). */
  detach(r: InstanceRunner): void {
    for (const [key, e] of this.sockets) {
      if (e.runners.get(r.model.vrid) !== r) continue;
      e.runners.delete(r.model.vrid);
      if (e.runners.size === 0 && this.reserved === 0) {
        e.sock.close();
        this.sockets.delete(key);
      } else sizeQueue(e);
    }
  }

  private entry(m: InstanceModel, iface: Interface): SocketEntry {
    const peers = m.unicastPeers.map((p) => p.address);
    const key = socketKey(m, iface);
    const known = this.sockets.get(key);
    if (known) return known;
    // IPv6 multicast: the link-local (RFC 9568 5.1.2.1), named on each send; IPv6 unicast
    // without unicast_src_ip: the kernel picks a source that fits the peers' addresses.
    const source = m.unicastSrc ?? m.mcastSrc ?? (m.family === 4 ? iface.primaryV4 : m.unicastPeers.length ? null : iface.linkLocalV6) ?? undefined;
    const sock = new VrrpSocket({ ifname: iface.name, ifindex: iface.index, family: m.family, source, unicastPeers: peers });
    const entry: SocketEntry = { sock, runners: new Map(), deps: null };
    sock.onRaw = (raw) => {
      const vrid = raw.payloadLen >= 2 ? (raw.buf[raw.payloadOff + 1] as number) : -1;
      const r = entry.runners.get(vrid);
      if (r) r.onRaw(raw);
      else this.unknownVrid++;
    };
    sock.on('error', (err) => this.log.error({ err: err.message, socket: key }, 'VRRP socket error'));
    this.sockets.set(key, entry);
    return entry;
  }
}

function socketKey(m: InstanceModel, iface: Interface): string {
  // the index too: an interface deleted and created again (dynamic_interfaces) needs a new socket
  return `${iface.name}#${iface.index}/${m.family}/${m.unicastPeers.map((p) => p.address).join(',')}`;
}

/** Receive queue for the socket's instances, at the shortest advert interval among them. */
function sizeQueue(e: SocketEntry): void {
  let min = Infinity;
  for (const r of e.runners.values()) min = Math.min(min, r.model.advertIntervalUs);
  if (e.runners.size) e.sock.sizeReceiveQueue(e.runners.size, min);
}
