// ctx.tasks: CPU-heavy module code runs in a piscina pool inside the module's child,
// so the child's event loop (its HTTP answers and heartbeats) never waits for it.
// The pool is created on first use: most modules never run a task and should not
// pay for worker threads at start-up.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Piscina } from 'piscina';
import type { Tasks } from '../module-api.js';
import { HubError } from '../errors.js';

const TASK_NAME_RE = /^[a-zA-Z0-9_-]{1,64}$/;

export interface TaskPool extends Tasks {
  close(): Promise<void>;
}

export function createTaskPool(buildDir: string, workers: number, defaultTimeoutMs = 60_000): TaskPool {
  let pool: Piscina | undefined;
  let creating: Promise<Piscina> | undefined;

  const getPool = () =>
    (creating ??= import('piscina').then(({ Piscina }) => {
      pool = new Piscina({ maxThreads: workers, minThreads: 0, idleTimeout: 30_000 });
      return pool;
    }));

  return {
    async run<T>(name: string, payload: unknown, opts: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<T> {
      if (!TASK_NAME_RE.test(name)) throw new HubError('bad_request', `invalid task name ${JSON.stringify(name)}`);
      const file = join(buildDir, 'backend', 'tasks', `${name}.js`);
      if (!existsSync(file)) throw new HubError('task_failed', `no task "${name}": add backend/tasks/${name}.ts`);
      const p = await getPool();
      const timeoutMs = opts.timeoutMs ?? defaultTimeoutMs;
      const signals = [AbortSignal.timeout(timeoutMs), ...(opts.signal ? [opts.signal] : [])];
      const signal = AbortSignal.any(signals);
      try {
        return (await p.run(payload, { filename: pathToFileURL(file).href, signal })) as T;
      } catch (e) {
        if (signal.aborted && !opts.signal?.aborted) {
          throw new HubError('task_timeout', `task "${name}" took longer than ${timeoutMs} ms and was stopped`);
        }
        if (e instanceof HubError) throw e;
        throw new HubError('task_failed', `task "${name}" failed: ${(e as Error)?.message ?? String(e)}`);
      }
    },
    async close() {
      await pool?.close({ force: false }).catch(() => undefined);
      await pool?.destroy().catch(() => undefined);
    },
  };
}
