// Issue 13: one error path end to end. A module's coded error (ctx.error) and a HubError with
// details (ctx.tasks) reach the client through the kernel with code, message and details.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKernel, stopAllKernels, type RunningKernel } from './helpers/kernel.js';
import { tempDir, writeModule } from './helpers/modules.js';

let k: RunningKernel;

beforeAll(async () => {
  const dir = tempDir('modules');
  writeModule(dir, 'coded', {
    router: `export default (router, ctx) => {
  router.get('/dup', () => { throw ctx.error(409, 'duplicate', 'already stored as 7', { id: 7 }); });
  router.get('/async', async () => { throw ctx.error(422, 'unrecognised_invoice', 'missing total', { missing: ['total'] }); });
  router.get('/bad-code', () => { throw ctx.error(200, 'Not A Code', 'oops'); });
  router.get('/task', async (req, res) => res.json(await ctx.tasks.run('nope', {})));
};`,
  });
  k = await startKernel({ modulesDir: dir });
});

afterAll(stopAllKernels);

describe('errors from a module to the client', () => {
  it('passes a coded error with its status and details, thrown or rejected', async () => {
    const dup = await k.get('/api/v1/coded/dup');
    expect(dup.status).toBe(409);
    expect(await dup.json()).toEqual({ error: 'duplicate', message: 'already stored as 7', details: { id: 7 } });
    const later = await k.get('/api/v1/coded/async');
    expect(later.status).toBe(422);
    expect(await later.json()).toEqual({ error: 'unrecognised_invoice', message: 'missing total', details: { missing: ['total'] } });
  });
  it('keeps a HubError\'s details (task_failed names the task)', async () => {
    const res = await k.get('/api/v1/coded/task');
    expect(res.status).toBe(500);
    const body = (await res.json()) as { error: string; details?: Record<string, unknown> };
    expect(body.error).toBe('task_failed');
    expect(body.details).toMatchObject({ task: 'nope' });
  });
  it('turns a malformed coded error into internal_error', async () => {
    const res = await k.get('/api/v1/coded/bad-code');
    expect(res.status).toBe(500);
    expect(((await res.json()) as { error: string }).error).toBe('internal_error');
  });
});
