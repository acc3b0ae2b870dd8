// The kernel's connection to PostgreSQL: DATABASE_URL when given, else the embedded server.
// Everything else (migrator, module roles) takes a Database and never cares which it is.
import pg from 'pg';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HubError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { closeOtherDatabases, databasesOpenToAll, openDatabasesWarning, probePasswordTrust, trustWarning, type DatabaseConnection } from './database-trust.js';
import { startEmbeddedPostgres } from './embedded-postgres.js';

export type { DatabaseConnection } from './database-trust.js';

export interface Database {
  /** The kernel's admin pool (migrations, roles, kernel state). Never handed to modules. */
  pool: pg.Pool;
  connection: DatabaseConnection;
  embedded: boolean;
  log: Logger;
  /** Ends the pool, then stops the embedded server if there is one. */
  close(): Promise<void>;
  /**
   * This kernel's stable id (kept in HUB_DATA_DIR): kernels sharing a database each get
   * their own runtime login roles, so one kernel rotating a password never locks out
   * another kernel's children.
   */
  instance: string;
  /**
   * Whether the server let a login in without checking its password (database-trust.ts):
   * true means per-module roles do not isolate modules; null when it could not be told.
   */
  trustsPasswords: boolean | null;
  /** Other databases of the server every role may connect to (none on the embedded server, which closes them). */
  openDatabases: string[];
  /**
   * Whether the database serves, and if not why: the embedded server is supervised and
   * restarted (issue 14, item 9), and every server, embedded or DATABASE_URL, is asked
   * `SELECT 1` every few seconds, so one that is stopped, hung or unreachable shows too.
   */
  status(): { up: boolean; reason: string | null };
}

/** Reads HUB_DATA_DIR/kernel-id, creating it on first use. */
function instanceId(dataDir: string): string {
  const file = join(dataDir, 'kernel-id');
  try {
    const id = readFileSync(file, 'utf8').trim();
    if (/^[0-9a-f]{6}$/.test(id)) return id;
  } catch {
    // first start: make one below
  }
  const id = randomBytes(3).toString('hex');
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(file, id + '\n');
  return id;
}

export interface OpenDatabaseOptions {
  databaseUrl?: string | undefined;
  /** HUB_DATA_DIR */
  dataDir: string;
  log: Logger;
  /** Connect timeout for DATABASE_URL; a dead host must fail fast, not hang the kernel. */
  connectTimeoutMs?: number;
  /** The embedded server's server.log bound (config.limits.pgLogMaxBytes); default 10 MB. */
  pgLogMaxBytes?: number;
  /** How often the server is asked `SELECT 1`, and how long it has to answer (ms); default 2000 and 3000. */
  liveness?: { everyMs?: number; timeoutMs?: number };
}

export async function openDatabase(opts: OpenDatabaseOptions): Promise<Database> {
  const { log } = opts;
  if (opts.databaseUrl) {
    const connection = parseDatabaseUrl(opts.databaseUrl);
    const pool = createPool(opts.databaseUrl, opts.connectTimeoutMs ?? 5_000, log);
    await probe(pool, connection, opts.connectTimeoutMs ?? 5_000);
    log.info({ host: connection.host, port: connection.port, database: connection.database }, 'database: using DATABASE_URL');
    const trustsPasswords = await checkTrust(connection, log);
    const openDatabases = await databasesOpenToAll(pool).catch(() => []);
    if (openDatabases.length > 0) log.warn({ databases: openDatabases }, openDatabasesWarning(openDatabases));
    const live = watchLiveness(opts.databaseUrl, connection, log, opts.liveness);
    return {
      pool, connection, embedded: false, log, instance: instanceId(opts.dataDir), trustsPasswords, openDatabases,
      status: () => live.status(),
      close: () => {
        live.close();
        return pool.end();
      },
    };
  }
  const server = await startEmbeddedPostgres({ dataDir: opts.dataDir, log, logMaxBytes: opts.pgLogMaxBytes });
  const pool = createPool(server.connectionString, 10_000, log);
  const connection = { host: server.host, port: server.port, database: server.database, user: server.user, password: server.password };
  try {
    await probe(pool, connection, 10_000);
  } catch (e) {
    await pool.end().catch(() => {});
    await server.stop();
    throw e;
  }
  let closing: Promise<void> | null = null;
  const trustsPasswords = await checkTrust(connection, log);
  await closeOtherDatabases(pool);
  const live = watchLiveness(server.connectionString, connection, log, opts.liveness);
  return {
    pool, connection, embedded: true, log, instance: instanceId(opts.dataDir), trustsPasswords, openDatabases: [],
    // the supervisor's reason (the server exited, is being restarted) comes first
    status: () => {
      const s = server.status();
      return s.up ? live.status() : s;
    },
    close() {
      live.close();
      closing ??= pool.end().catch(() => {}).then(() => server.stop());
      return closing;
    },
  };
}

async function checkTrust(c: DatabaseConnection, log: Logger): Promise<boolean | null> {
  const trusts = await probePasswordTrust(c);
  if (trusts) log.warn({ host: c.host, port: c.port, trusts_passwords: true }, trustWarning(c));
  return trusts;
}

