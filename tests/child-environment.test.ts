// A child sees an allow-listed environment and only its own module's config keys.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKernel, stopAllKernels, type RunningKernel } from './helpers/kernel.js';
import { tempDir, writeModule } from './helpers/modules.js';

let k: RunningKernel;

const reporter = `export default (router, ctx) => {
  router.get('/env', (req, res) => res.json({
    env: Object.keys(process.env).sort(),
    apiKey: ctx.config.get('API_KEY') ?? null,
    other: ctx.config.get('SECRET') ?? null,
    fallback: ctx.config.get('MISSING', 'dflt'),
    readOnly: ctx.safety.readOnly,
    dryRun: ctx.safety.dryRun,
    execArgv: process.execArgv,
  }));
  router.post('/write', (req, res) => { if (!ctx.safety.allowWrite(res, 'write a thing')) return; res.json({ wrote: true }); });
};`;

beforeAll(async () => {
  const modulesDir = tempDir('modules');
  writeModule(modulesDir, 'first', { router: reporter, manifest: { max_memory_mb: 128 } });
  writeModule(modulesDir, 'second', { router: reporter });
  writeModule(modulesDir, 'third', { router: reporter });
  k = await startKernel({
    modulesDir,
    env: {
      HUB_ADMIN_TOKEN: 'kernel-secret-token',
      NODE_OPTIONS: '--max-http-header-size=20000',
      SOME_KERNEL_SECRET: 'x',
      MODULES__FIRST__API_KEY: 'first-key',
      MODULES__SECOND__SECRET: 'second-secret',
      MODULES__SECOND__READ_ONLY: 'false',
      MODULES__SECOND__DRY_RUN: 'true',
      MODULES__THIRD__READ_ONLY: 'false',
      MODULES__THIRD__DRY_RUN: 'false',
    },
  });
});

afterAll(stopAllKernels);

describe('child environment and config', () => {
  it('passes no kernel secrets and no NODE_OPTIONS to a child', async () => {
    const { env, execArgv } = await k.json('/api/v1/first/env');
    for (const banned of ['HUB_ADMIN_TOKEN', 'NODE_OPTIONS', 'SOME_KERNEL_SECRET', 'DATABASE_URL', 'MODULES__FIRST__API_KEY', 'MODULES__SECOND__SECRET']) {
      expect(env).not.toContain(banned);
    }
    expect(execArgv).toContain('--max-old-space-size=128');
  });

  it("gives each module its own keys and never another module's", async () => {
    const first = await k.json('/api/v1/first/env');
    const second = await k.json('/api/v1/second/env');
    expect(first).toMatchObject({ apiKey: 'first-key', other: null, fallback: 'dflt' });
    expect(second).toMatchObject({ apiKey: null, other: 'second-secret' });
  });

  it('has READ_ONLY and DRY_RUN on by default, and answers blocked writes the same way', async () => {
    expect(await k.json('/api/v1/first/env')).toMatchObject({ readOnly: true, dryRun: true });
    const blocked = await k.get('/api/v1/first/write', { method: 'POST' });
    expect(blocked.status).toBe(403);
    expect(await blocked.json() as any).toMatchObject({ success: false, message: 'READ_ONLY mode' });
    const dry = await k.get('/api/v1/second/write', { method: 'POST' });
    expect(dry.status).toBe(200);
    expect(await dry.json() as any).toMatchObject({ success: true, dry_run: true });
    const real = await k.get('/api/v1/third/write', { method: 'POST' });
    expect(await real.json() as any).toEqual({ wrote: true });
  });
});
