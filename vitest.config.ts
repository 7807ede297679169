import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Namespace tests share the kernel; run files one at a time to keep timing honest.
    fileParallelism: false,
  },
});
