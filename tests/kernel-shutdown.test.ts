// Stopping the kernel, gently or not, leaves no module process behind.
import { afterAll, describe, expect, it } from 'vitest';
import { startKernel, stopAllKernels } from './helpers/kernel.js';
import { helloRouter, tempDir, writeModule } from './helpers/modules.js';
import { pidAlive, waitFor } from './helpers/wait.js';

afterAll(stopAllKernels);

async function kernelWithChildren() {
  const modulesDir = tempDir('modules');
  writeModule(modulesDir, 'one', { router: helloRouter });
  writeModule(modulesDir, 'two', { router: helloRouter });
  // a module that ignores the drain request: it must still be gone after the drain timeout
  writeModule(modulesDir, 'stubborn', {
    router: `export default (router) => { router.get('/hello', (req, res) => res.json({ pid: process.pid })); process.on('message', () => {}); setInterval(() => {}, 1000); };`,
  });
  const k = await startKernel({ modulesDir, env: { HUB_DRAIN_MS: '1000' } });
  const pids = await Promise.all(['one', 'two', 'stubborn'].map(async (n) => (await k.record(n)).pid as number));
  expect(pids.every((p) => p > 0 && pidAlive(p))).toBe(true);
  return { k, pids };
}

describe('kernel shutdown', () => {
  it('SIGTERM drains and stops every child, then exits 0', async () => {
    const { k, pids } = await kernelWithChildren();
    const code = await k.stop('SIGTERM');
    expect(code).toBe(0);
    expect(pids.filter(pidAlive)).toEqual([]);
    expect(k.lines.join('\n')).toContain('👋 Stopped');
  });

  it('SIGINT does the same', async () => {
    const { k, pids } = await kernelWithChildren();
    expect(await k.stop('SIGINT')).toBe(0);
    expect(pids.filter(pidAlive)).toEqual([]);
  });

  it('after a kernel SIGKILL no child is alive within 2 s', async () => {
    const { k, pids } = await kernelWithChildren();
    await k.stop('SIGKILL');
    const killedAt = Date.now();
    await waitFor(() => pids.every((p) => !pidAlive(p)), { timeoutMs: 5000, what: 'orphans to exit' });
    expect(Date.now() - killedAt).toBeLessThan(2000);
  });
});
