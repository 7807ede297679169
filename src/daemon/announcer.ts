/**
 * Announcements on becoming MASTER (RFC 9568 7.3 / keepalived): for every IPv4 VIP a
 * gratuitous ARP, for every IPv6 VIP an unsolicited NA; `repeat` of each at once, and the
 * same burst again after `delay` seconds (keepalived defaults: 5 and 5).
 */
import { readFile } from 'node:fs/promises';
import { parseIP } from '../protocol/addr.js';
import { buildGratuitousArp } from '../protocol/arp.js';
import { buildUnsolicitedNa } from '../protocol/ndisc.js';
import type { PacketSocket } from '../os/packet-socket.js';

export interface AnnounceTarget {
  address: string;
  family: 4 | 6;
}

export class Announcer {
  private timer: NodeJS.Timeout | null = null;
  sent = 0;

  constructor(
    private readonly sock: PacketSocket,
    private readonly mac: Uint8Array,
    private readonly ifname: string,
    private readonly onError: (e: Error) => void,
  ) {}

  /** Start a burst now and a second one after delayS (cancelling any pending one). */
  async announce(targets: AnnounceTarget[], repeat: number, delayS: number): Promise<void> {
    this.cancel();
    const frames = await this.frames(targets);
    this.burst(frames, repeat);
    if (delayS > 0) {
      this.timer = setTimeout(() => {
        this.timer = null;
        this.burst(frames, repeat);
      }, delayS * 1000);
      this.timer.unref();
    }
  }

  cancel(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private burst(frames: Buffer[], repeat: number): void {
    for (let i = 0; i < repeat; i++) {
      for (const f of frames) {
        try {
          this.sock.send(f);
          this.sent++;
        } catch (e) {
          this.onError(e as Error);
        }
      }
    }
  }

  private async frames(targets: AnnounceTarget[]): Promise<Buffer[]> {
    // keepalived sets the NA Router flag from the interface's IPv6 forwarding setting.
    let router = false;
    if (targets.some((t) => t.family === 6)) {
      router = (await readFile(`/proc/sys/net/ipv6/conf/${this.ifname}/forwarding`, 'utf8').catch(() => '0')).trim() === '1';
    }
    return targets.map((t) => {
      const ip = parseIP(t.address)!.bytes;
      return t.family === 4 ? buildGratuitousArp(this.mac, ip) : buildUnsolicitedNa(this.mac, ip, { router });
    });
  }
}
