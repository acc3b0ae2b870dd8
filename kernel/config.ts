// The kernel's settings, read once from the environment and checked in one pass: a value the
// kernel cannot use stops it with one line per variable naming what it accepts, never a
// silent default. Timings are settable so tests can make supervision fast; the defaults
// are what an operator gets.
import { resolve } from 'node:path';
import { envName } from '../shared/names.js';
import { MIGRATION_DEFAULTS, type MigrationSettings } from './migration-settings.js';

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
  logLevel: (typeof LOG_LEVELS)[number];
  /** Run modules without a database (no embedded server, no migrations): HUB_DATABASE=off. */
  databaseEnabled: boolean;
  /** HUB_REQUIRE_TESTED: a module starts only when its current content passed `hubctl test` (kernel/tested-records.ts). */
  requireTested: boolean;
  /** Warm processes kept ready to replace a crashed child quickly (HUB_SPARE_CHILDREN). */
  spareChildren: number;
  /** Children run under Node's permission model (HUB_CHILD_PERMISSIONS, default on). */
  childPermissions: boolean;
  /** How long a request waits for a restarting module before 503 (HUB_HOLD_MS). */
  holdMs: number;
  /** How often a remote module's health route is checked (HUB_REMOTE_CHECK_MS). */
  remoteCheckMs: number;
  /** HUB_HISTORY_INTERVAL_MS (100–60000, default 5000): one chart point per module this often (kernel/metrics-history.ts). */
  historyIntervalMs: number;
  /** HUB_ISOLATION: auto (uid when the kernel can switch users), uid, process. */
  isolation: 'auto' | 'uid' | 'process';
  /** HUB_UID_BASE: first OS uid for module children. */
  uidBase: number;
  limits: LimitsConfig;
  /** HUB_AUTH: how people sign in, `local` (users in the hub's database) or `oidc`. */
  auth: 'local' | 'oidc';
  /** HUB_SECURE_COOKIES: session cookies carry Secure (the hub behind a TLS proxy). */
  secureCookies: boolean;
  /** With HUB_AUTH=oidc: HUB_OIDC_ISSUER, HUB_OIDC_CLIENT_ID (both required), HUB_OIDC_CLIENT_SECRET, HUB_OIDC_REDIRECT_URL; else null. */
  oidc: OidcSettings | null;
  /** HUB_MIGRATION_* (kernel/migration-settings.ts). */
  migration: MigrationSettings;
  /** Notices POSTed on module crashes, failures, recoveries, enable/disable (kernel/notices.ts). */
  notify: NotifySettings;
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

export interface NotifySettings {
  /** HUB_NOTIFY_URL: http(s) URLs, comma separated; none = nothing is sent (the ring still fills). */
  urls: string[];
  /** HUB_NOTIFY_QUEUE_MAX (1-100000, default 1000): notices waiting per URL; the oldest goes first when full. */
  queueMax: number;
  /** HUB_NOTIFY_TIMEOUT_MS (default 5000): one POST's deadline. */
  timeoutMs: number;
  /** HUB_NOTIFY_RETRY_MS (default 1000): first retry delay, doubled per failure up to 60 times it. */
  retryMs: number;
}

