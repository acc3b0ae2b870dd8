// The prefix seal: a module migration may create, rename or alter only objects whose names
// start with the module's table_prefix, and may drop only those.
//
// It works by diffing catalog snapshots taken inside the migration's own transaction, so it
// needs no superuser (event triggers would) and a violation simply rolls the transaction back.
// Modules live in `public`; every other non-system schema is watched too, so a migration
// cannot sidestep the seal with CREATE SCHEMA. Objects that belong to an extension are
// ignored: the extension, not the module, named them.
import type { PoolClient } from 'pg';
import { HubError } from '../shared/errors.js';

export interface CatalogObject {
  cat: 'class' | 'proc' | 'type' | 'schema';
  oid: string;
  kind: string;
  name: string;
  schema: string;
  /** The row was written by the current transaction (ALTER, GRANT, new trigger...). */
  touched: boolean;
  /** For an index: the name of the table it is on. */
  onTable: string | null;
}

export type CatalogSnapshot = Map<string, CatalogObject>;

export interface SealViolation {
  action: 'creates' | 'renames' | 'drops' | 'alters';
  object: CatalogObject;
  previousName?: string;
  message: string;
}

const SNAPSHOT_SQL = `
WITH ns AS (
  SELECT oid, nspname, xmin FROM pg_namespace
  WHERE nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
    AND nspname NOT LIKE 'pg\\_temp\\_%' AND nspname NOT LIKE 'pg\\_toast\\_temp\\_%'
), ext AS (
  SELECT classid, objid FROM pg_depend WHERE deptype = 'e'
), me AS (
  SELECT pg_current_xact_id()::xid AS x
)
SELECT 'class' AS cat, c.oid::text AS oid, c.relkind::text AS kind, c.relname::text AS name, ns.nspname::text AS schema,
       c.xmin = me.x AS touched,
       (SELECT t.relname::text FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid WHERE i.indexrelid = c.oid) AS on_table
  FROM pg_class c JOIN ns ON ns.oid = c.relnamespace CROSS JOIN me
 WHERE c.relkind <> 't'
   AND NOT EXISTS (SELECT 1 FROM ext WHERE ext.classid = 'pg_class'::regclass AND ext.objid = c.oid)
UNION ALL
SELECT 'proc', p.oid::text, p.prokind::text, p.proname::text, ns.nspname::text, p.xmin = me.x, NULL
  FROM pg_proc p JOIN ns ON ns.oid = p.pronamespace CROSS JOIN me
 WHERE NOT EXISTS (SELECT 1 FROM ext WHERE ext.classid = 'pg_proc'::regclass AND ext.objid = p.oid)
UNION ALL
-- Row types (typrelid <> 0) belong to a relation checked above, composite types included
-- (they have a pg_class row of kind 'c'); array types are implicit and named "_<type>".
SELECT 'type', t.oid::text, t.typtype::text, t.typname::text, ns.nspname::text, t.xmin = me.x, NULL
  FROM pg_type t JOIN ns ON ns.oid = t.typnamespace CROSS JOIN me
 WHERE t.typrelid = 0
   AND NOT EXISTS (SELECT 1 FROM pg_type e WHERE e.typarray = t.oid)
   AND NOT EXISTS (SELECT 1 FROM ext WHERE ext.classid = 'pg_type'::regclass AND ext.objid = t.oid)
UNION ALL
SELECT 'schema', ns.oid::text, 'n', ns.nspname::text, ns.nspname::text, false, NULL FROM ns
`;

const CLASS_KINDS: Record<string, string> = {
  r: 'table', p: 'partitioned table', i: 'index', I: 'partitioned index', S: 'sequence', v: 'view',
  m: 'materialized view', c: 'composite type', f: 'foreign table',
};
const PROC_KINDS: Record<string, string> = { f: 'function', p: 'procedure', a: 'aggregate', w: 'window function' };
const TYPE_KINDS: Record<string, string> = { e: 'enum type', d: 'domain', r: 'range type', m: 'multirange type', b: 'base type', p: 'pseudo-type', c: 'composite type' };

