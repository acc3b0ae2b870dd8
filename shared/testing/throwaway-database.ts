// Throwaway PostgreSQL databases for tests: a fresh database on a server the caller names
// (a superuser URL such as DATABASE_URL), dropped afterwards together with the module roles
// the kernel made for it. Module roles are cluster-wide; the kernel names every one of them
// with a prefix derived from the database's name (kernel/module-roles.ts), so they are found
// by that prefix.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { rolePrefixFor } from '../../kernel/module-roles.js';
import { HUB_ROOT } from '../paths.js';

export interface ThrowawayDatabase {
  /** The new database's URL: the server URL with the database name replaced (and the user, for `owner`). */
  url: string;
  name: string;
  /** Drops the database (closing its connections) and every role with its prefix. Idempotent. */
  drop(): Promise<void>;
  /** The same, synchronously in a helper process: for process-exit handlers, where nothing async runs. */
  dropSync(): void;
}

async function onServer<T>(serverUrl: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: serverUrl, connectionTimeoutMillis: 10_000 });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** Drops database `name` on the server and every role named with its prefix. */
export async function dropDatabaseAndRoles(serverUrl: string, name: string): Promise<void> {
  await onServer(serverUrl, async (c) => {
    await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    const roles = await c.query<{ rolname: string }>('SELECT rolname FROM pg_roles WHERE starts_with(rolname, $1)', [rolePrefixFor(name)]);
    for (const r of roles.rows) await c.query(`DROP ROLE IF EXISTS "${r.rolname.replace(/"/g, '""')}"`);
  });
}

/**
 * Creates `hubtest_<10 hex>` on the server of `serverUrl` (which must be allowed to CREATE
 * DATABASE; to make module roles the kernel also needs CREATEROLE or superuser on it).
 * `owner`: the database is owned by a new plain role (no CREATEROLE, like a managed
 * PostgreSQL account) and the URL logs in as it. Errors: the server's own (unreachable,
 * permission denied), with the server named.
 */
export async function createThrowawayDatabase(serverUrl: string, opts: { owner?: 'plain' } = {}): Promise<ThrowawayDatabase> {
  const name = `hubtest_${randomBytes(5).toString('hex')}`;
  const owner = opts.owner ? `${rolePrefixFor(name)}plain` : null;
  try {
    await onServer(serverUrl, async (c) => {
      if (owner) await c.query(`CREATE ROLE "${owner}" LOGIN NOSUPERUSER NOCREATEROLE NOCREATEDB`);
      await c.query(`CREATE DATABASE ${name}${owner ? ` OWNER "${owner}"` : ''}`);
    });
  } catch (e) {
    const u = new URL(serverUrl);
    throw new Error(`cannot create a test database on ${u.hostname}:${u.port || 5432} as ${u.username || '(default user)'}: ${(e as Error).message}; give a URL that may CREATE DATABASE`);
  }
  const u = new URL(serverUrl);
  u.pathname = `/${name}`;
  if (owner) {
    u.username = owner;
    u.password = '';
  }
  return {
    url: u.toString(),
    name,
    drop: () => dropDatabaseAndRoles(serverUrl, name),
    dropSync() {
      const script = `import('pg').then(async ({ default: pg }) => {
        const c = new pg.Client({ connectionString: process.env.URL, connectionTimeoutMillis: 5000 });
        await c.connect();
        await c.query('DROP DATABASE IF EXISTS "' + process.env.NAME + '" WITH (FORCE)');
        const r = await c.query('SELECT rolname FROM pg_roles WHERE starts_with(rolname, $1)', [process.env.PREFIX]);
        for (const row of r.rows) await c.query('DROP ROLE IF EXISTS "' + row.rolname + '"');
        await c.end();
      })`;
      spawnSync(process.execPath, ['--input-type=module', '-e', script], {
        cwd: HUB_ROOT,
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', URL: serverUrl, NAME: name, PREFIX: rolePrefixFor(name) },
        stdio: 'ignore',
        timeout: 15_000,
      });
    },
  };
}
