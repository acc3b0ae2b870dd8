// An operator's restart (admin API, dashboard, hubctl restart) leaves a line in the kernel's
// log and in the module's own log, naming the old and new pid: before, a restart left no trace
// in `hubctl logs <name>` (found following the README from a clean clone).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startKernel, stopAllKernels, type RunningKernel } from './helpers/kernel.js';
import { helloRouter, tempDir, writeModule } from './helpers/modules.js';
import { waitFor } from './helpers/wait.js';

let k: RunningKernel;

beforeAll(async () => {
  const modulesDir = tempDir('restart-log');
  writeModule(modulesDir, 'alpha', { router: helloRouter });
  k = await startKernel({ modulesDir });
  await k.waitForState('alpha', 'running');
}, 60_000);

afterAll(async () => {
  await stopAllKernels();
});

it('a restart is logged with the old and the new pid, in the kernel log and the module log', async () => {
  const before = (await k.record('alpha')).pid as number;
  const res = await k.admin('/api/v1/modules/alpha/restart', { method: 'POST' });
  expect(res.status).toBe(200);
  const after = ((await res.json()) as { pid: number }).pid;
  expect(after).not.toBe(before);
  const line = `alpha restarted: pid ${before} → ${after}`;
  await k.waitForLog(new RegExp(line));
  const moduleLog = join(k.dataDir, 'logs', 'alpha.log');
  await waitFor(() => readFileSync(moduleLog, 'utf8').includes(line), { what: `"${line}" in ${moduleLog}` });
}, 60_000);
