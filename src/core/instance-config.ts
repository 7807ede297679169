/** The settings of one VRRP instance's core (src/core/instance.ts) and what it is told of adverts. */
import type { TrackerState } from './priority.js';
import type { Version } from './timers.js';

export interface InstanceConfig {
  name: string;
  vrid: number;
  version: Version;
  /** Base priority 1..255 (255 = address owner). */
  priority: number;
  /** Own Advertisement_Interval in microseconds. */
  advertIntervalUs: number;
  /** RFC 9568 Preempt_Mode; keepalived `nopreempt` sets it false. Default true. */
  preempt?: boolean;
  /**
   * keepalived `preempt_delay`: after entering BACKUP (by any path: start, FAULT, MASTER), the
   * first lower-priority advert starts this delay; lower-priority masters are obeyed until it ends.
   */
  preemptDelayUs?: number;
  /** RFC 9568 Accept_Mode (the daemon acts on it; carried here for status). */
  acceptMode?: boolean;
  /** keepalived `down_timer_adverts`: missed adverts in Master_Down_Interval (default 3, RFC). */
  downTimerAdverts?: number;
  /** keepalived `higher_prio_send_advert`: a MASTER sends one advert before yielding to a higher one. */
  higherPrioSendAdvert?: boolean;
  /** keepalived `lower_prio_no_advert`: do not answer a lower-priority advert with our own. */
  lowerPrioNoAdvert?: boolean;
  /** Primary IP address of the interface, for the tie-break of RFC 9568 6.4.3. */
  primaryAddress: Uint8Array;
  /** Trackers and their effect at start (names unique per instance; `priority.ts` trackerEffect). */
  trackers?: TrackerState[];
}

export interface AdvertIn {
  priority: number;
  /** Max Adver Int of the advert in microseconds. */
  intervalUs: number;
  /** IP source of the advert. */
  src: Uint8Array;
}

export interface MasterInfo {
  /** The master's address, or null when it is this instance or unknown. */
  address: Uint8Array | null;
  self: boolean;
  priority: number;
  intervalUs: number;
  lastAdvertAt: number;
}

/**
 * The settings a reload changes in place (src/daemon/reload-plan.ts): everything but the
 * instance's identity on the wire (VRID, version, address family, sockets, advert source).
 */
export type Reconfigurable = Pick<InstanceConfig, 'priority' | 'advertIntervalUs' | 'preempt' | 'preemptDelayUs' | 'acceptMode' | 'lowerPrioNoAdvert' | 'higherPrioSendAdvert' | 'downTimerAdverts'>;
