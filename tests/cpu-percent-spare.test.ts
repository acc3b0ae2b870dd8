// A module restarted onto a warm spare (kernel/spare-pool.ts) must not be charged the CPU the
// spare spent starting Node: right after a restart the record's cpu_percent once read 700-1600 %
// on a 2-core box (found following the README from a clean clone).
import { cpus } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKernel, stopAllKernels, type RunningKernel } from './helpers/kernel.js';
import { helloRouter, tempDir, writeModule } from './helpers/modules.js';
import { waitFor } from './helpers/wait.js';

let k: RunningKernel;

beforeAll(async () => {
  const modulesDir = tempDir('cpu-spare');
  writeModule(modulesDir, 'alpha', { router: helloRouter });
  k = await startKernel({ modulesDir, env: { HUB_SPARE_CHILDREN: '1' } });
  await k.waitForState('alpha', 'running');
}, 60_000);

afterAll(async () => {
  await stopAllKernels();
});

describe('cpu_percent of a module that took a warm spare', () => {
  it('stays within what the machine can do, right after each of three restarts', async () => {
    // CPU time over wall time cannot exceed the core count; +100 allows one 10 ms /proc tick over a short first window
    const bound = 100 * cpus().length + 100;
    const seen: number[] = [];
    for (let round = 0; round < 3; round++) {
      const before = (await k.record('alpha')).pid;
      const res = await k.admin('/api/v1/modules/alpha/restart', { method: 'POST' });
      expect(res.status).toBe(200);
      const answer = (await res.json()) as { pid: number; cpu_percent: number | null };
      expect(answer.pid).not.toBe(before);
      if (answer.cpu_percent !== null) seen.push(answer.cpu_percent);
      const now = await k.record('alpha');
      if (now.cpu_percent !== null) seen.push(now.cpu_percent);
      // the pool refills after a spare is taken: wait for a settled child before the next round
      await waitFor(async () => ((await k.record('alpha')).uptime_ms > 2500 ? true : undefined), { timeoutMs: 30_000, what: 'alpha settled' });
    }
    expect(seen.length).toBeGreaterThan(0);
    expect(Math.max(...seen)).toBeLessThanOrEqual(bound);
  }, 120_000);
});
