// Locks between kernels that share a database, taken so that module roles can never take,
// hold or fake them: a row of the kernel-owned table hub_locks, locked with SELECT … FOR UPDATE
// inside a transaction on a connection of its own (never one of the admin pool's five, so a
// kernel waiting on a slow migration still has every pool connection for management work).
//
// One lock per module ("migrate:<module>"): a slow migration only holds up its own module.
// When the holder's kernel dies, PostgreSQL sees its connection close and ends the holder's
// transaction, releasing the row; whatever migration session that kernel left behind is found
// by the next holder (see endOrphans) and terminated instead of being waited on.
import pg from 'pg';
import { HubError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import type { Database } from './database.js';

/** application_name of every connection a kernel migrates on: `hub-migrate:<module>`. */
export function migrationAppName(module: string): string {
  return `hub-migrate:${module}`.slice(0, 63);
}

export interface HeldLock {
  /** The lock's own connection, in an open transaction; use it for the ledger, never for module SQL. */
  client: pg.Client;
  release(): Promise<void>;
}

/** A connection of the kernel's own login outside the pool, for locks and the kernel's own migrations. */
export async function dedicatedClient(db: Database, applicationName: string): Promise<pg.Client> {
  const c = db.connection;
  const client = new pg.Client({
    host: c.host, port: c.port, database: c.database, user: c.user, password: c.password,
    application_name: applicationName, connectionTimeoutMillis: 10_000,
  });
  client.on('error', () => undefined); // a dropped connection surfaces on the next query
  await client.connect();
  return client;
}

/**
 * Takes lock `name` (e.g. `migrate:notes`), waiting at most `waitMs` (HubError
 * `migration_locked` after that). Before hub_locks exists (a brand-new database, where no
 * module role exists yet either) the kernel's first migration serialises on hub_migrations'
 * table lock, or on a transaction advisory lock when even that is missing.
 */
export async function acquireLock(db: Database, name: string, waitMs: number, signal?: AbortSignal): Promise<HeldLock> {
  signal?.throwIfAborted();
  const client = await dedicatedClient(db, 'hub-lock');
  // a cancelled start stops waiting at once: the server ends the waiting transaction with the connection
  const cancel = () => void client.end().catch(() => undefined);
  signal?.addEventListener('abort', cancel, { once: true });
  try {
    await client.query('BEGIN');
    await client.query("SELECT pg_catalog.set_config('idle_in_transaction_session_timeout', '0', true)");
    await client.query(`SELECT pg_catalog.set_config('lock_timeout', $1, true)`, [`${Math.max(1, Math.floor(waitMs))}ms`]);
    const have = await client.query<{ locks: boolean; ledger: boolean }>(
      "SELECT to_regclass('public.hub_locks') IS NOT NULL AS locks, to_regclass('public.hub_migrations') IS NOT NULL AS ledger");
    try {
      if (have.rows[0]!.locks) {
        await client.query('INSERT INTO public.hub_locks (name) VALUES ($1) ON CONFLICT (name) DO NOTHING', [name]);
        await client.query('SELECT name FROM public.hub_locks WHERE name = $1 FOR UPDATE', [name]);
        await client.query('UPDATE public.hub_locks SET kernel = $2, acquired_at = now() WHERE name = $1', [name, db.instance]);
        if (name === KERNEL_LOCK) await awaitBootstrap(client, waitMs);
      } else if (have.rows[0]!.ledger) {
        await client.query('LOCK TABLE public.hub_migrations IN SHARE UPDATE EXCLUSIVE MODE');
        // the ledger exists but hub_locks does not yet: another kernel may be between the two
        if (name === KERNEL_LOCK) await awaitBootstrap(client, waitMs);
      } else {
        await client.query("SELECT pg_advisory_xact_lock(hashtext('bmc-hub bootstrap'))");
      }
    } catch (e) {
      if ((e as { code?: string }).code === '55P03') {
        throw new HubError('migration_locked',
          `another kernel has held the lock "${name}" of database "${db.connection.database}" for over ${Math.round(waitMs / 1000)} s; try again when it has finished`);
      }
      throw e;
    }
  } catch (e) {
    signal?.removeEventListener('abort', cancel);
    await client.end().catch(() => undefined);
    signal?.throwIfAborted();
    throw e;
  }
  signal?.removeEventListener('abort', cancel);
  await dropPortal(client);
  let released = false;
  return {
    client,
    async release() {
      if (released) return;
      released = true;
      await client.query('COMMIT').catch(() => undefined);
      await client.end().catch(() => undefined);
    },
  };
}

/** The lock of the kernel's own migrations (module "_kernel"). */
export const KERNEL_LOCK = 'migrate:_kernel';

/**
 * Two kernels starting on a brand-new database: the first took the bootstrap advisory lock
 * (no hub_locks yet) and is still creating the kernel's tables when the second finds the ledger
 * or hub_locks and locks that instead, so that lock alone would let both run (and the second
 * would end the first's session as an orphan). The second waits while a session of the kernel's own login holds an
 * advisory lock as `hub-lock`: a module role cannot hold up a kernel this way, since its
 * sessions never log in as the kernel's login.
 */
async function awaitBootstrap(client: pg.Client, waitMs: number): Promise<void> {
  const until = Date.now() + waitMs;
  for (;;) {
    const r = await client.query<{ busy: boolean }>(
      `SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_locks l JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid
                       WHERE l.locktype = 'advisory' AND l.granted AND l.pid <> pg_catalog.pg_backend_pid()
                         AND a.usename = current_user AND a.application_name = 'hub-lock'
                         AND a.datname = current_database()) AS busy`);
    if (!r.rows[0]!.busy || Date.now() > until) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Runs `fn` holding lock `name`, releasing it however `fn` ends. */
export async function withLock<T>(db: Database, name: string, waitMs: number, fn: (lock: HeldLock) => Promise<T>, signal?: AbortSignal): Promise<T> {
  const lock = await acquireLock(db, name, waitMs, signal);
  try {
    return await fn(lock);
  } finally {
    await lock.release();
  }
}

/**
 * Ends migration sessions of `module` that no live kernel owns. Call only while holding the
 * module's lock: every session logged in as `login` with the module's migration
 * application_name then belongs to a kernel that died mid-migration (a live one would still hold
 * the lock). `ownerLogin`: `login` is the module's owner role, which logs in only for migrations,
 * so every session of it is an orphan whatever it calls itself: application_name (like
 * statement_timeout and client_connection_check_interval) is the session's own to change, and a
 * migration that renamed itself would otherwise keep the owner's one connection for good.
 * Returns the pids ended; a server that refuses pg_terminate_backend (the kernel's
 * login is neither superuser nor in pg_signal_backend) leaves the session to its own
 * statement_timeout and client_connection_check_interval, and that is logged.
 */
export async function endOrphans(db: Database, lock: HeldLock, module: string, login: string, log: Logger = db.log,
  ownerLogin = false): Promise<number[]> {
  const r = await lock.client.query<{ pid: number }>(
    `SELECT pid FROM pg_catalog.pg_stat_activity
      WHERE datname = current_database() AND usename = $1 AND ($3 OR application_name = $2) AND pid <> pg_backend_pid()`,
    [login, migrationAppName(module), ownerLogin]);
  const ended: number[] = [];
  for (const { pid } of r.rows) {
    try {
      await lock.client.query('SAVEPOINT orphan');
      await lock.client.query('SELECT pg_terminate_backend($1, 10000)', [pid]);
      await lock.client.query('RELEASE SAVEPOINT orphan');
      ended.push(pid);
      log.warn({ module, pid }, `migrate: ended orphaned migration session ${pid} of ${module}, left by a kernel that stopped mid-migration`);
    } catch (e) {
      await lock.client.query('ROLLBACK TO SAVEPOINT orphan').catch(() => undefined);
      log.warn({ module, pid }, `migrate: cannot end orphaned migration session ${pid} of ${module} (${(e as Error).message}); it ends at its statement timeout`);
    }
  }
  await dropPortal(lock.client);
  return ended;
}

/**
 * A parameterised query leaves its unnamed portal, and the portal's snapshot, open until the
 * next query; a lock-holding transaction with a snapshot makes CREATE INDEX CONCURRENTLY in a
 * `-- migrate:no-transaction` file wait for it forever. A plain query drops the portal.
 */
async function dropPortal(client: pg.Client): Promise<void> {
  await client.query('SELECT 1');
}
