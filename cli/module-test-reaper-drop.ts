// Dropping one throwaway database and its module roles: used by the run's own cleanup and
// by the reaper (module-test-reaper.ts), which must not be imported for it (it reads stdin).
import pg from 'pg';
import { rolePrefixFor } from '../kernel/module-roles.js';

/** Drops the database `name` on the server of `adminUrl` (sessions ended first) and every role carrying its prefix. */
export async function dropThrowaway(adminUrl: string, name: string): Promise<void> {
  const c = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 10_000 });
  await c.connect();
  try {
    await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    const roles = await c.query<{ rolname: string }>('SELECT rolname FROM pg_catalog.pg_roles WHERE pg_catalog.starts_with(rolname, $1)', [rolePrefixFor(name)]);
    for (const r of roles.rows) await c.query(`DROP ROLE IF EXISTS "${r.rolname.replace(/"/g, '""')}"`);
  } finally {
    await c.end().catch(() => undefined);
  }
}

