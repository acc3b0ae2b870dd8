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

/** Every option Node's Worker reads (node 20-24). Others it ignores, so they are not copied. */
const WORKER_OPTIONS = ['argv', 'env', 'eval', 'execArgv', 'name', 'resourceLimits', 'stderr', 'stdin', 'stdout', 'trackUnmanagedFds', 'transferList', 'workerData'] as const;

/**
 * The options as plain data, each read exactly once: what is checked is then what Node gets.
 * Checking the caller's own object would not do: a getter or a Proxy answers the check one
 * way and Node's later reads another (red team: an env Proxy listing no keys to the guard
 * and NODE_OPTIONS to Node read HUB_DATA_DIR). Not an object: passed on for Node to refuse.
 */
export function snapshotOptions(options: unknown): unknown {
  if (options === null || typeof options !== 'object') return options;
  const src = options as Record<string, unknown>;
  const copy: Record<string, unknown> = {};
  for (const key of WORKER_OPTIONS) {
    const v = src[key];
    if (v !== undefined) copy[key] = v;
  }
  if (copy.env !== null && typeof copy.env === 'object' && (copy.env as unknown) !== SHARE_ENV) {
    copy.env = Object.fromEntries(Object.entries(copy.env).map(([k, v]) => [k, String(v)]));
  }
  if (Array.isArray(copy.execArgv)) copy.execArgv = Array.from(copy.execArgv as unknown[], String);
  return copy;
}

/** Set on globalThis once a guard is in: the preload's copy and child.js's copy install one guard between them. */
const INSTALLED = Symbol.for('bmc-hub.worker-guard');

/**
 * Replaces worker_threads.Worker (CommonJS and ESM views alike) with a Proxy whose
 * construct trap refuses permission-widening options with ERR_ACCESS_DENIED. A Proxy, not a
 * subclass: a subclass's prototype chain would hand module code the original constructor.
 */
export function guardWorkers(): void {
  const g = globalThis as Record<symbol, unknown>;
  if (g[INSTALLED]) return;
  Object.defineProperty(g, INSTALLED, { value: true, enumerable: false, writable: false, configurable: false });
  delete process.env.NODE_OPTIONS;
  const Original = workerThreads.Worker;
  const Guarded: typeof Original = new Proxy(Original, {
    construct(target, args: unknown[], newTarget): object {
      const plain = [args[0], snapshotOptions(args[1]), ...args.slice(2)];
      const why = widensPermissions(plain[1]);
      if (why) throw Object.assign(new Error(why), { code: 'ERR_ACCESS_DENIED' });
      return Reflect.construct(target, args.length < 2 ? args : plain, newTarget === Guarded ? target : newTarget) as object;
    },
  });
  Object.defineProperty(Original.prototype, 'constructor', { value: Guarded, writable: false, configurable: false });
  Object.defineProperty(workerThreads, 'Worker', { value: Guarded, writable: false, configurable: false, enumerable: true });
  syncBuiltinESMExports();
}
