// A limit on a migration statement that the migration cannot lift. statement_timeout is a
// session setting, and a file may say `SET statement_timeout = 0` (or catch query_canceled
// in a DO block and go on); then one slow file would hold its module's start, a disable and
// the kernel's shutdown for as long as it likes. The kernel watches the session from its own
// login instead and ends its backend once one statement has run past the limit plus a grace.
import type pg from 'pg';
import { HubError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import type { Database } from './database.js';

/** Slack past the statement limit before the kernel steps in (the server's own timeout goes first). */
const GRACE_MS = 2_000;

export interface MigrationWatchdog {
  /** The error to report when the watchdog ended the session, else null. */
  fired(): HubError | null;
  stop(): void;
}

/**
 * Polls pg_stat_activity for the worker's backend about once a second; a statement active for
 * longer than `limitMs` + 2 s is ended with pg_terminate_backend (needs superuser or
 * pg_signal_backend; without it the worker's socket is closed and one line says why the
 * session may linger until the server notices). Errors are values: `fired()` names the limit.
 */
export function watchMigrationSession(db: Database, worker: pg.Client, limitMs: number, module: string, log: Logger): MigrationWatchdog {
  const pid = (worker as unknown as { processID?: number }).processID;
  let error: HubError | null = null;
  let busy = false;
  const timer = setInterval(() => {
    if (busy || error || pid === undefined) return;
    busy = true;
    void db.pool
      .query<{ ms: number }>(
        `SELECT (extract(epoch FROM clock_timestamp() - query_start) * 1000)::float8 AS ms
           FROM pg_catalog.pg_stat_activity WHERE pid = $1 AND state = 'active'`, [pid])
      .then(async (r) => {
        const ms = r.rows[0]?.ms;
        if (ms === undefined || ms <= limitMs + GRACE_MS) return;
        error = new HubError('migration_failed',
          `${module}: a migration statement ran past ${limitMs} ms (HUB_MIGRATION_STATEMENT_TIMEOUT_MS); the kernel ended its session`);
        const ended = await db.pool.query<{ ok: boolean }>('SELECT pg_catalog.pg_terminate_backend($1) AS ok', [pid])
          .then((t) => t.rows[0]?.ok === true, () => false);
        if (!ended) {
          log.warn({ module }, `migration watchdog: cannot end backend ${pid} (the kernel's login lacks pg_signal_backend); closing its connection`);
          (worker as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
        }
      })
      .catch(() => undefined)
      .finally(() => {
        busy = false;
      });
  }, Math.min(1_000, Math.max(100, Math.floor(limitMs / 4))));
  timer.unref();
  return {
    fired: () => error,
    stop: () => clearInterval(timer),
  };
}
