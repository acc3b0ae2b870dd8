// Runs around every test file (vitest setupFiles): whatever a file's own hooks leave, the
// kernels it started are stopped and the temp folders it made are removed afterwards, also
// when a test failed half-way.
import { afterAll } from 'vitest';
import { stopAllKernels } from './kernel.js';
import { removeTempDirs } from './modules.js';

afterAll(async () => {
  await stopAllKernels();
  removeTempDirs();
});
