#!/usr/bin/env node
/**
 * Bundles each CLI (src/cli/*.ts; esbuild strips the types) into one CommonJS file in dist/bin/.
 * Why: Node 20's ESM loader costs ~65 ms at start for our ~40 modules and their
 * dependencies; one CommonJS file starts in a fraction of that (docs/BENCHMARKS.md,
 * "Start-up"). dist/bin/ is two levels below the package root, like dist/os/, so the
 * addon path in src/os/native.ts resolves the same. prom-client stays external: it is
 * only loaded with --metrics.
 */
import { build } from 'esbuild';

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
}
