// The kernel's settings, read once from the environment. Timings are settable so tests
// can make supervision fast; the defaults are what an operator gets.
import { resolve } from 'node:path';
import { parseBool } from '../shared/runtime/config.js';

export interface KernelConfig {
  /** The public origin: modules, /health, records, API docs (HUB_PORT, HUB_HOST). */
  port: number;
  host: string;
  /** The admin origin: dashboard, admin API, /metrics (HUB_ADMIN_PORT, default 8001; 0 = a free port). */
  adminPort: number;
  /** HUB_ADMIN_HOST, default 127.0.0.1: the admin origin stays on this machine unless told otherwise. */
  adminHost: string;
  /** Extra Host names accepted while an origin is bound to loopback (HUB_ALLOWED_HOSTS, comma separated; `*` = any). */
  allowedHosts: string[];
  modulesDir: string;
  dataDir: string;
  databaseUrl: string | undefined;
  /** HUB_ADMIN_TOKEN; unset means the kernel keeps one in HUB_DATA_DIR/admin-token (kernel/admin-token.ts). */
  adminToken: string | undefined;
  modulesEnabled: boolean;
  autoReload: boolean;
  logLevel: string;
  /** Run modules without a database (no embedded server, no migrations): HUB_DATABASE=off. */
  databaseEnabled: boolean;
  /** Warm processes kept ready to replace a crashed child quickly (HUB_SPARE_CHILDREN). */
  spareChildren: number;
  /** Children run under Node's permission model (HUB_CHILD_PERMISSIONS, default on). */
  childPermissions: boolean;
  /** How long a request waits for a restarting module before 503 (HUB_HOLD_MS). */
  holdMs: number;
  /** How often a remote module's health route is checked (HUB_REMOTE_CHECK_MS). */
  remoteCheckMs: number;
  timing: {
    startTimeoutMs: number;
    heartbeatIntervalMs: number;
    heartbeatTimeoutMs: number;
    drainMs: number;
    backoffBaseMs: number;
    backoffMaxMs: number;
    stableRunMs: number;
    crashWindowMs: number;
    crashLimit: number;
  };
}

function int(env: NodeJS.ProcessEnv, key: string, fallback: number): number {
  const v = env[key];
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${key} must be a whole number, got ${JSON.stringify(v)}`);
  return n;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): KernelConfig {
  return {
    port: int(env, 'HUB_PORT', 8000),
    host: env.HUB_HOST || '127.0.0.1',
    adminPort: int(env, 'HUB_ADMIN_PORT', 8001),
    adminHost: env.HUB_ADMIN_HOST || '127.0.0.1',
    allowedHosts: (env.HUB_ALLOWED_HOSTS ?? '').split(',').map((h) => h.trim().toLowerCase()).filter(Boolean),
    modulesDir: resolve(cwd, env.HUB_MODULES_DIR || './modules'),
    dataDir: resolve(cwd, env.HUB_DATA_DIR || './.hub'),
    databaseUrl: env.DATABASE_URL || undefined,
    adminToken: env.HUB_ADMIN_TOKEN || undefined,
    modulesEnabled: parseBool(env.MODULES_ENABLED, true),
    autoReload: parseBool(env.MODULES_AUTO_RELOAD, false),
    logLevel: env.LOG_LEVEL || 'info',
    databaseEnabled: parseBool(env.HUB_DATABASE, true),
    spareChildren: int(env, 'HUB_SPARE_CHILDREN', 1),
    childPermissions: parseBool(env.HUB_CHILD_PERMISSIONS, true),
    holdMs: int(env, 'HUB_HOLD_MS', 2000),
    remoteCheckMs: int(env, 'HUB_REMOTE_CHECK_MS', 2000),
    timing: {
      startTimeoutMs: int(env, 'HUB_START_TIMEOUT_MS', 15_000),
      heartbeatIntervalMs: int(env, 'HUB_HEARTBEAT_INTERVAL_MS', 500),
      heartbeatTimeoutMs: int(env, 'HUB_HEARTBEAT_TIMEOUT_MS', 2_000),
      drainMs: int(env, 'HUB_DRAIN_MS', 5_000),
      backoffBaseMs: int(env, 'HUB_BACKOFF_BASE_MS', 100),
      backoffMaxMs: int(env, 'HUB_BACKOFF_MAX_MS', 10_000),
      stableRunMs: int(env, 'HUB_STABLE_RUN_MS', 10_000),
      crashWindowMs: int(env, 'HUB_CRASH_WINDOW_MS', 60_000),
      crashLimit: int(env, 'HUB_CRASH_LIMIT', 5),
    },
  };
}