export interface LimitsConfig {
  /** HUB_LOG_LINE_BYTES (≥ 256, default 16 KiB): longest module output line kept whole. */
  logLineBytes: number;
  /** HUB_LOG_RING_BYTES (≥ 4096, default 1 MiB): per-module log memory. */
  logRingBytes: number;
  /** HUB_IPC_MAX_BYTES (≥ 4096, default 1 MiB): largest kernel↔child message. */
  ipcMaxBytes: number;
  /** HUB_LOG_MAX_BYTES (≥ 1024, default 10 MB) and HUB_LOG_FILES (default 3): log file rotation. */
  logMaxBytes: number;
  logFiles: number;
  /** HUB_LOG_ECHO_PER_SEC (default 200): module lines per second echoed on the kernel's console (kernel/logs.ts). */
  logEchoPerSec: number;
  /** HUB_PG_LOG_MAX_BYTES (≥ 4096, default 10 MB): the embedded server's server.log (kernel/embedded-postgres.ts). */
  pgLogMaxBytes: number;
  /** The front door (kernel/front-door.ts): HUB_MAX_CONNECTIONS_PER_CLIENT (256), HUB_MAX_CONNECTIONS (4096),
   *  HUB_HEADERS_TIMEOUT_MS (20000), HUB_REQUEST_TIMEOUT_MS (300000). */
  maxConnectionsPerClient: number;
  maxConnections: number;
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  /** LOG_FORMAT: json or pretty; unset = pretty on a terminal (kernel/console-format.ts). */
  logFormat: 'json' | 'pretty' | undefined;
}

/** How the hub reaches an OpenID Connect issuer (kernel/auth-oidc.ts). */
export interface OidcSettings {
  issuer: string;
  clientId: string;
  clientSecret: string | undefined;
  redirectUrl: string | undefined;
}

/** HUB_OIDC_*: the issuer and client id are required, and the URLs must be URLs; each problem is one line. */
function oidcFrom(env: NodeJS.ProcessEnv, r: { problems: string[] }): OidcSettings | null {
  const url = (key: string, required: boolean): string | undefined => {
    const v = env[key]?.trim();
    if (!v) {
      if (required) r.problems.push(`${key} is unset: HUB_AUTH=oidc needs HUB_OIDC_ISSUER and HUB_OIDC_CLIENT_ID`);
      return undefined;
    }
    if (!URL.canParse(v)) r.problems.push(`${key}=${JSON.stringify(v)}: expected a URL such as https://login.example.com`);
    return v;
  };
  const issuer = url('HUB_OIDC_ISSUER', true);
  const clientId = env.HUB_OIDC_CLIENT_ID?.trim();
  if (!clientId) r.problems.push('HUB_OIDC_CLIENT_ID is unset: HUB_AUTH=oidc needs HUB_OIDC_ISSUER and HUB_OIDC_CLIENT_ID');
  const redirectUrl = url('HUB_OIDC_REDIRECT_URL', false);
  return issuer && clientId ? { issuer, clientId, clientSecret: env.HUB_OIDC_CLIENT_SECRET || undefined, redirectUrl } : null;
}

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
const BOOLEAN_WORDS = 'true, false, 1, 0, yes, no, on, off';
const TRUE = new Set(['true', '1', 'yes', 'on']);
const FALSE = new Set(['false', '0', 'no', 'off']);

/** Module settings read by the runtime itself whose values are booleans (shared/runtime/safety.ts). */
export const MODULE_BOOLEAN_KEYS = ['READ_ONLY', 'DRY_RUN'];

/**
 * The kernel refuses to start on a setting it cannot use: every problem found in one pass,
 * one line each, naming the variable and what it accepts (issue 13).
 */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`bad settings, the kernel will not start:\n${problems.map((p) => `  ${p}`).join('\n')}`);
  }
}

/** The shortest HUB_ADMIN_TOKEN the kernel accepts. */
export const MIN_ADMIN_TOKEN_CHARS = 16;

/** Reads environment values and collects what is wrong with them instead of guessing a default. */
class EnvReader {
  readonly problems: string[] = [];
  constructor(private readonly env: NodeJS.ProcessEnv) {}

  private raw(key: string): string | undefined {
    const v = this.env[key];
    return v === undefined || v.trim() === '' ? undefined : v.trim();
  }

  text(key: string, fallback: string): string {
    return this.raw(key) ?? fallback;
  }

  optional(key: string): string | undefined {
    return this.raw(key);
  }

