// Issue 14, item 7: a timed-out task's worker is stopped and the queue moves on: a task
// queued behind it (10 s deadline) runs right after the first one's 1 s deadline, with 1 or 2 workers.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createTaskPool } from '../shared/runtime/tasks.js';
import { tempDir } from './helpers/modules.js';

const dir = tempDir('tasks');
mkdirSync(join(dir, 'backend', 'tasks'), { recursive: true });
writeFileSync(join(dir, 'backend', 'tasks', 'spin.js'), 'export default function () { for (;;) {} }\n');
writeFileSync(join(dir, 'backend', 'tasks', 'quick.js'), 'export default function (p) { return { ok: p }; }\n');

afterAll(() => rmSync(dir, { recursive: true, force: true }));

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
