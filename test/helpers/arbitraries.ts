import fc from 'fast-check';
import { formatIP } from '../../src/protocol/addr.js';
import type { ChecksumMode, VrrpAdvert } from '../../src/protocol/vrrp.js';

export const addrArb = (family: 4 | 6): fc.Arbitrary<string> =>
  fc.uint8Array({ minLength: family === 4 ? 4 : 16, maxLength: family === 4 ? 4 : 16 }).map((b) => formatIP(family, b));

export interface AdvertCase {
  advert: VrrpAdvert;
  src: string;
  dst: string;
  mode: ChecksumMode;
}

/** Any representable advert with a consistent IP src/dst and checksum mode. */
export const advertCaseArb: fc.Arbitrary<AdvertCase> = fc
  .constantFrom<[2 | 3, 4 | 6]>([2, 4], [3, 4], [3, 6])
  .chain(([version, family]) =>
    fc.record({
      advert: fc.record({
        version: fc.constant(version),
        family: fc.constant(family),
        vrid: fc.integer({ min: 0, max: 255 }),
        priority: fc.integer({ min: 0, max: 255 }),
        interval: fc.integer({ min: 1, max: version === 3 ? 4095 : 255 }),
        addresses: fc.array(addrArb(family), { maxLength: 255, size: 'small' }),
        ...(version === 2
          ? { authType: fc.integer({ min: 0, max: 2 }), authData: fc.uint8Array({ minLength: 8, maxLength: 8 }) }
          : {}),
      }) as fc.Arbitrary<VrrpAdvert>,
      src: addrArb(family),
      dst: fc.oneof(fc.constant(family === 4 ? '224.0.0.18' : 'ff02::12'), addrArb(family)),
      mode: fc.constantFrom<ChecksumMode>(
        ...((version === 2 ? ['v2'] : family === 6 ? ['pseudo-header'] : ['pseudo-header', 'no-pseudo-header', 'pseudo-header-group']) as ChecksumMode[]),
      ),
    }),
  );

/** Number of runs: CI default 100 000 for the cheap decoder properties; FC_RUNS overrides. */
export const RUNS = Number(process.env.FC_RUNS ?? 100_000);
