/**
 * `npm run sim -- [--seeds N] [--first S] [--seed S] [--trace]`: run N seeded scenarios
 * (default 100 000) or replay one seed with its full event trace.
 */
import { runMany, runScenario } from '../src/sim/scenario.js';

const args = process.argv.slice(2);
const opt = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const one = opt('--seed');
if (one !== undefined) {
  const r = runScenario(Number(one));
  console.log(r.trace.join('\n'));
  console.log(r.ok ? `seed ${one}: ok (${r.transitions} transitions)` : `seed ${one}: FAILED: ${r.error}`);
  process.exit(r.ok ? 0 : 1);
}
const n = Number(opt('--seeds') ?? 100_000);
const first = Number(opt('--first') ?? 1);
const t0 = performance.now();
const { ran, failures } = runMany(first, n);
const s = (performance.now() - t0) / 1000;
console.log(`sim: ${ran} scenarios (seeds ${first}..${first + n - 1}), ${failures.length} failed, ${s.toFixed(1)} s`);
for (const f of failures.slice(0, 5)) console.log(`  FAILED ${f.summary}: ${f.error}  (replay: npm run sim -- --seed ${f.seed})`);
process.exit(failures.length ? 1 : 0);
