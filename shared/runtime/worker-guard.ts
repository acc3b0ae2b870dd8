// Node's permission model binds a child's worker threads too, unless a worker is started
// with its own execArgv or an environment carrying NODE_OPTIONS: `new Worker(src, { env:
// { NODE_OPTIONS: '--allow-fs-read=*' } })` reads any file (issue 11, item 2). Before any
// module code loads, worker_threads.Worker is replaced by a guard that refuses both; the
// hub's own task pool (piscina) passes neither and keeps working.
import { syncBuiltinESMExports } from 'node:module';
import workerThreads, { SHARE_ENV } from 'node:worker_threads';

/** Why a Worker's options would widen the child's permissions, or null when they do not. */
export function widensPermissions(options: unknown): string | null {
  const o = (options ?? {}) as { execArgv?: unknown; env?: unknown };
  if (Array.isArray(o.execArgv) && o.execArgv.length > 0) return 'a Worker may not be given execArgv in a module child';
  // no env (or SHARE_ENV) means process.env, which module code can write to as well
  const env = o.env === undefined || o.env === SHARE_ENV ? process.env : o.env;
  if (env && typeof env === 'object' && Object.keys(env).some((k) => k.toUpperCase() === 'NODE_OPTIONS')) {
    return 'a Worker may not be given NODE_OPTIONS in a module child';
  }
  return null;
}

let installed = false;

/**
 * Replaces worker_threads.Worker (CommonJS and ESM views alike) with a Proxy whose
 * construct trap refuses permission-widening options with ERR_ACCESS_DENIED. A Proxy, not a
 * subclass: a subclass's prototype chain would hand module code the original constructor.
 */
export function guardWorkers(): void {
  if (installed) return;
  installed = true;
  delete process.env.NODE_OPTIONS;
  const Original = workerThreads.Worker;
  const Guarded: typeof Original = new Proxy(Original, {
    construct(target, args: unknown[], newTarget): object {
      const why = widensPermissions(args[1]);
      if (why) throw Object.assign(new Error(why), { code: 'ERR_ACCESS_DENIED' });
      return Reflect.construct(target, args, newTarget === Guarded ? target : newTarget) as object;
    },
  });
  Object.defineProperty(Original.prototype, 'constructor', { value: Guarded, writable: false, configurable: false });
  Object.defineProperty(workerThreads, 'Worker', { value: Guarded, writable: false, configurable: false, enumerable: true });
  syncBuiltinESMExports();
}
