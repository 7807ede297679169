/**
 * keepalived's `dynamic_interfaces`: instances whose own interface does not exist yet (or
 * has no address to send adverts from) wait for it instead of being refused; an interface
 * deleted and created again restarts its instances on the new one. This part keeps who
 * waits, tells the log (keepalived's wording), and says when to try again: the owner then
 * applies the running configuration again (a reload, which starts what now can).
 */
import type { Logger } from 'pino';
import type { DaemonConfig } from '../config/model.js';
import type { RtnlEvent } from '../os/rtnl.js';

/** How long after the first event of an interface (link, addresses) the owner is told. */
const SETTLE_MS = 100;

export class WaitingInstances {
  /** Instance name → the interface it waits for. */
  waiting = new Map<string, string>();
  /** Interfaces deleted and created again since the last reload: their instances restart. */
  readonly recreated = new Set<string>();
  /** Try again (queue a reload of the running configuration). */
  onReady: (() => void) | null = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly log: Logger) {}

  /** `c` without the instances in `waiting`. */
  static runnable(c: DaemonConfig, waiting: ReadonlyMap<string, string>): DaemonConfig {
    return waiting.size ? { ...c, instances: c.instances.filter((i) => !waiting.has(i.name)) } : c;
  }

  /** The new set (a start or a reload found it): logged as keepalived does, and who starts now. */
  set(next: Map<string, string>): void {
    for (const [name, ifname] of next) {
      if (!this.waiting.has(name)) this.log.warn({ instance: name, interface: ifname }, `Configuration specifies interface ${ifname} which doesn't currently exist - will use if created (${name} waits for it: dynamic_interfaces)`);
    }
    for (const [name, ifname] of this.waiting) if (!next.has(name)) this.log.info({ instance: name, interface: ifname }, `interface ${ifname} is there: ${name} starts`);
    this.waiting = next;
  }

  /**
   * An rtnetlink event: a link a waiting instance needs, or an address on an interface not in
   * use (`known(index)` false; the VIPs vipd adds are on known interfaces), may let it start.
   */
  onEvent(e: RtnlEvent, known: (index: number) => boolean): void {
    if (!this.waiting.size || e.op !== 'new') return;
    if ((e.type === 'addr' && !known(e.addr.ifindex)) || (e.type === 'link' && [...this.waiting.values()].includes(e.link.name))) this.ready();
  }

  /** `name` was deleted and created again; `c`: what runs (dynamic_interfaces on, an instance on it: restart them). */
  onRecreated(name: string, c: DaemonConfig): void {
    if (c.global.dynamicInterfaces === 'off' || !c.instances.some((i) => i.interface === name)) return;
    this.log.warn({ interface: name }, `interface ${name} was deleted and created again: its instances restart on it (dynamic_interfaces)`);
    this.recreated.add(name);
    this.ready();
  }

  /** Debounced: an interface comes with several events. */
  private ready(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.onReady?.();
    }, SETTLE_MS);
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.onReady = null;
  }
}
