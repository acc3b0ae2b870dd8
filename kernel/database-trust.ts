// Does the database server check passwords? Per-module roles isolate modules only if it does:
// on a server that trusts local logins (pg_hba.conf `trust`, as many development installs
// do), `new pg.Client({ user: 'postgres' })` from a module's child logs in as the superuser.
// Asked once at start by logging in as a role that does not exist: a server that checks
// passwords answers "password authentication failed" (it fakes the exchange for unknown
// roles), one that trusts the login gets as far as "role … does not exist".
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
 */
export async function probePasswordTrust(c: DatabaseConnection, timeoutMs = 5_000): Promise<boolean | null> {
  const client = new pg.Client({
    host: c.host, port: c.port, database: c.database, user: `hub_trust_probe_${randomBytes(4).toString('hex')}`,
    password: randomBytes(12).toString('base64url'), connectionTimeoutMillis: timeoutMs, application_name: 'bmc-hub-trust-probe',
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
