// The migrator's knobs, read from the environment (README: Configuration).
//   HUB_MIGRATION_STATEMENT_TIMEOUT_MS  default 300000 (5 min): statement_timeout of each migration statement
//   HUB_MIGRATION_LOCK_TIMEOUT_MS       default 10000: lock_timeout of each migration statement, so a
//                                       migration waiting on a busy table fails instead of queueing
//                                       every query behind it
//   HUB_MIGRATION_WAIT_MS               default 120000: how long a kernel waits for another kernel's
//                                       run of the same module before giving up (migration_locked)
//   HUB_MIGRATIONS_OUT_OF_ORDER         default false: true applies a pending file numbered below
//                                       an applied one (with a warning) instead of refusing it

export interface MigrationSettings {
  statementTimeoutMs: number;
  lockTimeoutMs: number;
  waitMs: number;
  outOfOrder: boolean;
}

export const MIGRATION_DEFAULTS: MigrationSettings = {
  statementTimeoutMs: 300_000,
  lockTimeoutMs: 10_000,
  waitMs: 120_000,
  outOfOrder: false,
};

function ms(value: string | undefined, fallback: number): number {
  const n = Number(value);
  return value !== undefined && value !== '' && Number.isFinite(n) && n > 0 ? Math.floor(n) : fallback;
}

/** Reads the settings from `env` (default process.env); bad or missing numbers fall back to the defaults. */
export function migrationSettings(env: NodeJS.ProcessEnv = process.env): MigrationSettings {
  return {
    statementTimeoutMs: ms(env.HUB_MIGRATION_STATEMENT_TIMEOUT_MS, MIGRATION_DEFAULTS.statementTimeoutMs),
    lockTimeoutMs: ms(env.HUB_MIGRATION_LOCK_TIMEOUT_MS, MIGRATION_DEFAULTS.lockTimeoutMs),
    waitMs: ms(env.HUB_MIGRATION_WAIT_MS, MIGRATION_DEFAULTS.waitMs),
    outOfOrder: /^(1|true|yes)$/i.test(env.HUB_MIGRATIONS_OUT_OF_ORDER ?? ''),
  };
}
