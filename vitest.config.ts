/**
 * Two vitest projects, run one after the other in one `vitest run` (one JSON report):
 *
 * - `pure` (sequence.groupOrder 0, two files at a time): files that create no network
 *   namespace of their own, start no daemon and assert no tight wall-clock bound. They may
 *   still run `keepalived -t` (a config check: no socket, under `unshare -n` at most), tshark
 *   on pcap files, short-lived scripts, or the CLIs on files.
 * - `serial` (groupOrder 1, one file at a time, only after every pure file has finished):
 *   everything else. Namespace tests share the kernel and measure failover times; nothing
 *   else runs beside them, so their timing stays honest.
 *
 * A file is pure only if its path is in PURE_PATHS and its text matches no SERIAL_MARKERS and
 * it is not in TIMED: a new file elsewhere runs serial (safe, only slower), and a file in a
 * pure directory that uses the namespace helpers is moved to serial by its imports. See which
 * file runs where with `npx vitest list --filesOnly --project pure` (or `serial`).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { configDefaults, defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

const ROOT = fileURLToPath(new URL('.', import.meta.url));

/** Paths (from the repository root) of the files that may be pure. */
const PURE_PATHS = [
  /^test\/(?:core|config|property|sim|unit)\//,
  /^test\/cli\/(?:check-scripts|keepalived-argv|logger|sniff)\.test\.ts$/,
  /^test\/interop\/tshark\.test\.ts$/,
];

/**
 * Code that makes a file serial wherever it is: the lab (named namespaces); the helpers that
 * start vipd, keepalived, haproxy, tcpdump or agents in it; `ip netns` as a command (a quoted
 * word, not one in a message); tcpdump or haproxy spawned directly.
 * helpers/keepalived-check*.js (`keepalived -t`, a config check) stay pure.
 */
const SERIAL_MARKERS = [
  /lab\/netns\.js|\bNetnsLab\b/,
  /helpers\/(?:vipd|keepalived|lab-daemons|agent|ns-agent|sniffer|haproxy|wire-capture|holders)\.js/,
  /['"`]ip netns\b|['"]netns['"]|\b(?:spawn|spawnSync|execFile|execFileSync)\(\s*['"](?:tcpdump|haproxy)['"]/,
];

/**
 * Pure by the rules above but with a wall-clock bound that a busy second worker breaks:
 * script-runner's "50 spawns hold the event loop < 100 ms" (2-29 ms alone, up to 68 ms
 * beside two busy loops on 2 cores).
 */
const TIMED = new Set(['test/unit/script-runner.test.ts']);

/**
 * The slowest files, longest first, started first in their project so that the two pure
 * workers end together: config-fuzz (~80 s alone on 2 cores) on one, the rest (~65 s) on
 * the other; then logger, sniff, check-scripts, net ~6-8 s each. Vitest orders by the
 * durations it cached, but `npm ci` removes that cache (node_modules/.vite) and it then
 * starts the largest files first.
 */
const SLOW_FIRST = ['test/property/config-fuzz.test.ts', 'test/cli/logger.test.ts', 'test/cli/sniff.test.ts', 'test/cli/check-scripts.test.ts', 'test/config/net.test.ts'];

function isPure(path: string): boolean {
  if (!PURE_PATHS.some((re) => re.test(path)) || TIMED.has(path)) return false;
  const text = readFileSync(`${ROOT}${path}`, 'utf8');
  return !SERIAL_MARKERS.some((re) => re.test(text));
}

const testFiles = readdirSync(`${ROOT}test`, { recursive: true, encoding: 'utf8' })
  .map((p) => `test/${p.split('\\').join('/')}`)
  .filter((p) => p.endsWith('.test.ts'))
  .sort();
const PURE = testFiles.filter(isPure);

/** vitest's order (cached durations, else sizes), with SLOW_FIRST moved to the front. */
class SlowFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const rank = (s: TestSpecification): number => {
      const i = SLOW_FIRST.indexOf(s.moduleId.slice(ROOT.length));
      return i === -1 ? SLOW_FIRST.length : i;
    };
    // stable: groupOrder and project first (as BaseSequencer), then the slow files, then the rest
    return sorted
      .map((s, i) => ({ s, i }))
      .sort((a, b) => a.s.project.config.sequence.groupOrder - b.s.project.config.sequence.groupOrder || rank(a.s) - rank(b.s) || a.i - b.i)
      .map(({ s }) => s);
  }
}

export default defineConfig({
  test: {
    // (no top-level include: `extends: true` would add it to each project's own)
    testTimeout: 60_000,
    hookTimeout: 60_000,
    sequence: { sequencer: SlowFirstSequencer },
    // The JSON report feeds the plain "N passed, N failed" line that scripts/test.sh prints.
    reporters: ['default', ['json', { outputFile: 'node_modules/.cache/vitest-results.json' }]],
    projects: [
      {
        extends: true,
        test: { name: 'pure', include: PURE, fileParallelism: true, maxWorkers: 2, sequence: { groupOrder: 0 } },
      },
      {
        extends: true,
        // Namespace tests share the kernel; run files one at a time to keep timing honest.
        test: { name: 'serial', include: ['test/**/*.test.ts'], exclude: [...configDefaults.exclude, ...PURE], fileParallelism: false, maxWorkers: 1, sequence: { groupOrder: 1 } },
      },
    ],
  },
});
