// Does the database server check passwords? Per-module roles isolate modules only if it does:
// on a server that trusts local logins (pg_hba.conf `trust`, as many development installs
// do), `new pg.Client({ user: 'postgres' })` from a module's child logs in as the superuser.
// Asked once at start by logging in with a wrong password as a role that does not exist, as
// the kernel's own login and as "postgres": a server that checks passwords answers "password
// authentication failed" (it fakes the exchange for unknown roles), one that trusts the login
// lets it in or gets as far as "role … does not exist".
import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** Where and as whom the kernel connects (kernel/database.ts fills it in). */
export interface DatabaseConnection {
  host: string;
  port: number;
  database: string;
  user: string;
  password?: string;
}

/**
 * true: the server let a login through without checking a password; false: it asked for one;
 * null: it refused for another reason (pg_hba reject, ident, unreachable) and the answer is unknown.
 * Asked as three roles, each with a wrong password: one that does not exist (a server trusting
 * everyone), the kernel's own login and "postgres" (pg_hba.conf lines trusting just those:
 * red team, `host all postgres 127.0.0.1/32 trust` above a scram line went unnoticed while
 * any module could log in as the superuser). Any login that gets through is trust.
 */
export async function probePasswordTrust(c: DatabaseConnection, timeoutMs = 5_000): Promise<boolean | null> {
  const users = [...new Set([`hub_trust_probe_${randomBytes(4).toString('hex')}`, c.user, 'postgres'])];
  const answers = await Promise.all(users.map((user) => probeAs(c, user, timeoutMs)));
  if (answers.includes(true)) return true;
  return answers.includes(false) ? false : null;
}

async function probeAs(c: DatabaseConnection, user: string, timeoutMs: number): Promise<boolean | null> {
  const client = new pg.Client({
    host: c.host, port: c.port, database: c.database, user,
    password: `wrong-${randomBytes(12).toString('base64url')}`, connectionTimeoutMillis: timeoutMs, application_name: 'bmc-hub-trust-probe',
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return true;
  } catch (e) {
    const err = e as { code?: string; message?: string };
    if (err.code === '28P01') return false;
    if (err.code === '28000' && /does not exist/.test(err.message ?? '')) return true;
    return null;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** The one loud line a kernel logs when the server trusts logins. */
export function trustWarning(c: DatabaseConnection): string {
  return `database: the PostgreSQL server at ${c.host}:${c.port} lets logins in without checking passwords (pg_hba.conf "trust"): ` +
    'any module can connect as any role, the kernel\'s own login included, so the modules\' own database roles do not isolate them; ' +
    'set the server to scram-sha-256 for these connections, or unset DATABASE_URL to use the embedded database';
}

/**
 * Databases on the server, other than the hub's own, that every role may connect to (CONNECT
 * granted to PUBLIC, PostgreSQL's default): a module's runtime role can log in there too, with
 * its own credentials. Template databases that refuse connections are left out.
 */
export async function databasesOpenToAll(pool: pg.Pool): Promise<string[]> {
  const r = await pool.query<{ datname: string }>(
    `SELECT datname FROM pg_catalog.pg_database
      WHERE datallowconn AND datname <> current_database()
        AND has_database_privilege('public', oid, 'CONNECT') ORDER BY datname`);
  return r.rows.map((x) => x.datname);
}

/**
 * On the embedded server the hub owns every database: close the others (postgres, template1)
 * to PUBLIC, so module roles can reach only the hub's. The kernel's login is superuser there.
 */
export async function closeOtherDatabases(pool: pg.Pool): Promise<void> {
  for (const name of await databasesOpenToAll(pool)) {
    await pool.query(`REVOKE CONNECT ON DATABASE "${name.replace(/"/g, '""')}" FROM PUBLIC`);
  }
}

/** The one line a kernel logs when module roles could log in to other databases of a shared server. */
export function openDatabasesWarning(names: string[]): string {
  return `database: every role, module roles included, may connect to ${names.map((n) => `"${n}"`).join(', ')} on this server (CONNECT granted to PUBLIC); ` +
    'run REVOKE CONNECT ON DATABASE <name> FROM PUBLIC there (granting it back to the roles that need it) to keep modules to the hub\'s database';
}
