import { defineConfig } from 'vitest/config';

// Integration tests start real kernels, children and databases: generous timeouts for a
// noisy 2-core machine, and at most two files at once so timing-sensitive supervision
// tests are not starved.
export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    // stops leftover kernels and removes every tempDir after each file
    setupFiles: ['tests/helpers/setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 2,
    fileParallelism: true,
    reporters: ['default'],
  },
});
