// Issue 14, item 7: a timed-out task's worker is stopped and the queue moves on: a task
// queued behind it (10 s deadline) runs right after the first one's 1 s deadline, with 1 or 2 workers.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startKernel, stopAllKernels } from './helpers/kernel.js';
import { createTaskPool } from '../shared/runtime/tasks.js';
import { tempDir, writeModule } from './helpers/modules.js';
import { waitFor } from './helpers/wait.js';

const dir = tempDir('tasks');
mkdirSync(join(dir, 'backend', 'tasks'), { recursive: true });
writeFileSync(join(dir, 'backend', 'tasks', 'spin.js'), 'export default function () { for (;;) {} }\n');
writeFileSync(join(dir, 'backend', 'tasks', 'quick.js'), 'export default function (p) { return { ok: p }; }\n');

afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await stopAllKernels();
});

describe('tasks queued behind a timed-out task (item 7)', () => {
  for (const workers of [1, 2]) {
    it(`${workers} worker(s): the queued task runs within 3 s, not at its own 10 s deadline`, async () => {
      const pool = createTaskPool(dir, workers);
      try {
        const t0 = Date.now();
        const spins = Array.from({ length: workers }, () => pool.run('spin', null, { timeoutMs: 1000 }).then(() => 'done', (e) => e.code));
        const quick = await pool.run<{ ok: number }>('quick', 7, { timeoutMs: 10_000 });
        const ms = Date.now() - t0;
        console.log(`${workers} worker(s): queued task done ${ms} ms after submit (blocker's deadline 1000 ms)`);
        expect(quick).toEqual({ ok: 7 });
        expect(ms).toBeLessThan(3000);
        expect(await Promise.all(spins)).toEqual(Array(workers).fill('task_timeout'));
      } finally {
        await pool.close();
      }
    });
  }
});

describe('the same through ctx.tasks.run in a module child (item 7, the issue\'s input)', () => {
  for (const workers of [1, 2]) {
    it(`workers: ${workers}: a task with a 10 s deadline queued behind timed-out ones answers 200 within 3 s, not 504`, async () => {
      const modulesDir = tempDir('modules');
      writeModule(modulesDir, 'crunch', {
        manifest: { workers },
        files: {
          'backend/tasks/spin.js': 'export default function () { for (;;) {} }\n',
          'backend/tasks/quick.js': 'export default function (p) { return { ok: p }; }\n',
        },
        router: `let blocking = 0;
export default (router, ctx) => {
  router.get('/blocking', (req, res) => res.json({ blocking }));
  router.get('/block', async (req, res) => {
    blocking++;
    try { res.json(await ctx.tasks.run('spin', null, { timeoutMs: 1000 })); } catch (e) { res.status(504).json({ error: e.code }); } finally { blocking--; }
  });
  router.get('/quick', async (req, res) => res.json(await ctx.tasks.run('quick', 7, { timeoutMs: 10_000 })));
};`,
      });
      const k = await startKernel({ modulesDir });
      try {
        // warm the pool so the first timing is not the pool's start
        expect((await k.get('/api/v1/crunch/quick')).status).toBe(200);
        const t0 = Date.now();
        const blocks = Array.from({ length: workers }, () => k.get('/api/v1/crunch/block').then((r) => r.json()));
        // every worker is busy with a spinning task before the quick one is asked for
        await waitFor(async () => ((await k.json('/api/v1/crunch/blocking')).blocking === workers ? true : undefined), { intervalMs: 20, what: 'the blocking tasks running' });
        const quick = await k.get('/api/v1/crunch/quick', { signal: AbortSignal.timeout(15_000) });
        const ms = Date.now() - t0;
        console.log(`ctx.tasks.run, ${workers} worker(s): queued task answered ${quick.status} after ${ms} ms`);
        expect(quick.status).toBe(200);
        expect(await quick.json()).toEqual({ ok: 7 });
        expect(ms).toBeLessThan(3000);
        expect(await Promise.all(blocks)).toEqual(Array(workers).fill({ error: 'task_timeout' }));
      } finally {
        await k.stop();
      }
    });
  }
});
