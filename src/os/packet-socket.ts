/**
 * AF_PACKET socket on one interface: sends whole Ethernet frames (gratuitous ARP, unsolicited
 * NA, crafted packets) and, in capture mode, receives every frame with its direction.
 */
import { EventEmitter } from 'node:events';
import {
  AF_PACKET, ancillaryScratch, ETH_P_ALL, PACKET_IGNORE_OUTGOING, PACKET_OUTGOING, parseSockaddrLl, scanCmsgs, SO_TIMESTAMPNS, SOCK_RAW, SOL_PACKET,
  SOL_SOCKET, sockaddrLl,
} from './linux.js';
import { native, type NativeError, type Watcher } from './native.js';

const htons = (x: number): number => ((x & 0xff) << 8) | ((x >> 8) & 0xff);

export interface CapturedFrame {
  data: Buffer;
  /** Seconds since the epoch: the kernel's receive time (SO_TIMESTAMPNS), else when read. */
  time: number;
  outgoing: boolean;
}

export class PacketSocket extends EventEmitter<{ frame: [CapturedFrame]; error: [NativeError] }> {
  readonly fd: number;
  private watcher: Watcher | null = null;
  private closed = false;

  /** `capture`: receive all frames on the interface; otherwise send-only (protocol 0). */
  constructor(
    readonly ifindex: number,
    capture = false,
    /** Optional classic BPF program (see linux.ts) applied before anything reaches us. */
    filter?: Buffer,
    /**
     * Capture only what arrives: the kernel skips this socket for every frame the host sends
     * (otherwise each of our own adverts is also copied here and filtered).
     */
    ignoreOutgoing = false,
  ) {
    super();
    const n = native();
    this.fd = n.socket(AF_PACKET, SOCK_RAW, capture ? htons(ETH_P_ALL) : 0);
    try {
      if (filter) n.attachFilter(this.fd, filter);
      if (ignoreOutgoing) n.setsockopt(this.fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, 1);
      n.bind(this.fd, sockaddrLl(ifindex, capture ? ETH_P_ALL : 0));
      if (capture) {
        n.setsockopt(this.fd, SOL_SOCKET, SO_TIMESTAMPNS, 1);
        const anc = ancillaryScratch();
        this.watcher = new n.Watcher(
          this.fd,
          65536,
          (data, from, ctrl) => {
            const ll = parseSockaddrLl(from);
            scanCmsgs(ctrl, 0, ctrl.length, anc);
            const time = anc.rxRealNs >= 0 ? anc.rxRealNs / 1e9 : Date.now() / 1000;
            this.emit('frame', { data, time, outgoing: ll?.pkttype === PACKET_OUTGOING });
          },
          (e) => this.emit('error', e),
        );
      }
    } catch (e) {
      n.close(this.fd);
      throw e;
    }
  }

  /** Send a complete Ethernet frame (destination MAC taken from its first 6 bytes). */
  send(frame: Buffer): void {
    native().sendto(this.fd, frame, sockaddrLl(this.ifindex, frame.readUInt16BE(12), frame.subarray(0, 6)));
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.watcher?.stop();
    native().close(this.fd);
  }
}