export async function snapshotCatalog(client: PoolClient): Promise<CatalogSnapshot> {
  const r = await client.query<{ cat: CatalogObject['cat']; oid: string; kind: string; name: string; schema: string; touched: boolean; on_table: string | null }>(SNAPSHOT_SQL);
  const snap: CatalogSnapshot = new Map();
  for (const row of r.rows) {
    snap.set(`${row.cat}:${row.oid}`, { cat: row.cat, oid: row.oid, kind: row.kind, name: row.name, schema: row.schema, touched: row.touched, onTable: row.on_table });
  }
  return snap;
}

function kindName(o: CatalogObject): string {
  if (o.cat === 'class') return CLASS_KINDS[o.kind] ?? 'relation';
  if (o.cat === 'proc') return PROC_KINDS[o.kind] ?? 'function';
  if (o.cat === 'type') return TYPE_KINDS[o.kind] ?? 'type';
  return 'schema';
}

function qualified(o: CatalogObject, name = o.name): string {
  return o.schema === 'public' || o.cat === 'schema' ? `"${name}"` : `"${o.schema}"."${name}"`;
}

/** Everything the migration did outside its prefix, in a stable order (creates first). */
export function findViolations(before: CatalogSnapshot, after: CatalogSnapshot, prefix: string, label: string): SealViolation[] {
  const mine = (name: string): boolean => name.startsWith(prefix);
  const out: SealViolation[] = [];
  const notOurs = `which does not belong to this module (its prefix is "${prefix}")`;
  for (const [key, o] of after) {
    const old = before.get(key);
    const what = kindName(o);
    if (!old) {
      if (!mine(o.name)) {
        out.push({ action: 'creates', object: o, message: `${label} creates ${what} ${qualified(o)} without the prefix "${prefix}"; rename it to ${prefix}${o.name}` });
      } else if (o.onTable !== null && !mine(o.onTable)) {
        out.push({ action: 'creates', object: o, message: `${label} creates ${what} ${qualified(o)} on table "${o.onTable}", ${notOurs}` });
      }
    } else if (old.name !== o.name) {
      if (!mine(old.name)) {
        out.push({ action: 'renames', object: o, previousName: old.name, message: `${label} renames ${what} ${qualified(old)}, ${notOurs}` });
      } else if (!mine(o.name)) {
        out.push({ action: 'renames', object: o, previousName: old.name,
          message: `${label} renames ${what} ${qualified(old)} to ${qualified(o)}, which lacks the prefix "${prefix}"; name it ${prefix}${o.name}` });
      }
    } else if (o.touched && !old.touched && !mine(o.name) && o.cat !== 'schema') {
      out.push({ action: 'alters', object: o, message: `${label} alters ${what} ${qualified(o)}, ${notOurs}` });
    }
  }
  for (const [key, o] of before) {
    if (!after.has(key) && !mine(o.name)) {
      out.push({ action: 'drops', object: o, message: `${label} drops ${kindName(o)} ${qualified(o)}, ${notOurs}` });
    }
  }
  const order = { creates: 0, renames: 1, alters: 2, drops: 3 } as const;
  return out.sort((a, b) => order[a.action] - order[b.action] || rank(a.object) - rank(b.object) || a.object.name.localeCompare(b.object.name));
}

/** Name the cause, not its side effects: a dropped table before its sequence and indexes. */
function rank(o: CatalogObject): number {
  if (o.cat === 'schema') return 0;
  if (o.cat === 'class') return 'rpfvm'.includes(o.kind) ? 1 : o.kind === 'S' ? 3 : o.kind === 'c' ? 2 : 4;
  return 2;
}

/** Throws migration_prefix naming the file and the first offending object; the caller rolls back. */
export function assertPrefixSeal(before: CatalogSnapshot, after: CatalogSnapshot, prefix: string, label: string): void {
  const violations = findViolations(before, after, prefix, label);
  if (violations.length === 0) return;
  const first = violations[0]!;
  const more = violations.length > 1 ? ` (and ${violations.length - 1} more)` : '';
  throw new HubError('migration_prefix', first.message + more, {
    file: label,
    violations: violations.map((v) => ({ action: v.action, kind: kindName(v.object), name: v.object.name, schema: v.object.schema, ...(v.previousName ? { previous_name: v.previousName } : {}) })),
  });
}
