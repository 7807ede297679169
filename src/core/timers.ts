/**
 * VRRP timer arithmetic. All times are in microseconds so that the values keepalived uses
 * (it computes in microseconds) are reproduced exactly; helpers give the RFC's units.
 */

export type Version = 2 | 3;

/**
 * Skew_Time (RFC 9568 6.1 for v3: ((256 - Priority) * Master_Adver_Interval) / 256;
 * RFC 3768 6.1 for v2: (256 - Priority) / 256 seconds), in microseconds.
 */
export function skewTimeUs(version: Version, priority: number, masterAdverIntervalUs: number): number {
  if (version === 2) return Math.floor(((256 - priority) * 1_000_000) / 256);
  return Math.floor(((256 - priority) * masterAdverIntervalUs) / 256);
}

/**
 * Master_Down_Interval = 3 * Master_Adver_Interval + Skew_Time (RFC 9568 6.1, RFC 3768 6.1).
 * keepalived's `down_timer_adverts` N (1..100) replaces the 3.
 */
export function masterDownIntervalUs(version: Version, priority: number, masterAdverIntervalUs: number, downTimerAdverts = 3): number {
  return downTimerAdverts * masterAdverIntervalUs + skewTimeUs(version, priority, masterAdverIntervalUs);
}

/** The same in whole centiseconds with the RFC's integer division (for reports and examples). */
export function skewTimeCs(priority: number, masterAdverIntervalCs: number): number {
  return Math.floor(((256 - priority) * masterAdverIntervalCs) / 256);
}

export function masterDownIntervalCs(priority: number, masterAdverIntervalCs: number): number {
  return 3 * masterAdverIntervalCs + skewTimeCs(priority, masterAdverIntervalCs);
}

/** Interval field of an advert (centiseconds for v3, seconds for v2) in microseconds. */
export function intervalFieldToUs(version: Version, field: number): number {
  return version === 3 ? field * 10_000 : field * 1_000_000;
}

export function usToIntervalField(version: Version, us: number): number {
  return version === 3 ? Math.round(us / 10_000) : Math.round(us / 1_000_000);
}
