// A module that cannot stay up ends `failed` without a restart storm, and a module
// next to it keeps answering every request while that happens.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKernel, stopAllKernels, type RunningKernel } from './helpers/kernel.js';
import { staysTrue } from './helpers/wait.js';
import { helloRouter, tempDir, writeModule } from './helpers/modules.js';

let k: RunningKernel;

beforeAll(async () => {
  const modulesDir = tempDir('modules');
  // starts fine, then dies 50 ms later, every time
  writeModule(modulesDir, 'looper', {
    router: `export default (router) => { router.get('/hello', (req, res) => res.json({ pid: process.pid })); setTimeout(() => process.exit(7), 50); };`,
  });
  writeModule(modulesDir, 'throws_at_load', { router: `throw new Error('cannot import this module');\nexport default () => {};` });
  writeModule(modulesDir, 'never_ready', { router: `export default () => new Promise(() => {});` });
  writeModule(modulesDir, 'not_a_function', { router: `export default 42;` });
  writeModule(modulesDir, 'steady', { router: helloRouter });
  k = await startKernel({
    modulesDir,
    env: { HUB_CRASH_LIMIT: '4', HUB_CRASH_WINDOW_MS: '60000', HUB_START_TIMEOUT_MS: '4000', HUB_BACKOFF_BASE_MS: '50' },
  });
});

afterAll(stopAllKernels);

describe('crash loops and isolation', () => {
  it('keeps serving a healthy module with 100% success while another crash-loops', async () => {
    let ok = 0;
    let failed = 0;
    const deadline = Date.now() + 4000;
    const loop = async () => {
      while (Date.now() < deadline) {
        const res = await k.get('/api/v1/steady/hello');
        if (res.status === 200) ok++;
        else failed++;
        await res.arrayBuffer();
      }
    };
    await Promise.all([loop(), loop(), loop(), k.waitForState('looper', 'failed', 30_000)]);
    expect(failed).toBe(0);
    expect(ok).toBeGreaterThan(50);
  });

  it('ends a crash loop in failed, logged once, with no further restarts', async () => {
    const rec = await k.waitForState('looper', 'failed', 30_000);
    expect(rec.last_error).toMatch(/crash loop: 4 crashes within 60 s; last: exit: exited with code 7/);
    const restarts = rec.restarts;
    const failLines = () => k.lines.filter((l) => l.includes('Could not load module looper')).length;
    expect(failLines()).toBe(1);
    // watch for a storm for a second: the count must not move
    await staysTrue(async () => (await k.record('looper')).restarts === restarts && failLines() === 1, { ms: 1000, what: 'no restart after failed' });
    expect(failLines()).toBe(1);
    const res = await k.get('/api/v1/looper/hello');
    expect(res.status).toBe(503);
  });

  it('reports a module that throws at import with its error', async () => {
    const rec = await k.waitForState('throws_at_load', 'failed', 30_000);
    expect(rec.last_error).toContain('cannot import this module');
  });

  it('kills a module that never reports ready, counted as a crash', async () => {
    const rec = await k.waitForState('never_ready', 'failed', 60_000);
    expect(rec.last_error).toMatch(/start_timeout: not ready within 4000 ms/);
  });

  it('explains a router without a function as default export', async () => {
    const rec = await k.waitForState('not_a_function', 'failed', 30_000);
    expect(rec.last_error).toContain('backend/router.ts must have a default export: a function');
  });

  it('shows degraded health and leaves the kernel up', async () => {
    const health = await k.json('/health');
    expect(health.status).toBe('degraded');
    expect(health.modules.steady).toBe('running');
    expect(k.proc.exitCode).toBeNull();
  });
});