  /** A credential: unset, or at least `min` characters (its value is never quoted back). */
  credential(key: string, min: number, advice: string): string | undefined {
    const v = this.raw(key);
    if (v !== undefined && v.length < min) this.problems.push(`${key} is ${v.length} characters, short enough to guess: ${advice}`);
    return v;
  }

  int(key: string, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
    const v = this.raw(key);
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) {
      this.problems.push(`${key}=${JSON.stringify(v)}: expected a whole number from ${min}${max < Number.MAX_SAFE_INTEGER ? ` to ${max}` : ''} (default ${fallback})`);
      return fallback;
    }
    return n;
  }

  bool(key: string, fallback: boolean): boolean {
    const v = this.raw(key);
    if (v === undefined) return fallback;
    const w = v.toLowerCase();
    if (TRUE.has(w)) return true;
    if (FALSE.has(w)) return false;
    this.problems.push(`${key}=${JSON.stringify(v)}: expected one of ${BOOLEAN_WORDS} (default ${fallback})`);
    return fallback;
  }

  oneOf<T extends string>(key: string, values: readonly T[], fallback: T): T {
    const v = this.raw(key)?.toLowerCase();
    if (v === undefined) return fallback;
    if ((values as readonly string[]).includes(v)) return v as T;
    this.problems.push(`${key}=${JSON.stringify(this.raw(key))}: expected one of ${values.join(', ')} (default ${fallback})`);
    return fallback;
  }
}

function positiveMs(value: string | undefined, fallback: number): number {
  const n = Number(value);
  return value !== undefined && value !== '' && Number.isFinite(n) && n > 0 ? Math.floor(n) : fallback;
}

/**
 * The migrator's settings for callers outside the kernel (hubctl migrate), leniently: bad or
 * missing numbers fall back to the defaults. The kernel uses the checked config.migration.
 */
export function migrationSettings(env: NodeJS.ProcessEnv = process.env): MigrationSettings {
  return {
    statementTimeoutMs: positiveMs(env.HUB_MIGRATION_STATEMENT_TIMEOUT_MS, MIGRATION_DEFAULTS.statementTimeoutMs),
    lockTimeoutMs: positiveMs(env.HUB_MIGRATION_LOCK_TIMEOUT_MS, MIGRATION_DEFAULTS.lockTimeoutMs),
    waitMs: positiveMs(env.HUB_MIGRATION_WAIT_MS, MIGRATION_DEFAULTS.waitMs),
    outOfOrder: /^(1|true|yes)$/i.test(env.HUB_MIGRATIONS_OUT_OF_ORDER ?? ''),
  };
}

/** HUB_NOTIFY_URL: each comma-separated entry must be an absolute http or https URL. */
function notifyUrls(env: NodeJS.ProcessEnv, r: { problems: string[] }): string[] {
  const urls: string[] = [];
  for (const raw of (env.HUB_NOTIFY_URL ?? '').split(',').map((u) => u.trim()).filter(Boolean)) {
    const u = URL.canParse(raw) ? new URL(raw) : null;
    if (!u || (u.protocol !== 'http:' && u.protocol !== 'https:')) {
      r.problems.push(`HUB_NOTIFY_URL: ${JSON.stringify(raw.slice(0, 100))} is not an http(s) URL; give one or more, comma separated, e.g. https://hooks.example.com/hub`);
    } else if (u.username || u.password) {
      // fetch refuses URLs with credentials: every POST would fail
      r.problems.push(`HUB_NOTIFY_URL: ${u.origin} carries a user name or password, which is not sent; put the receiver's secret in the path or query instead`);
    } else urls.push(u.toString());
  }
  return urls;
}

/**
 * HUB_REQUIRE_TESTED for callers outside the kernel (hubctl enable with no hub running),
 * leniently: only a true word (1, true, yes, on) turns it on.
 */
export function requireTestedSetting(env: NodeJS.ProcessEnv = process.env): boolean {
  return /^(1|true|yes|on)$/i.test((env.HUB_REQUIRE_TESTED ?? '').trim());
}

