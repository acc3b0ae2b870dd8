// Adoption: objects that carry a module's prefix but that its owner role does not own, e.g.
// tables made by hand with `psql -f modules/mymod/migrations/001_init.sql` as the original hub
// documented. Left alone they make a module that runs but answers "permission denied for
// table mymod_items" to every query, so they are found before the module starts.
//
// Rule: an object owned by the kernel's own database login (the original hub's workflow) AND
// created by a statement of the module's own migration files is adopted automatically, with one
// log line each; any other (another role's, or one the module's files never create: on a
// database shared with other applications a new module's prefix must not claim their tables by
// name alone) only on request (`hubctl migrate <name> --adopt`), otherwise the module fails
// naming them.
import type { PoolClient } from 'pg';
import { HubError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { quoteIdent } from './module-roles.js';

export interface ForeignObject {
  /** SQL keyword for ALTER … OWNER TO: TABLE, VIEW, MATERIALIZED VIEW, SEQUENCE, FOREIGN TABLE, ROUTINE, TYPE. */
  kind: string;
  /** Schema-qualified, quoted identity for ALTER (a routine's with its argument types). */
  identity: string;
  name: string;
  owner: string;
}

// Sequences owned by a column (serial, identity) follow their table; indexes likewise.
const FOREIGN_SQL = `
WITH ns AS (
  SELECT oid, nspname FROM pg_catalog.pg_namespace
   WHERE nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') AND nspname NOT LIKE 'pg\\_%'
), me AS (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = $2)
SELECT CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'S' THEN 'SEQUENCE'
                      WHEN 'f' THEN 'FOREIGN TABLE' ELSE 'TABLE' END AS kind,
       pg_catalog.format('%I.%I', ns.nspname, c.relname) AS identity, c.relname::text AS name,
       pg_catalog.pg_get_userbyid(c.relowner)::text AS owner
  FROM pg_catalog.pg_class c JOIN ns ON ns.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND pg_catalog.starts_with(c.relname, $1)
   AND c.relowner <> (SELECT oid FROM me)
   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
                     AND d.objid = c.oid AND d.deptype IN ('a', 'i', 'e'))
UNION ALL
SELECT 'ROUTINE', p.oid::pg_catalog.regprocedure::text, p.proname::text, pg_catalog.pg_get_userbyid(p.proowner)::text
  FROM pg_catalog.pg_proc p JOIN ns ON ns.oid = p.pronamespace
 WHERE pg_catalog.starts_with(p.proname, $1) AND p.proowner <> (SELECT oid FROM me)
   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND d.objid = p.oid AND d.deptype = 'e')
UNION ALL
SELECT 'TYPE', pg_catalog.format('%I.%I', ns.nspname, t.typname), t.typname::text, pg_catalog.pg_get_userbyid(t.typowner)::text
  FROM pg_catalog.pg_type t JOIN ns ON ns.oid = t.typnamespace
 WHERE t.typrelid = 0 AND t.typelem = 0 AND pg_catalog.starts_with(t.typname, $1) AND t.typowner <> (SELECT oid FROM me)
   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_type'::pg_catalog.regclass AND d.objid = t.oid AND d.deptype = 'e')
ORDER BY 1, 3
`;

/** Objects whose name starts with `prefix` and whose owner is not `owner`. */
export async function findForeignPrefixed(client: Pick<PoolClient, 'query'>, prefix: string, owner: string): Promise<ForeignObject[]> {
  return (await client.query<ForeignObject>(FOREIGN_SQL, [prefix, owner])).rows;
}

/**
 * Hands the module's prefixed objects to its owner role, on the kernel's admin connection
 * (`admin` must be a client in no transaction). Objects owned by `kernelLogin` are always
 * adopted; others only with `adoptAll` (hubctl migrate <name> --adopt). Throws HubError
 * `migration_adopt` naming the objects it may not adopt. Returns what it adopted.
 */
export async function adoptPrefixed(admin: PoolClient, opts: {
  module: string; prefix: string; owner: string; kernelLogin: string; adoptAll: boolean; log: Logger;
  /** Names the module's own migration files create (migration-sql.ts namesDeclared). */
  declared: Set<string>;
  /** lock_timeout for ALTER … OWNER TO, which waits for queries on the table (ms). */
  lockTimeoutMs: number;
}): Promise<ForeignObject[]> {
  const found = await findForeignPrefixed(admin, opts.prefix, opts.owner);
  if (found.length === 0) return [];
  const refused = found.filter((o) => !opts.adoptAll && !(o.owner === opts.kernelLogin && opts.declared.has(o.name)));
  if (refused.length > 0) {
    const list = refused.map((o) => `${o.kind.toLowerCase()} ${o.name} (owned by ${o.owner}${o.owner === opts.kernelLogin ? ', not created by its migrations' : ''})`).join(', ');
    throw new HubError('migration_adopt',
      `${opts.module}: ${list} ${refused.length === 1 ? 'carries' : 'carry'} the prefix "${opts.prefix}" but ${refused.length === 1 ? 'is' : 'are'} not the module's; ` +
      `run hubctl migrate ${opts.module} --adopt to hand ${refused.length === 1 ? 'it' : 'them'} to the module, or rename or drop ${refused.length === 1 ? 'it' : 'them'}`,
      { module: opts.module, objects: refused });
  }
  const own = quoteIdent(opts.owner);
  await admin.query('BEGIN');
  try {
    await admin.query("SELECT pg_catalog.set_config('lock_timeout', $1, true)", [`${Math.max(1, Math.floor(opts.lockTimeoutMs))}ms`]);
    // ALTER … OWNER TO needs the right to become the new owner; a CREATEROLE login gets it
    // for this transaction only, so the kernel is a member of no module role afterwards.
    const su = (await admin.query<{ su: boolean }>('SELECT rolsuper AS su FROM pg_catalog.pg_roles WHERE rolname = current_user')).rows[0]!.su;
    if (!su) await admin.query(`GRANT ${own} TO CURRENT_USER`);
    for (const o of found) await admin.query(`ALTER ${o.kind} ${o.identity} OWNER TO ${own}`);
    if (!su) await admin.query(`REVOKE ${own} FROM CURRENT_USER`);
    await admin.query('COMMIT');
  } catch (e) {
    await admin.query('ROLLBACK').catch(() => undefined);
    throw new HubError('migration_adopt', `${opts.module}: cannot hand its prefixed objects to the module's role: ${(e as Error).message}`);
  }
  for (const o of found) {
    opts.log.info({ module: opts.module, object: o.name, previous_owner: o.owner },
      `migrate: adopted ${o.kind.toLowerCase()} ${o.name} (was owned by ${o.owner}) for module ${opts.module}`);
  }
  return found;
}
