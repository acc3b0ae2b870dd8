// startModule: one module (and the modules it needs) running in a real kernel for that
// module's own tests. It starts `dist/kernel/main.js` of the hub on free loopback ports with
// a temp data folder, a temp modules folder holding copies of just those modules, its own
// admin token, and a database: HUB_TEST_DATABASE_URL as given (`hubctl test` made it and
// drops it), else a throwaway database on DATABASE_URL's server that stop() drops, else the
// kernel's embedded PostgreSQL inside the temp data folder (slow: it initialises a cluster).
// A detached reaper (reaper.ts) removes all of it if the test process ends without stop().
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { hasGivenUp, isModuleState, takesTraffic } from '../module-states.js';
import { envName } from '../names.js';
import { HUB_ROOT } from '../paths.js';
import { atExit } from './cleanup.js';
import { spawnKernel, type KernelProcess } from './kernel-process.js';
import { killEmbeddedServer, startReaper } from './reaper.js';
import { moduleDb, type ModuleDb } from './module-db.js';
import { stageModules, type StagedModule } from './module-folder.js';
import { signInUser, type SignedInUser } from './sign-in.js';
import { createThrowawayDatabase, type ThrowawayDatabase } from './throwaway-database.js';
import { waitFor } from './wait.js';

export interface StartModuleOptions {
  /** The module's settings, as MODULES__<NAME>__<KEY> would give them (`{ LIMIT: 5 }`). */
  config?: Record<string, string | number | boolean>;
  /**
   * The write switches. The hub's default is READ_ONLY and DRY_RUN on; `allowWrites: true`
   * turns both off; `readOnly`/`dryRun` set one each (they win over allowWrites).
   */
  safety?: { allowWrites?: boolean; readOnly?: boolean; dryRun?: boolean };
  /** Where the module's folder is (default: the hub's modules/). */
  modulesDir?: string;
  /** Other modules (folder names in modulesDir) to run beside it; declared dependencies come on their own. */
  with?: string[];
  /** Extra environment for the kernel (HUB_* settings such as HUB_HOLD_MS). */
  env?: Record<string, string>;
  /** Longest wait for the kernel and the module to be up, ms (default 60000). */
  timeoutMs?: number;
}

export interface LogEntry {
  time?: string;
  level?: number | string;
  msg?: string;
  module?: string;
  [key: string]: unknown;
}

export interface RunningModule {
  /** The module's name (from its module.json). */
  name: string;
  /** The hub's public origin, e.g. `http://127.0.0.1:41234`; the module's pages are under `/<name>`. */
  url: string;
  /** The module's api_prefix, e.g. `/api/v1/notes`. */
  apiPrefix: string;
  /** The admin origin (admin API, dashboard) and its token. */
  adminUrl: string;
  adminToken: string;
  /** The temp folder holding the kernel's data folder and the modules' copies (removed by stop()). */
  tempDir: string;
  /** The kernel's process id (it changes when setConfig restarts the kernel). */
  kernelPid(): number;
  /** The database URL the kernel runs on (superuser; null on the embedded database). */
  databaseUrl: string | null;
  /** fetch `url + apiPrefix + path`; `init.headers` as for fetch (add a user's `headers`). */
  api(path: string, init?: RequestInit): Promise<Response>;
  /** fetch on the admin origin with the admin token (`/api/v1/modules/<name>`, …). */
  admin(path: string, init?: RequestInit): Promise<Response>;
  /** Queries as the module's runtime role: what the module's own code may see and do. */
  db: ModuleDb;
  /** Queries as the module's owner role: fixtures, and a look past row-level security. */
  dbAsOwner: ModuleDb;
  /** A new user with these grants, signed in, with a token (`headers`) and a `fetch`. */
  signIn(opts?: { grants?: string[]; username?: string }): Promise<SignedInUser>;
  /**
   * Changes the module's settings (merged into `config`; `null` removes a key) and restarts
   * the kernel with them on the same ports, data and database: the hub reads MODULES__* only
   * at start. Users, tokens and rows stay. Resolves once the module runs again.
   */
  setConfig(values: Record<string, string | number | boolean | null>): Promise<void>;
  /** The module's recent log entries (its own stream, as `hubctl logs <name>`), oldest first. */
  logs(lines?: number): Promise<LogEntry[]>;
  /** Every line the kernel process wrote to its console. */
  kernelLines(): string[];
  /** The module's record (`GET /api/v1/modules/<name>`): state, pid, restarts, last_error. */
  record(): Promise<Record<string, unknown>>;
  /** Stops the kernel and its children, removes the temp folders and drops a database it made. Idempotent. */
  stop(): Promise<void>;
}

/** Milliseconds from startModule's call to the module answering through the gateway, per call (for reports). */
export const startTimes: number[] = [];

function databaseChoice(env: NodeJS.ProcessEnv): { given?: string; server?: string } {
  if (env.HUB_TEST_DATABASE_URL) return { given: env.HUB_TEST_DATABASE_URL };
  if (env.DATABASE_URL) return { server: env.DATABASE_URL };
  return {};
}

