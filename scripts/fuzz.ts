/**
 * Nightly-size fuzz of the receive path: `npm run fuzz -- [cases] [seed]` (default 10 000 000).
 * Arbitrary bytes and mutations of every real captured frame; the decoders must never throw.
 * Prints the number of cases run and the seed (to replay a failure).
 */
import fc from 'fast-check';
import { readFileSync, readdirSync } from 'node:fs';
import { classifyFrame } from '../src/protocol/frame.js';
import { receiveVrrp } from '../src/protocol/vrrp.js';

const total = Number(process.argv[2] ?? 10_000_000);
const seed = Number(process.argv[3] ?? Date.now() % 2 ** 31);
const dir = new URL('../test/fixtures/', import.meta.url);
const frames = readdirSync(dir)
  .filter((f) => f.endsWith('.expected.json'))
  .flatMap((f) => (JSON.parse(readFileSync(new URL(f, dir), 'utf8')) as { packets: { frame_hex: string }[] }).packets)
  .map((p) => Buffer.from(p.frame_hex, 'hex'));

let count = 0;
const half = Math.floor(total / 2);
const t0 = performance.now();
fc.assert(
  fc.property(fc.uint8Array({ maxLength: 300 }), fc.constantFrom<4 | 6>(4, 6), fc.integer({ min: 0, max: 255 }), (payload, family, ttl) => {
    count++;
    const a = new Uint8Array(family === 4 ? 4 : 16);
    receiveVrrp({ family, src: a, dst: a, ttl, payload }, { version: 3, vrid: 1, addresses: [] });
  }),
  { numRuns: half, seed },
);
fc.assert(
  fc.property(fc.constantFrom(...frames), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }), fc.nat(), (frame, flips, cut) => {
    count++;
    const m = Buffer.from(frame);
    for (const [pos, val] of flips) m[pos % m.length] = val;
    classifyFrame(1, m.subarray(0, cut % (m.length + 1)));
  }),
  { numRuns: total - half, seed },
);
const s = (performance.now() - t0) / 1000;
console.log(`fuzz: ${count} cases, 0 failures, seed ${seed}, ${s.toFixed(1)} s (${Math.round(count / s)} cases/s)`);
