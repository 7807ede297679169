/**
 * keepalived 2.2.7's `interface_up_down_delays { IF DOWN_DELAY [UP_DELAY] }`
 * (keepalived_netlink.c process_if_status_change, vrrp.c check_debounce_timers): a link
 * change of IF counts only after it has lasted the delay for its direction; a change back
 * within the delay cancels it ("Delay timer for IF cancelled"). Delays apply once the
 * interface has been seen up (a link that was never up comes up at once). A delay must stay
 * below (down_timer_adverts - 1) × the advert interval of every instance on the interface —
 * else the backups would already have taken over before the master noticed — and is cut
 * there (0 with down_timer_adverts 1), with keepalived's message.
 *
 * The delays are timers of Node's (setTimeout): they are seconds long and not on the advert
 * path; the daemon's link state, tracked interfaces and FAULTs follow what this lets through.
 */
import type { Logger } from 'pino';
import type { DaemonConfig } from '../config/model.js';

interface Delay {
  downUs: number;
  upUs: number;
}

/** The delays of `c` per interface name, cut as keepalived cuts them (logged). */
export function linkDelays(c: DaemonConfig, log: Logger): Map<string, Delay> {
  const out = new Map<string, Delay>();
  for (const d of c.ifDelays) {
    const delay = { downUs: d.downUs, upUs: d.upUs };
    for (const i of c.instances) {
      if (i.interface !== d.name) continue;
      if (i.downTimerAdverts === 1) {
        if (delay.downUs || delay.upUs) log.warn({ instance: i.name }, `${i.name}: cannot use debounce timers with down_timer_adverts = 1 - resetting (interface_up_down_delays ${d.name})`);
        delay.downUs = delay.upUs = 0;
        continue;
      }
      const cap = (i.downTimerAdverts - 1) * i.advertIntervalUs;
      if (delay.downUs >= cap || delay.upUs >= cap) {
        log.warn({ instance: i.name }, `${i.name}: interface ${d.name} debounce timer(s) not less than ${i.downTimerAdverts - 1} * advert_int - resetting`);
        const cut = cap - Math.floor(i.advertIntervalUs / 256);
        delay.downUs = Math.min(delay.downUs, cut);
        delay.upUs = Math.min(delay.upUs, cut);
      }
    }
    out.set(d.name, delay);
  }
  return out;
}

export class LinkDebounce {
  private readonly pending = new Map<number, { up: boolean; timer: NodeJS.Timeout }>();
  private readonly seenUp = new Set<number>();

  constructor(
    private delays: Map<string, Delay>,
    private readonly log: Logger,
    /** Apply a link change that has lasted its delay (the daemon's link state). */
    private readonly apply: (index: number, up: boolean) => void,
  ) {}

  /** A reload's delays (pending changes keep their timers). */
  setDelays(d: Map<string, Delay>): void {
    this.delays = d;
  }

  /** A link event: `up` now, `applied` the state last applied for this interface. */
  onLink(index: number, name: string, up: boolean, applied: boolean): void {
    if (applied) this.seenUp.add(index);
    const p = this.pending.get(index);
    if (p) {
      if (p.up === up) return;
      clearTimeout(p.timer);
      this.pending.delete(index);
      this.log.info({ interface: name }, `Delay timer for ${name} cancelled`);
    }
    if (up === applied) return;
    const d = this.delays.get(name);
    const us = d ? (up ? d.upUs : d.downUs) : 0;
    if (us > 0 && this.seenUp.has(index)) {
      this.log.info({ interface: name }, `${name}: link ${up ? 'up' : 'down'} counts in ${us / 1e6} s unless it changes back (interface_up_down_delays)`);
      const timer = setTimeout(() => {
        this.pending.delete(index);
        this.apply(index, up);
      }, us / 1000);
      this.pending.set(index, { up, timer });
      return;
    }
    this.apply(index, up);
  }

  close(): void {
    for (const p of this.pending.values()) clearTimeout(p.timer);
    this.pending.clear();
  }
}
