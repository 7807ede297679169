/**
 * Announcements on becoming MASTER (RFC 9568 7.3 / keepalived): for every IPv4 VIP a
 * gratuitous ARP, for every IPv6 VIP an unsolicited NA; `repeat` of each at once, and the
 * same burst again after `delay` seconds (keepalived defaults: 5 and 5).
 *
 * One announcer per interface, shared by its instances: each instance's pending second
 * burst is keyed by the instance, and one timer serves them all (a takeover of 1000
 * instances kept 1000 timers for the delay). No promise per announcement either: IPv4 frames
 * go out at once, IPv6 ones when the one forwarding read shared by the burst is done (1000
 * suspended async calls lived through the burst's young collections and were promoted).
 */
import { open } from 'node:fs/promises';
import { parseIP } from '../protocol/addr.js';
import { buildGratuitousArp } from '../protocol/arp.js';
import { buildUnsolicitedNa } from '../protocol/ndisc.js';
import type { PacketSocket } from '../os/packet-socket.js';
import type { Pacer } from './pacer.js';

export interface AnnounceTarget {
  address: string;
  family: 4 | 6;
}

/** An IPv6 announcement waiting for the forwarding read. */
interface Waiting {
  targets: AnnounceTarget[];
  repeat: number;
  delayS: number;
}

interface SecondBurst {
  /** performance.now() when due */
  at: number;
  frames: Buffer[];
  repeat: number;
}

export class Announcer {
  private readonly pending = new Map<object, SecondBurst>();
  private timer: NodeJS.Timeout | null = null;
  private timerAt = Infinity;
  /** Owners whose first burst waits for the forwarding read: cancel() removes them. */
  private readonly starting = new Map<object, Waiting>();
  /** The owners that announced while the read was in flight, in order (once each per announce). */
  private waiting: object[] = [];
  /** The read of the forwarding setting in flight, shared by every announcement meanwhile. */
  private reading: Promise<void> | null = null;
  sent = 0;
  /** Spacing of this interface's frames (src/daemon/pacer.ts), shared with its garp_group. */
  private pacer: Pacer | null = null;

  constructor(
    private readonly sock: PacketSocket,
    private readonly mac: Uint8Array,
    private readonly ifname: string,
    private readonly onError: (e: Error, owner: object) => void,
    /** Where the per-interface IPv6 settings are (tests point it at files of their own). */
    private readonly ipv6Conf = '/proc/sys/net/ipv6/conf',
  ) {}

  /** Set (or on reload change) the pacer of this interface's announcements (null: none). */
  setPacer(p: Pacer | null): void {
    this.pacer = p;
  }

  /** Start a burst for `owner` now and a second one after delayS (cancelling its pending one). */
  announce(owner: object, targets: AnnounceTarget[], repeat: number, delayS: number): void {
    this.cancel(owner);
    if (!targets.some((t) => t.family === 6)) return this.start(owner, this.frames(targets, false), repeat, delayS);
    this.starting.set(owner, { targets, repeat, delayS });
    this.waiting.push(owner);
    this.readForwarding();
  }

  /** Resolves once no announcement waits for the forwarding read (for tests). */
  async idle(): Promise<void> {
    while (this.reading) await this.reading;
  }

  private start(owner: object, frames: Buffer[], repeat: number, delayS: number): void {
    this.burst(owner, frames, repeat);
    if (delayS > 0) {
      const at = performance.now() + delayS * 1000;
      this.pending.set(owner, { at, frames, repeat });
      this.arm(at);
    }
  }

  cancel(owner: object): void {
    this.starting.delete(owner);
    this.pending.delete(owner);
    this.pacer?.cancel(owner);
    if (this.pending.size === 0 && this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
      this.timerAt = Infinity;
    }
  }

  /** The timer for the earliest second burst. */
  private arm(at: number): void {
    if (this.timer && this.timerAt <= at) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => this.due(), Math.max(0, at - performance.now()));
    this.timer.unref();
  }

  private due(): void {
    this.timer = null;
    this.timerAt = Infinity;
    // a timer may fire up to a millisecond early
    const now = performance.now() + 1;
    let next = Infinity;
    for (const [owner, b] of this.pending) {
      if (b.at <= now) {
        this.pending.delete(owner);
        this.burst(owner, b.frames, b.repeat);
      } else next = Math.min(next, b.at);
    }
    if (next < Infinity) this.arm(next);
  }

  private burst(owner: object, frames: Buffer[], repeat: number): void {
    const p = this.pacer;
    for (let i = 0; i < repeat; i++) {
      for (const f of frames) {
        const kind = isNa(f) ? 1 : 0;
        if (p?.paces(kind)) p.submit(kind, owner, () => this.send(owner, f));
        else this.send(owner, f);
      }
    }
  }

  private send(owner: object, f: Buffer): void {
    try {
      this.sock.send(f);
      this.sent++;
    } catch (e) {
      this.onError(e as Error, owner);
    }
  }

  /** Drop every pending burst (the daemon stops); the pacer's queue loses this interface's frames. */
  close(): void {
    for (const o of [...this.pending.keys(), ...this.starting.keys()]) this.cancel(o);
  }

  /**
   * keepalived sets the NA Router flag from the interface's IPv6 forwarding setting. One read
   * serves the instances that take over together (fs.readFile would allocate 64 KiB per read
   * of a /proc file: 32 MB when 500 IPv6 instances became master at once); the next takeover
   * reads again, so a changed setting is never missed.
   */
  private readForwarding(): void {
    if (!this.reading) this.reading = readFlag(`${this.ipv6Conf}/${this.ifname}/forwarding`).then((r) => this.forwardingRead(r), () => this.forwardingRead(false));
  }

  private forwardingRead(router: boolean): void {
    this.reading = null;
    const owners = this.waiting;
    this.waiting = [];
    for (const owner of owners) {
      const w = this.starting.get(owner);
      // none: it left MASTER while the setting was read, or was served already (it announced twice meanwhile)
      if (!w) continue;
      this.starting.delete(owner);
      this.start(owner, this.frames(w.targets, router), w.repeat, w.delayS);
    }
  }

  private frames(targets: AnnounceTarget[], router: boolean): Buffer[] {
    return targets.map((t) => {
      const ip = parseIP(t.address)!.bytes;
      return t.family === 4 ? buildGratuitousArp(this.mac, ip) : buildUnsolicitedNa(this.mac, ip, { router });
    });
  }
}

/** A sysctl file holding 0 or 1 (false if unreadable). */
async function readFlag(path: string): Promise<boolean> {
  try {
    const fh = await open(path, 'r');
    try {
      const b = Buffer.alloc(4);
      const { bytesRead } = await fh.read(b, 0, b.length, 0);
      return bytesRead > 0 && b[0] === 0x31;
    } finally {
      await fh.close();
    }
  } catch {
    return false;
  }
}

/** An unsolicited NA (an IPv6 frame), as opposed to a gratuitous ARP. */
function isNa(f: Buffer): boolean {
  return f.length > 13 && f[12] === 0x86 && f[13] === 0xdd;
}
