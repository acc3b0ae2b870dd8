// ctx.tasks: CPU-heavy module code runs in a piscina pool inside the module's child,
// so the child's event loop (its HTTP answers and heartbeats) never waits for it.
// The pool is created on first use: most modules never run a task and should not
// pay for worker threads at start-up.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Piscina } from 'piscina';
import type { Logger } from 'pino';
import type { Tasks } from '../module-api.js';
import { HubError } from '../errors.js';

const TASK_NAME_RE = /^[a-zA-Z0-9_-]{1,64}$/;

export interface TaskPoolOptions {
  /** Per-call deadline when the caller gives none; it covers time queued behind other tasks too. */
  defaultTimeoutMs?: number;
  /**
   * Lowers the workers' scheduling priority (Linux nice). On a machine with fewer cores than
   * busy threads, this is what keeps the event loop answering in milliseconds: the kernel
   * scheduler then prefers the child's main thread over a worker grinding through a task.
   */
  niceIncrement?: number;
  /** How long close() lets running tasks finish before the workers are terminated. */
  closeGraceMs?: number;
  log?: Pick<Logger, 'warn'>;
}

export interface TaskPool extends Tasks {
  close(): Promise<void>;
}

function availableTasks(dir: string): string[] {
  try {
    return readdirSync(dir).filter((f) => f.endsWith('.js')).map((f) => f.slice(0, -3)).sort();
  } catch {
    return [];
  }
}

export function createTaskPool(buildDir: string, workers: number, opts: TaskPoolOptions = {}): TaskPool {
  const { defaultTimeoutMs = 60_000, niceIncrement = process.platform === 'linux' ? 10 : 0, closeGraceMs = 1_000, log } = opts;
  const tasksDir = join(buildDir, 'backend', 'tasks');
  const known = new Set<string>();
  let pool: Piscina | undefined;
  let creating: Promise<Piscina> | undefined;
  let closing: Promise<void> | undefined;

  const getPool = () =>
    (creating ??= import('piscina').then(({ Piscina }) => {
      pool = new Piscina({
        maxThreads: Math.max(1, workers),
        // Every worker is kept (none retires when idle): piscina replaces a worker it stopped
        // for a timed-out task only up to minThreads, and with 0 the tasks queued behind it
        // waited out their own whole deadline (issue 14, item 7). The pool itself is still
        // made on first use, so a module that never runs a task pays nothing.
        minThreads: Math.max(1, workers),
        idleTimeout: 30_000,
        niceIncrement,
        closeTimeout: closeGraceMs,
      });
      // Without a listener, an 'error' event (a worker failing outside a task, or close()
      // timing out on a task that will not end) would be thrown and take the child down.
      pool.on('error', (err: Error) => log?.warn({ err: err?.message }, `⚠️ task pool: ${err?.message ?? String(err)}`));
      return pool;
    }));

  const taskFile = (name: string): string => {
    if (!TASK_NAME_RE.test(name)) throw new HubError('bad_request', `invalid task name ${JSON.stringify(name).slice(0, 80)}: use letters, digits, _ or -`);
    const file = join(tasksDir, `${name}.js`);
    if (!known.has(name)) {
      if (!existsSync(file)) {
        const have = availableTasks(tasksDir);
        throw new HubError('task_failed', `no task "${name}": add backend/tasks/${name}.ts (this module has ${have.length ? have.join(', ') : 'no tasks'})`, {
          task: name,
          available: have,
        });
      }
      known.add(name);
    }
    return file;
  };

  return {
    async run<T>(name: string, payload: unknown, runOpts: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<T> {
      if (closing) throw new HubError('module_not_running', `task "${name}" refused: the module is stopping`);
      const file = taskFile(name);
      const callerSignal = runOpts.signal;
      if (callerSignal?.aborted) throw new HubError('task_failed', `task "${name}" was aborted before it started`, { task: name, aborted: true });
      const timeoutMs = runOpts.timeoutMs ?? defaultTimeoutMs;
      // One controller per call, cleaned up afterwards: AbortSignal.any() on a long-lived
      // caller signal keeps a listener per call alive on Node 20.
      const ac = new AbortController();
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        ac.abort();
      }, timeoutMs);
      const onCallerAbort = () => ac.abort();
      callerSignal?.addEventListener('abort', onCallerAbort, { once: true });
      try {
        const p = await getPool();
        return (await p.run(payload, { filename: file, signal: ac.signal })) as T;
      } catch (e) {
        if (timedOut) throw new HubError('task_timeout', `task "${name}" took longer than ${timeoutMs} ms and was stopped`, { task: name, timeout_ms: timeoutMs });
        if (callerSignal?.aborted) throw new HubError('task_failed', `task "${name}" was aborted`, { task: name, aborted: true });
        if (e instanceof HubError) throw e;
        const message = e instanceof Error ? e.message : String(e);
        throw new HubError('task_failed', `task "${name}" failed: ${message}`, { task: name });
      } finally {
        clearTimeout(timer);
        callerSignal?.removeEventListener('abort', onCallerAbort);
      }
    },
    close() {
      // Runs once the child has stopped taking requests: tasks still running get a short
      // grace, then their workers are terminated, so the child exits within its drain time.
      closing ??= (async () => {
        const p = pool ?? (creating ? await creating.catch(() => undefined) : undefined);
        if (!p) return;
        await p.close({ force: true }).catch(() => undefined);
        await p.destroy().catch(() => undefined);
      })();
      return closing;
    },
  };
}
