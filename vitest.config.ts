import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Namespace tests share the kernel; run files one at a time to keep timing honest.
    fileParallelism: false,
    // The JSON report feeds the plain "N passed, N failed" line that scripts/test.sh prints.
    reporters: ['default', ['json', { outputFile: 'node_modules/.cache/vitest-results.json' }]],
  },
});