/** READ_ONLY / DRY_RUN settings from `safety` (only those it sets; the hub's defaults are both on). */
function switchesFor(opts: StartModuleOptions): Record<string, string> {
  const s = opts.safety ?? {};
  const readOnly = s.readOnly ?? (s.allowWrites === undefined ? undefined : !s.allowWrites);
  const dryRun = s.dryRun ?? (s.allowWrites === undefined ? undefined : !s.allowWrites);
  const out: Record<string, string> = {};
  if (readOnly !== undefined) out.READ_ONLY = String(readOnly);
  if (dryRun !== undefined) out.DRY_RUN = String(dryRun);
  return out;
}

/**
 * Starts `module` in a real kernel and resolves once it takes traffic through the gateway.
 * `module` is a folder name in `opts.modulesDir` (default: the hub's modules/) or a path to a
 * module folder, e.g. `fileURLToPath(new URL('..', import.meta.url))` in the module's tests/
 * (its dependencies are then looked for beside it). Throws one line (plus the kernel's last
 * output) when dist/ is missing, a folder or manifest is missing, the database cannot be made,
 * or the module fails to start (its last_error). Everything it made is removed by stop(), and
 * also when the test process ends without it (exit hook, and a detached reaper).
 */
export async function startModule(module: string, opts: StartModuleOptions = {}): Promise<RunningModule> {
  const began = Date.now();
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const temp = mkdtempSync(join(tmpdir(), 'hub-testkit-'));
  // traverse-only for others, as the kernel does for its own folders: under root the embedded
  // PostgreSQL and the modules' own OS users (HUB_ISOLATION=auto) must reach data/ and modules/
  chmodSync(temp, 0o711);
  const modulesDir = join(temp, 'modules');
  const dataDir = join(temp, 'data');
  let db: ThrowawayDatabase | undefined;
  let kernel: KernelProcess | undefined;
  const pidFile = join(temp, 'kernel.pid');
  let reaper = 0;
  const stopReaper = () => {
    if (reaper) {
      try {
        process.kill(reaper, 'SIGKILL');
      } catch {
        // gone already
      }
      reaper = 0;
    }
  };
  const removeSync = () => {
    stopReaper();
    kernel?.proc.kill('SIGKILL');
    killEmbeddedServer(dataDir);
    rmSync(temp, { recursive: true, force: true });
    db?.dropSync();
  };
  const unregister = atExit(removeSync);
  const fail = async (e: unknown): Promise<never> => {
    stopReaper();
    await kernel?.stop('SIGKILL');
    rmSync(temp, { recursive: true, force: true });
    await db?.drop().catch(() => db?.dropSync());
    unregister();
    throw e;
  };

  let staged: StagedModule[] = [];
  try {
    // under `hubctl test`, the module under test is the folder it names (HUB_TEST_MODULE_DIR, wherever
    // HUB_MODULES_DIR is) and its neighbours are beside it; a module given by its path finds its
    // dependencies beside it, one given by name in the hub's modules/
    const underTest = !module.includes('/') && module === process.env.HUB_TEST_MODULE ? process.env.HUB_TEST_MODULE_DIR : undefined;
    const path = underTest ?? (module.includes('/') ? resolve(module) : undefined);
    const from = opts.modulesDir ?? (path ? dirname(path) : process.env.HUB_TEST_MODULE_DIR ? dirname(process.env.HUB_TEST_MODULE_DIR) : join(HUB_ROOT, 'modules'));
    staged = stageModules(from, path ?? module, opts.with ?? [], modulesDir);
  } catch (e) {
    return fail(e);
  }
  const main = staged[0]!;
  const choice = databaseChoice(process.env);
  let databaseUrl: string | null = choice.given ?? null;
  if (choice.server) {
    try {
      db = await createThrowawayDatabase(choice.server);
    } catch (e) {
      return fail(e);
    }
    databaseUrl = db.url;
  }
  reaper = startReaper({
    parentPid: process.pid,
    kernelPidFile: pidFile,
    tempDir: temp,
    ...(db && choice.server ? { database: { server: choice.server, name: db.name } } : {}),
  });
  const adminToken = randomBytes(24).toString('base64url');
  const config: Record<string, string> = {};
  const mergeConfig = (values: Record<string, string | number | boolean | null>) => {
    for (const [k, v] of Object.entries(values)) {
      if (v === null) delete config[k];
      else config[k] = String(v);
    }
  };
  // the write switches are settings like any other, so setConfig({ READ_ONLY: true }) can flip them
  mergeConfig({ ...switchesFor(opts), ...opts.config });
  let ports = { port: '0', admin: '0' };
  const kernelEnv = (): Record<string, string> => ({
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? tmpdir(),
    HUB_HOST: '127.0.0.1',
    HUB_ADMIN_HOST: '127.0.0.1',
    HUB_PORT: ports.port,
    HUB_ADMIN_PORT: ports.admin,
    HUB_MODULES_DIR: modulesDir,
    HUB_DATA_DIR: dataDir,
    HUB_ADMIN_TOKEN: adminToken,
    HUB_SPARE_CHILDREN: '0',
    LOG_LEVEL: 'info',
    LOG_FORMAT: 'json',
    ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
    ...Object.fromEntries(Object.entries(config).map(([k, v]) => [`MODULES__${envName(main.name)}__${k}`, v])),
    ...opts.env,
  });

  const boot = async (): Promise<KernelProcess> => {
    const k = await spawnKernel(kernelEnv(), timeoutMs, pidFile);
    kernel = k;
    const url = `http://127.0.0.1:${k.port}`;
    for (const m of staged) {
      await waitFor(async () => {
        const r = (await (await fetch(`${url}/api/v1/modules/${m.name}`)).json()) as { state?: unknown; last_error?: unknown };
        const state = isModuleState(r.state) ? r.state : undefined;
        if (state && hasGivenUp(state)) {
          const why = typeof r.last_error === 'object' && r.last_error ? JSON.stringify(r.last_error) : String(r.last_error ?? '');
          throw Object.assign(new Error(`bmc-hub/testing: module ${m.name} is ${state}: ${why}`), { fatal: true });
        }
        return state !== undefined && takesTraffic(state);
      }, { timeoutMs, intervalMs: 20, what: `module ${m.name} to take traffic` });
    }
    return k;
  };

  let k: KernelProcess;
  try {
    k = await boot();
  } catch (e) {
    const out = kernel ? `\n--- kernel output ---\n${kernel.lines.slice(-40).join('\n')}` : '';
    return fail(new Error(`${(e as Error).message}${(e as Error).message.includes('kernel output') ? '' : out}`));
  }
  ports = { port: String(k.port), admin: String(k.adminPort) };
  const url = `http://127.0.0.1:${k.port}`;
  const adminUrl = `http://127.0.0.1:${k.adminPort}`;
  startTimes.push(Date.now() - began);

  const kernelId = () => {
    try {
      return readFileSync(join(dataDir, 'kernel-id'), 'utf8').trim() || undefined;
    } catch {
      return undefined;
    }
  };
  const dbHandle = moduleDb(databaseUrl ?? 'postgres://embedded.invalid/', main.name, 'runtime', kernelId);
  const ownerHandle = moduleDb(databaseUrl ?? 'postgres://embedded.invalid/', main.name, 'owner');
  const noDb = (h: typeof dbHandle): typeof dbHandle =>
    databaseUrl
      ? h
      : {
          ...h,
          query: () => Promise.reject(new Error('bmc-hub/testing: m.db needs a database URL; set DATABASE_URL (a server it may create databases on) or HUB_TEST_DATABASE_URL')),
          one: () => Promise.reject(new Error('bmc-hub/testing: m.db needs a database URL; set DATABASE_URL or HUB_TEST_DATABASE_URL')),
        };
  let stopped: Promise<void> | undefined;
  const admin = (path: string, init: RequestInit = {}) => {
    const headers = new Headers(init.headers);
    if (!headers.has('authorization')) headers.set('authorization', `Bearer ${adminToken}`);
    return fetch(adminUrl + path, { ...init, headers });
  };

  return {
    name: main.name,
    url,
    apiPrefix: main.apiPrefix,
    adminUrl,
    adminToken,
    tempDir: temp,
    kernelPid: () => kernel!.proc.pid!,
    databaseUrl,
    api: (path, init) => fetch(url + main.apiPrefix + path, init),
    admin,
    db: noDb(dbHandle),
    dbAsOwner: noDb(ownerHandle),
    signIn: ({ grants = [], username } = {}) => signInUser({ url, adminUrl, adminToken }, grants, username),
    async setConfig(values) {
      mergeConfig(values);
      await dbHandle.close();
      await ownerHandle.close();
      await kernel!.stop();
      try {
        await boot();
      } catch (e) {
        throw new Error(`bmc-hub/testing: restarting with the new config failed: ${(e as Error).message}\n--- kernel output ---\n${kernel!.lines.slice(-40).join('\n')}`);
      }
    },
    async logs(lines = 1000) {
      const res = await admin(`/api/v1/modules/${main.name}/logs?lines=${lines}`);
      if (res.status !== 200) throw new Error(`bmc-hub/testing: logs of ${main.name} answered ${res.status}`);
      return (await res.text())
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => JSON.parse(l) as LogEntry);
    },
    kernelLines: () => [...kernel!.lines],
    record: async () => (await (await fetch(`${url}/api/v1/modules/${main.name}`)).json()) as Record<string, unknown>,
    stop() {
      stopped ??= (async () => {
        await dbHandle.close();
        await ownerHandle.close();
        stopReaper();
        await kernel?.stop();
        rmSync(temp, { recursive: true, force: true });
        if (db) await db.drop();
        unregister();
      })();
      return stopped;
    },
  };
}
