// ctx.db: what a module's child uses to reach its own tables. A small pool per child, on the
// connection the kernel issued to it (its own runtime role where the server allows roles).
import pg from 'pg';
import type { Logger } from './logger.js';
import { requestUser } from './runtime/auth.js';

/**
 * The value `hub.user_id` must hold for a query made now: the signed-in user's id while a
 * request for one runs (shared/runtime/auth.ts), else '' (row-level security policies read it
 * with `nullif(current_setting('hub.user_id', true), '')::bigint`).
 */
function currentUserId(): string {
  const u = requestUser.getStore();
  return u ? String(u.id) : '';
}

// hub.user_id is set on every checkout, whatever the connection held before, and a request's
// value is reset to '' before the connection goes back to the pool. No per-connection cache:
// module code can run `set_config('hub.user_id', …)` itself, and a cached "last value" would
// then carry its value into another user's requests. (This protects against module bugs and
// ordinary queries; module code that sets the variable itself within its own checkout can
// always read its own tables: README "Row-level security".)
async function setUserId(client: pg.PoolClient): Promise<string> {
  const want = currentUserId();
  await client.query("SELECT set_config('hub.user_id', $1, false)", [want]);
  return want;
}

/** Back to '' before release when a request's user was set (the next checkout sets it again anyway). */
async function resetUserId(client: pg.PoolClient, was: string): Promise<Error | undefined> {
  if (was === '') return undefined;
  try {
    await client.query("SELECT set_config('hub.user_id', '', false)");
    return undefined;
  } catch (e) {
    return e as Error; // a connection that cannot be reset is not reused
  }
}

export interface ModuleDbConnection {
  host: string;
  port: number;
  database: string;
  user: string;
  password?: string;
}

export interface ModuleQueries {
  /** All rows; `$1` placeholders. */
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  /** The first row, or null. */
  one<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T | null>;
  /**
   * Runs an INSERT and returns the new row's id. Like the original execute_insert, the
   * statement needs no RETURNING clause: ` RETURNING id` is appended when it has none,
   * otherwise the first column of its RETURNING is returned. Integer ids that pg hands
   * back as strings (bigint) come back as numbers while they are safe integers.
   */
  insert<T = number>(sql: string, params?: unknown[]): Promise<T | null>;
}

export interface ModuleDb extends ModuleQueries {
  /** BEGIN; fn(tx); COMMIT, or ROLLBACK and rethrow when fn throws. Not nestable. */
  transaction<T>(fn: (tx: ModuleQueries) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export interface ModuleDbOptions {
  max?: number;
  statementTimeoutMs?: number;
  log?: Logger;
}

export function createModuleDb(connection: ModuleDbConnection, opts: ModuleDbOptions = {}): ModuleDb {
  const pool = new pg.Pool({
    host: connection.host,
    port: connection.port,
    database: connection.database,
    user: connection.user,
    ...(connection.password !== undefined ? { password: connection.password } : {}),
    max: opts.max ?? 5,
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
    ...(opts.statementTimeoutMs !== undefined ? { statement_timeout: opts.statementTimeoutMs } : {}),
  });
  // A server restart breaks idle connections; the pool replaces them, the child must not crash.
  pool.on('error', (err) => opts.log?.warn({ err: err.message }, 'db: idle connection lost'));

  const queries = (q: Pick<pg.Pool, 'query'>): ModuleQueries => ({
    async query<T>(sql: string, params?: unknown[]) {
      return (await q.query(sql, params)).rows as T[];
    },
    async one<T>(sql: string, params?: unknown[]) {
      return ((await q.query(sql, params)).rows[0] as T | undefined) ?? null;
    },
    async insert<T>(sql: string, params?: unknown[]) {
      const r = await q.query(withReturning(sql), params);
      const row = r.rows[0] as Record<string, unknown> | undefined;
      const first = r.fields[0]?.name;
      if (!row || first === undefined) return null;
      return normaliseId(row[first]) as T;
    },
  });

  // Every query borrows a connection and first makes its hub.user_id the caller's (DESIGN.md
  // "Identity and permissions": ctx.db sets hub.user_id for each query run for a request).
  const perQuery: Pick<pg.Pool, 'query'> = {
    query: (async (sql: string, params?: unknown[]) => {
      const client = await pool.connect();
      let broken: Error | undefined;
      let was = '?';
      try {
        was = await setUserId(client);
        return await client.query(sql, params);
      } catch (e) {
        if (!(e as { code?: string }).code) broken = e as Error;
        throw e;
      } finally {
        // set_config itself failed: what the connection holds is unknown, so it is not reused
        if (was === '?') broken ??= new Error('hub.user_id could not be set');
        else if (!broken) broken = await resetUserId(client, was);
        client.release(broken);
      }
    }) as pg.Pool['query'],
  };

  let closed: Promise<void> | null = null;
  return {
    ...queries(perQuery),
    async transaction<T>(fn: (tx: ModuleQueries) => Promise<T>): Promise<T> {
      const client = await pool.connect();
      let broken: Error | undefined;
      let was = '?';
      try {
        was = await setUserId(client);
        await client.query('BEGIN');
        const result = await fn(queries(client as unknown as Pick<pg.Pool, 'query'>));
        await client.query('COMMIT');
        return result;
      } catch (e) {
        // A failed ROLLBACK means the connection is unusable; do not return it to the pool.
        await client.query('ROLLBACK').catch((rbErr: Error) => { broken = rbErr; });
        throw e;
      } finally {
        if (was === '?') broken ??= new Error('hub.user_id could not be set');
        else if (!broken) broken = await resetUserId(client, was);
        client.release(broken);
      }
    },
    close() {
      closed ??= pool.end();
      return closed;
    },
  };
}

/** Appends ` RETURNING id` unless the statement already has a RETURNING clause. */
export function withReturning(sql: string): string {
  if (/\breturning\b/i.test(stripLiteralsAndComments(sql))) return sql;
  return `${sql.replace(/[\s;]+$/, '')} RETURNING id`;
}

function stripLiteralsAndComments(sql: string): string {
  return sql
    .replace(/--[^\n]*/g, ' ')
    .replace(/\/\*[\s\S]*?\*\//g, ' ')
    .replace(/'(?:[^']|'')*'/g, "''")
    .replace(/"(?:[^"]|"")*"/g, '""');
}

function normaliseId(v: unknown): unknown {
  if (typeof v === 'string' && /^-?\d+$/.test(v)) {
    const n = Number(v);
    if (Number.isSafeInteger(n)) return n;
  }
  return v;
}
