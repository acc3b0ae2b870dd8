// The migrator's knobs (README: Configuration), read from the environment by kernel/config.ts.
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

