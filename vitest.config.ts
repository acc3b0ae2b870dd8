import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// Integration tests start real kernels, children and databases: generous timeouts for a
// noisy 2-core machine, and at most two files at once so timing-sensitive supervision
// tests are not starved.
export default defineConfig({
  // a module's own tests import the test kit by its package name; from source here, as in
  // `hubctl test` (tsc resolves the same name through package.json "exports")
  resolve: { alias: { 'bmc-hub/testing': fileURLToPath(new URL('./shared/testing/index.ts', import.meta.url)) } },
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
