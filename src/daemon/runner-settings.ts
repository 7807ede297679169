/**
 * What an instance's model says about the adverts it sends and accepts (pure): the advert
 * (RFC 9568 5.2 / RFC 3768 5.3 fields), the receive expectation (RFC 9568 7.1 checks), the
 * unicast peers' TTL ranges, and the drop log that names the instance. Made at the runner's
 * construction and again on an in-place reload.
 */
import type { Logger } from 'pino';
import type { InstanceModel } from '../config/model.js';
import { usToIntervalField } from '../core/timers.js';
import { parseIP } from '../protocol/addr.js';
import type { Expectation, VrrpAdvert } from '../protocol/vrrp.js';
import { DropLog } from './drop-log.js';

export interface AdvertSettings {
  advert: VrrpAdvert;
  expect: Expectation;
  /** unicast_peer { ADDR min_ttl N max_ttl M }: the accepted TTL range per peer (null: none given). */
  ttlRanges: Map<string, { min: number; max: number }> | null;
  /** Warnings for adverts dropped for a reason the operator can fix (rate-limited). */
  dropLog: DropLog;
}

export function advertSettings(model: InstanceModel, log: Logger): AdvertSettings {
  const authData = model.authType === 1 ? Buffer.alloc(8) : undefined;
  if (authData) authData.write(model.authPass ?? '', 'latin1');
  const advert: VrrpAdvert = {
    version: model.version, family: model.family, vrid: model.vrid, priority: model.priority,
    interval: usToIntervalField(model.version, model.advertIntervalUs), addresses: model.vips.map((v) => v.address),
    ...(model.version === 2 ? { authType: model.authType, authData } : {}),
  };
  const expect: Expectation = {
    // skip_check_adv_addr: the VIP list in adverts is not compared (no drop, no warning)
    version: model.version, vrid: model.vrid, addresses: model.skipCheckAdvAddr ? undefined : advert.addresses,
    // unicast: any TTL here, the peer's min_ttl..max_ttl in onPacket (keepalived 2.2.7)
    ...(model.unicastPeers.length ? { ttl: { min: 0, max: 255 } } : {}),
    ...(model.version === 2 ? { authType: model.authType, authData, interval: advert.interval } : {}),
  };
  const ranges = model.unicastPeers.filter((u) => u.minTtl !== null || u.maxTtl !== null).map((u) => [u.address, { min: u.minTtl ?? 0, max: u.maxTtl ?? 255 }] as const);
  return {
    advert, expect, ttlRanges: ranges.length ? new Map(ranges) : null,
    dropLog: new DropLog(log, { instance: model.name, vrid: model.vrid, version: model.version, intervalUs: model.advertIntervalUs, vips: advert.addresses }),
  };
}

/**
 * Bytes of a source address, one copy per address (the instances of an interface share it;
 * nobody writes to them). Bounded by the number of interfaces and unicast sources.
 */
const sourceBytes = new Map<string, Uint8Array>();
export function sharedBytes(text: string): Uint8Array {
  let b = sourceBytes.get(text);
  if (!b) sourceBytes.set(text, (b = ipBytes(text)));
  return b;
}

/** Bytes of an address the config model already validated. */
function ipBytes(text: string): Uint8Array {
  const p = parseIP(text);
  if (!p) throw new Error(`bad address ${text}`);
  return p.bytes;
}

/** An address entry as a reload compares it (its line in the file does not count). */
export function vipKey(v: InstanceModel['vips'][number]): string {
  return JSON.stringify({ ...v, pos: undefined });
}
