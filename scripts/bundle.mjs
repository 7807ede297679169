#!/usr/bin/env node
/**
 * Bundles each CLI (src/cli/*.ts; esbuild strips the types) into one CommonJS file in dist/bin/.
 * Why: Node 20's ESM loader costs ~65 ms at start for our ~40 modules and their
 * dependencies; one CommonJS file starts in a fraction of that (docs/BENCHMARKS.md,
 * "Start-up"). dist/bin/ is two levels below the package root, like dist/os/, so the
 * addon path in src/os/native.ts resolves the same. prom-client stays external: it is
 * only loaded with --metrics.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { build } from 'esbuild';

/**
 * Node options for the daemon, in its #! line (env -S splits them), measured at 1000
 * instances (docs/BENCHMARKS.md): V8's young generation capped at 1 MiB semi-spaces (its
 * garbage is a few short-lived objects per packet; the default lets new space grow to ~30 MB
 * of RSS); one V8 worker thread (the optimizing compiler's zone memory stayed in four
 * threads' malloc arenas: 6-7 MB); --optimize-for-size (smaller old-generation growth).
 * These only work on the command line: set at run time they do not resize the heap.
 * src/lab/cli-command.ts reads the flags back from this line.
 */
const NODE_FLAGS = { vipd: '--max-semi-space-size=1 --v8-pool-size=1 --optimize-for-size', vipctl: '' };

for (const cli of ['vipd', 'vipctl']) {
  await build({
    entryPoints: [`src/cli/${cli}.ts`],
    outfile: `dist/bin/${cli}.cjs`,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external: ['prom-client'],
    // import.meta does not exist in CommonJS: give the bundle its own file URL.
    define: { 'import.meta.url': '__vipdBundleUrl' },
    banner: { js: "const __vipdBundleUrl = require('node:url').pathToFileURL(__filename).href;" },
    logLevel: 'warning',
  });
  const out = `dist/bin/${cli}.cjs`;
  const text = readFileSync(out, 'utf8').replace(/^#!.*\n/, '');
  const shebang = NODE_FLAGS[cli] ? `#!/usr/bin/env -S node ${NODE_FLAGS[cli]}` : '#!/usr/bin/env node';
  writeFileSync(out, `${shebang}\n${text}`, { mode: 0o755 });
}