/**
 * The kernel's settings from the environment, every variable read and checked in one pass;
 * throws ConfigError listing every bad value. Module variables (MODULES__<NAME>__…) are
 * checked against the modules found with checkModuleVariables, once the folder is scanned.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): KernelConfig {
  const r = new EnvReader(env);
  const config: KernelConfig = {
    port: r.int('HUB_PORT', 8000, 0, 65535),
    host: r.text('HUB_HOST', '127.0.0.1'),
    adminPort: r.int('HUB_ADMIN_PORT', 8001, 0, 65535),
    adminHost: r.text('HUB_ADMIN_HOST', '127.0.0.1'),
    allowedHosts: (env.HUB_ALLOWED_HOSTS ?? '').split(',').map((h) => h.trim().toLowerCase()).filter(Boolean),
    modulesDir: resolve(cwd, r.text('HUB_MODULES_DIR', './modules')),
    dataDir: resolve(cwd, r.text('HUB_DATA_DIR', './.hub')),
    databaseUrl: r.optional('DATABASE_URL'),
    // anyone who reaches either port may try it (a module's child too): a placeholder such as
    // the k8s example's CHANGE-ME must not start a hub
    adminToken: r.credential('HUB_ADMIN_TOKEN', MIN_ADMIN_TOKEN_CHARS, `use at least ${MIN_ADMIN_TOKEN_CHARS} random characters (openssl rand -hex 32), or unset it and the kernel makes one in HUB_DATA_DIR/admin-token`),
    modulesEnabled: r.bool('MODULES_ENABLED', true),
    autoReload: r.bool('MODULES_AUTO_RELOAD', false),
    logLevel: r.oneOf('LOG_LEVEL', LOG_LEVELS, 'info'),
    databaseEnabled: r.bool('HUB_DATABASE', true),
    requireTested: r.bool('HUB_REQUIRE_TESTED', false),
    spareChildren: r.int('HUB_SPARE_CHILDREN', 1, 0, 16),
    childPermissions: r.bool('HUB_CHILD_PERMISSIONS', true),
    holdMs: r.int('HUB_HOLD_MS', 2000),
    remoteCheckMs: r.int('HUB_REMOTE_CHECK_MS', 2000, 50),
    historyIntervalMs: r.int('HUB_HISTORY_INTERVAL_MS', 5000, 100, 60_000),
    isolation: r.oneOf('HUB_ISOLATION', ['auto', 'uid', 'process'] as const, 'auto'),
    uidBase: r.int('HUB_UID_BASE', 200_000, 1000, 2 ** 31 - 100_001),
    limits: {
      logLineBytes: r.int('HUB_LOG_LINE_BYTES', 16 * 1024, 256),
      logRingBytes: r.int('HUB_LOG_RING_BYTES', 1024 * 1024, 4096),
      ipcMaxBytes: r.int('HUB_IPC_MAX_BYTES', 1024 * 1024, 4096),
      logMaxBytes: r.int('HUB_LOG_MAX_BYTES', 10 * 1024 * 1024, 1024),
      logFiles: r.int('HUB_LOG_FILES', 3, 0),
      logEchoPerSec: r.int('HUB_LOG_ECHO_PER_SEC', 200),
      pgLogMaxBytes: r.int('HUB_PG_LOG_MAX_BYTES', 10 * 1024 * 1024, 4096),
      maxConnectionsPerClient: r.int('HUB_MAX_CONNECTIONS_PER_CLIENT', 256, 1),
      maxConnections: r.int('HUB_MAX_CONNECTIONS', 4096, 1),
      headersTimeoutMs: r.int('HUB_HEADERS_TIMEOUT_MS', 20_000, 1),
      requestTimeoutMs: r.int('HUB_REQUEST_TIMEOUT_MS', 300_000, 1),
      logFormat: env.LOG_FORMAT === undefined || env.LOG_FORMAT === '' ? undefined : r.oneOf('LOG_FORMAT', ['json', 'pretty'] as const, 'json'),
    },
    // read where they are used (kernel/auth-oidc.ts, kernel/auth-routes.ts); checked here so a
    // typo refuses the start instead of quietly meaning password sign-in or plain cookies
    auth: r.oneOf('HUB_AUTH', ['local', 'oidc'] as const, 'local'),
    secureCookies: r.bool('HUB_SECURE_COOKIES', false),
    oidc: env.HUB_AUTH === 'oidc' ? oidcFrom(env, r) : null,
    migration: {
      statementTimeoutMs: r.int('HUB_MIGRATION_STATEMENT_TIMEOUT_MS', MIGRATION_DEFAULTS.statementTimeoutMs, 1),
      lockTimeoutMs: r.int('HUB_MIGRATION_LOCK_TIMEOUT_MS', MIGRATION_DEFAULTS.lockTimeoutMs, 1),
      waitMs: r.int('HUB_MIGRATION_WAIT_MS', MIGRATION_DEFAULTS.waitMs, 1),
      outOfOrder: r.bool('HUB_MIGRATIONS_OUT_OF_ORDER', false),
    },
    notify: {
      urls: notifyUrls(env, r),
      queueMax: r.int('HUB_NOTIFY_QUEUE_MAX', 1000, 1, 100_000),
      timeoutMs: r.int('HUB_NOTIFY_TIMEOUT_MS', 5_000, 1),
      retryMs: r.int('HUB_NOTIFY_RETRY_MS', 1_000, 1),
    },
    timing: {
      startTimeoutMs: r.int('HUB_START_TIMEOUT_MS', 15_000, 1),
      heartbeatIntervalMs: r.int('HUB_HEARTBEAT_INTERVAL_MS', 500, 1),
      heartbeatTimeoutMs: r.int('HUB_HEARTBEAT_TIMEOUT_MS', 2_000, 1),
      drainMs: r.int('HUB_DRAIN_MS', 5_000),
      backoffBaseMs: r.int('HUB_BACKOFF_BASE_MS', 100),
      backoffMaxMs: r.int('HUB_BACKOFF_MAX_MS', 10_000),
      stableRunMs: r.int('HUB_STABLE_RUN_MS', 10_000),
      crashWindowMs: r.int('HUB_CRASH_WINDOW_MS', 60_000, 1),
      crashLimit: r.int('HUB_CRASH_LIMIT', 5, 1),
    },
  };
  if (r.problems.length > 0) throw new ConfigError(r.problems);
  return config;
}

/**
 * MODULES__<NAME>__<KEY> variables against the modules in the folder: a name that matches no
 * module (a typo such as MODULES__NOTE__READ_ONLY) and a bad boolean for a runtime switch
 * (READ_ONLY, DRY_RUN) are problems, one line each. `known`: module names as found.
 */
export function checkModuleVariables(env: NodeJS.ProcessEnv, known: string[]): string[] {
  const names = new Map(known.map((n) => [envName(n), n]));
  const problems: string[] = [];
  for (const [key, value] of Object.entries(env)) {
    const m = /^MODULES__(.+?)__(.+)$/.exec(key);
    if (!m) continue;
    const [, name, setting] = m as unknown as [string, string, string];
    if (!names.has(name)) {
      const list = [...names.keys()].join(', ') || 'none';
      problems.push(`${key}: no module ${JSON.stringify(name.toLowerCase())} in the modules folder; module names here: ${list}`);
      continue;
    }
    if (MODULE_BOOLEAN_KEYS.includes(setting) && value !== undefined && value.trim() !== '' && !TRUE.has(value.trim().toLowerCase()) && !FALSE.has(value.trim().toLowerCase())) {
      problems.push(`${key}=${JSON.stringify(value)}: expected one of ${BOOLEAN_WORDS}`);
    }
  }
  return problems;
}