function createPool(connectionString: string, connectTimeoutMs: number, log: Logger): pg.Pool {
  const pool = new pg.Pool({ connectionString, max: 5, connectionTimeoutMillis: connectTimeoutMs, idleTimeoutMillis: 30_000 });
  // An idle client losing its server (restart, network) emits here; unhandled it would kill the kernel.
  pool.on('error', (err) => log.warn({ err: err.message }, 'database: idle connection lost'));
  return pool;
}

async function probe(pool: pg.Pool, c: DatabaseConnection, timeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    // pg's connect timeout does not cover a server that accepts TCP but never answers; bound the whole probe.
    await Promise.race([
      pool.query('SELECT 1'),
      new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs); }),
    ]);
  } catch (e) {
    await pool.end().catch(() => {});
    throw new HubError('database_unavailable',
      `cannot reach PostgreSQL at ${c.host}:${c.port} (database "${c.database}", user "${c.user}"): ${describe(e)}; ` +
      'start that server or fix DATABASE_URL, or unset DATABASE_URL to use the embedded database');
  } finally {
    clearTimeout(timer);
  }
}

function describe(e: unknown): string {
  const err = e as { code?: string; message?: string };
  if (err.code === 'ECONNREFUSED') return 'connection refused';
  if (err.code === 'ENOTFOUND') return 'unknown host';
  if (err.code === '28P01') return 'password authentication failed';
  if (err.code === '3D000') return err.message ?? 'database does not exist';
  return err.message || err.code || String(e);
}

/** Host, port, database and user for logs and for handing modules a connection of their own. */
export function parseDatabaseUrl(url: string): DatabaseConnection {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new HubError('database_unavailable', 'DATABASE_URL is not a valid URL (expected postgres://user:password@host:port/database)');
  }
  if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:') {
    throw new HubError('database_unavailable', `DATABASE_URL must start with postgres:// (got ${u.protocol}//)`);
  }
  const host = u.searchParams.get('host') ?? (decodeURIComponent(u.hostname) || 'localhost');
  const password = u.password ? decodeURIComponent(u.password) : undefined;
  return {
    host: host.replace(/^\[(.*)\]$/, '$1'),
    port: u.port ? Number(u.port) : 5432,
    database: decodeURIComponent(u.pathname.replace(/^\//, '')) || decodeURIComponent(u.username) || 'postgres',
    user: decodeURIComponent(u.username) || process.env.PGUSER || 'postgres',
    ...(password !== undefined ? { password } : {}),
  };
}

/**
 * Asks the server `SELECT 1` every `everyMs` on a new connection (not the kernel's pool: it
 * may be busy with migrations, which must not read as an outage; and a pooled connection
 * keeps working while the postmaster no longer takes new ones, which every module's pool
 * needs), with `timeoutMs` for connecting and answering. A server that refuses, is
 * unreachable, or accepts and never answers (SIGSTOP, a hung host) is reported down with why
 * and since when, logged once, and up again once it answers.
 * DESIGN.md: "/health is degraded also while the database is unreachable".
 */
function watchLiveness(
  connectionString: string,
  c: DatabaseConnection,
  log: Logger,
  opts: { everyMs?: number; timeoutMs?: number } = {},
): { status(): { up: boolean; reason: string | null }; close(): void } {
  const everyMs = opts.everyMs ?? 2000;
  const timeoutMs = opts.timeoutMs ?? 3000;
  let inFlight = false;
  let closed = false;
  let downSince = 0;
  let reason: string | null = null;
  const ask = async (): Promise<void> => {
    if (inFlight || closed) return;
    inFlight = true;
    let timer: NodeJS.Timeout | undefined;
    const client = new pg.Client({ connectionString, connectionTimeoutMillis: timeoutMs, application_name: 'hub-kernel-liveness' });
    client.on('error', () => undefined);
    try {
      await Promise.race([
        client.connect().then(() => client.query('SELECT 1')),
        new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs); }),
      ]);
      if (reason !== null) log.info({ host: c.host, port: c.port, ms: Date.now() - downSince }, `database: answering again after ${Date.now() - downSince} ms`);
      reason = null;
    } catch (e) {
      if (closed) return;
      if (reason === null) {
        downSince = Date.now();
        // pg words its connect timeout "timeout expired": say what it means
        const why = /timeout/i.test((e as Error).message ?? '') ? `no answer to SELECT 1 within ${timeoutMs} ms` : describe(e);
        reason = `the database at ${c.host}:${c.port} does not answer (${why}) since ${new Date(downSince).toISOString()}`;
        log.error({ host: c.host, port: c.port }, reason);
      }
    } finally {
      clearTimeout(timer);
      // a server that never answers never ends the connection politely either
      (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
      client.end().catch(() => undefined);
      inFlight = false;
    }
  };
  const tick = setInterval(() => void ask(), everyMs);
  tick.unref();
  return {
    status: () => ({ up: reason === null, reason }),
    close() {
      closed = true;
      clearInterval(tick);
    },
  };
}
