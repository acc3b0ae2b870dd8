// The prefix seal: a module migration may create, rename or alter only objects whose names
// start with the module's table_prefix, and may drop only those.
//
// It works by diffing catalog snapshots taken inside the migration's own transaction, so it
// needs no superuser (event triggers would) and a violation simply rolls the transaction back.
// Modules live in `public`; every other non-system schema is watched too, so a migration
// cannot sidestep the seal with CREATE SCHEMA. Objects that belong to an extension are
// ignored: the extension, not the module, named them. Every catalog with named objects is
// in the snapshot (operators, collations, conversions, text search, operator classes,
// statistics, casts, extensions...) and so is the session's temporary schema; kinds that
// cannot carry a prefix and temporary objects are refused outright. With per-module roles a
// second check covers everything the owner role owns, whatever its kind (pg_shdepend).
import type { PoolClient } from 'pg';
import { HubError } from '../shared/errors.js';

export type CatalogKind = 'class' | 'proc' | 'type' | 'schema' | 'operator' | 'collation' | 'conversion' | 'ts_config'
  | 'ts_dict' | 'opclass' | 'opfamily' | 'statistics' | 'cast' | 'extension' | 'language' | 'event_trigger' | 'publication'
  | 'foreign_server' | 'transform';

export interface CatalogObject {
  cat: CatalogKind;
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
  action: 'creates' | 'renames' | 'drops' | 'alters' | 'owns';
  object: CatalogObject;
  previousName?: string;
  message: string;
}

/**
 * Kinds whose name cannot carry a module's prefix (an operator is `~~*`, a cast has no name,
 * an extension or language is named by whoever wrote it): a migration may not create them,
 * because the server would use them for every module's queries.
 */
const UNPREFIXABLE: ReadonlySet<CatalogKind> = new Set(['operator', 'cast', 'extension', 'language', 'transform', 'event_trigger']);

// Every catalog name is schema-qualified and the seal's session sets search_path to
// pg_catalog first: a migration's TEMP VIEW called pg_class must not blind the seal.
const SNAPSHOT_SQL = `
WITH ns AS (
  SELECT oid, nspname, xmin FROM pg_catalog.pg_namespace
  WHERE (nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
         AND nspname NOT LIKE 'pg\\_temp\\_%' AND nspname NOT LIKE 'pg\\_toast\\_temp\\_%')
     OR oid = pg_catalog.pg_my_temp_schema()
), ext AS (
  SELECT classid, objid FROM pg_catalog.pg_depend WHERE deptype = 'e'
), me AS (
  SELECT pg_catalog.pg_current_xact_id()::xid AS x
)
SELECT 'class' AS cat, c.oid::text AS oid, c.relkind::text AS kind, c.relname::text AS name, ns.nspname::text AS schema,
       c.xmin = me.x AS touched,
       (SELECT t.relname::text FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class t ON t.oid = i.indrelid WHERE i.indexrelid = c.oid) AS on_table
  FROM pg_catalog.pg_class c JOIN ns ON ns.oid = c.relnamespace CROSS JOIN me
 WHERE c.relkind <> 't'
   AND NOT EXISTS (SELECT 1 FROM ext WHERE ext.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND ext.objid = c.oid)
UNION ALL
SELECT 'proc', p.oid::text, p.prokind::text, p.proname::text, ns.nspname::text, p.xmin = me.x, NULL
  FROM pg_catalog.pg_proc p JOIN ns ON ns.oid = p.pronamespace CROSS JOIN me
 WHERE NOT EXISTS (SELECT 1 FROM ext WHERE ext.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND ext.objid = p.oid)
UNION ALL
-- Row types (typrelid <> 0) belong to a relation checked above, composite types included
-- (they have a pg_class row of kind 'c'); array types are implicit and named "_<type>".
SELECT 'type', t.oid::text, t.typtype::text, t.typname::text, ns.nspname::text, t.xmin = me.x, NULL
  FROM pg_catalog.pg_type t JOIN ns ON ns.oid = t.typnamespace CROSS JOIN me
 WHERE t.typrelid = 0
   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_type e WHERE e.typarray = t.oid)
   AND NOT EXISTS (SELECT 1 FROM ext WHERE ext.classid = 'pg_catalog.pg_type'::pg_catalog.regclass AND ext.objid = t.oid)
UNION ALL
SELECT 'schema', ns.oid::text, 'n', ns.nspname::text, ns.nspname::text, false, NULL FROM ns
UNION ALL
SELECT 'operator', o.oid::text, o.oprkind::text, o.oprname::text, ns.nspname::text, o.xmin = me.x, NULL
  FROM pg_catalog.pg_operator o JOIN ns ON ns.oid = o.oprnamespace CROSS JOIN me
 WHERE NOT EXISTS (SELECT 1 FROM ext WHERE ext.classid = 'pg_catalog.pg_operator'::pg_catalog.regclass AND ext.objid = o.oid)
UNION ALL
SELECT 'collation', x.oid::text, '', x.collname::text, ns.nspname::text, x.xmin = me.x, NULL
  FROM pg_catalog.pg_collation x JOIN ns ON ns.oid = x.collnamespace CROSS JOIN me
 WHERE NOT EXISTS (SELECT 1 FROM ext WHERE ext.classid = 'pg_catalog.pg_collation'::pg_catalog.regclass AND ext.objid = x.oid)
UNION ALL
SELECT 'conversion', x.oid::text, '', x.conname::text, ns.nspname::text, x.xmin = me.x, NULL
  FROM pg_catalog.pg_conversion x JOIN ns ON ns.oid = x.connamespace CROSS JOIN me
UNION ALL
SELECT 'ts_config', x.oid::text, '', x.cfgname::text, ns.nspname::text, x.xmin = me.x, NULL
  FROM pg_catalog.pg_ts_config x JOIN ns ON ns.oid = x.cfgnamespace CROSS JOIN me
UNION ALL
SELECT 'ts_dict', x.oid::text, '', x.dictname::text, ns.nspname::text, x.xmin = me.x, NULL
  FROM pg_catalog.pg_ts_dict x JOIN ns ON ns.oid = x.dictnamespace CROSS JOIN me
UNION ALL
SELECT 'opclass', x.oid::text, '', x.opcname::text, ns.nspname::text, x.xmin = me.x, NULL
  FROM pg_catalog.pg_opclass x JOIN ns ON ns.oid = x.opcnamespace CROSS JOIN me
 WHERE NOT EXISTS (SELECT 1 FROM ext WHERE ext.classid = 'pg_catalog.pg_opclass'::pg_catalog.regclass AND ext.objid = x.oid)
UNION ALL
SELECT 'opfamily', x.oid::text, '', x.opfname::text, ns.nspname::text, x.xmin = me.x, NULL
  FROM pg_catalog.pg_opfamily x JOIN ns ON ns.oid = x.opfnamespace CROSS JOIN me
 WHERE NOT EXISTS (SELECT 1 FROM ext WHERE ext.classid = 'pg_catalog.pg_opfamily'::pg_catalog.regclass AND ext.objid = x.oid)
UNION ALL
SELECT 'statistics', x.oid::text, '', x.stxname::text, ns.nspname::text, x.xmin = me.x, NULL
  FROM pg_catalog.pg_statistic_ext x JOIN ns ON ns.oid = x.stxnamespace CROSS JOIN me
UNION ALL
SELECT 'cast', x.oid::text, '', pg_catalog.format_type(x.castsource, NULL) || ' AS ' || pg_catalog.format_type(x.casttarget, NULL), '', x.xmin = me.x, NULL
  FROM pg_catalog.pg_cast x CROSS JOIN me WHERE x.oid >= 16384
UNION ALL
SELECT 'extension', x.oid::text, '', x.extname::text, '', x.xmin = me.x, NULL FROM pg_catalog.pg_extension x CROSS JOIN me
UNION ALL
SELECT 'language', x.oid::text, '', x.lanname::text, '', x.xmin = me.x, NULL FROM pg_catalog.pg_language x CROSS JOIN me WHERE x.oid >= 16384
UNION ALL
SELECT 'transform', x.oid::text, '', pg_catalog.format_type(x.trftype, NULL), '', x.xmin = me.x, NULL FROM pg_catalog.pg_transform x CROSS JOIN me
UNION ALL
SELECT 'event_trigger', x.oid::text, '', x.evtname::text, '', x.xmin = me.x, NULL FROM pg_catalog.pg_event_trigger x CROSS JOIN me
UNION ALL
SELECT 'publication', x.oid::text, '', x.pubname::text, '', x.xmin = me.x, NULL FROM pg_catalog.pg_publication x CROSS JOIN me
UNION ALL
SELECT 'foreign_server', x.oid::text, '', x.srvname::text, '', x.xmin = me.x, NULL FROM pg_catalog.pg_foreign_server x CROSS JOIN me
`;

/**
 * Everything `role` owns in this database, whatever its kind: pg_shdepend records one
 * ownership row per object (tables, sequences, views, functions, types, operators,
 * collations, conversions, text-search objects, operator classes, statistics, schemas,
 * publications…). Indexes carry no row (their owner is their table's), so they are read from
 * pg_class by owner: an index's name takes a relation name in the schema like a table's does,
 * and one made in a subtransaction (a DO block with an EXCEPTION clause) escapes the snapshot
 * diff in role mode. Implicit array and row types are named after their type or table, and
 * TOAST tables and their indexes live in pg_toast under system names.
 */
const OWNED_SQL = `
WITH me AS (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = $1)
SELECT (o).type AS type, (o).schema AS schema, (o).name AS name, (o).identity AS identity
  FROM (SELECT pg_catalog.pg_identify_object(d.classid, d.objid, d.objsubid) AS o
          FROM pg_catalog.pg_shdepend d
         WHERE d.refclassid = 'pg_catalog.pg_authid'::pg_catalog.regclass
           AND d.refobjid = (SELECT oid FROM me)
           AND d.deptype = 'o'
           AND d.dbid = (SELECT oid FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database())
        UNION ALL
        SELECT pg_catalog.pg_identify_object('pg_catalog.pg_class'::pg_catalog.regclass, c.oid, 0)
          FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
         WHERE c.relowner = (SELECT oid FROM me) AND c.relkind IN ('i', 'I')
           AND n.nspname <> 'pg_toast' AND n.nspname NOT LIKE 'pg\\_toast\\_temp\\_%') s
 ORDER BY 1, 4
`;

/**
 * Routines of `role` that share their name with a routine of another role, in any schema
 * (pg_catalog's built-ins, an extension's, another application's). PostgreSQL picks among all
 * functions of a name on the search_path by argument types, and public is on everyone's path:
 * `public.has_database_privilege(text, name, text)` from a module with prefix "has_" is a
 * better match than the built-in for a call the kernel's superuser makes, and ran as it. A
 * prefix ("has_", "pg_", "jsonb_", "to_") can spell a built-in's name, so the prefix alone
 * does not keep a module's functions out of other sessions' calls; a name of its own does.
 */
const SHADOWING_SQL = `
WITH me AS (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = $1)
SELECT p.oid::pg_catalog.regprocedure::text AS identity, p.proname::text AS name,
       (SELECT pg_catalog.format('%I.%I', n.nspname, q.proname)
          FROM pg_catalog.pg_proc q JOIN pg_catalog.pg_namespace n ON n.oid = q.pronamespace
         WHERE q.proname = p.proname AND q.proowner <> (SELECT oid FROM me)
         ORDER BY n.nspname <> 'pg_catalog', n.nspname LIMIT 1) AS other
  FROM pg_catalog.pg_proc p
 WHERE p.proowner = (SELECT oid FROM me)
   AND EXISTS (SELECT 1 FROM pg_catalog.pg_proc q WHERE q.proname = p.proname AND q.proowner <> (SELECT oid FROM me))
 ORDER BY 1
`;

const CLASS_KINDS: Record<string, string> = {
  r: 'table', p: 'partitioned table', i: 'index', I: 'partitioned index', S: 'sequence', v: 'view',
  m: 'materialized view', c: 'composite type', f: 'foreign table',
};
const PROC_KINDS: Record<string, string> = { f: 'function', p: 'procedure', a: 'aggregate', w: 'window function' };
const TYPE_KINDS: Record<string, string> = { e: 'enum type', d: 'domain', r: 'range type', m: 'multirange type', b: 'base type', p: 'pseudo-type', c: 'composite type' };
const OTHER_KINDS: Partial<Record<CatalogKind, string>> = {
  operator: 'operator', collation: 'collation', conversion: 'conversion', ts_config: 'text search configuration',
  ts_dict: 'text search dictionary', opclass: 'operator class', opfamily: 'operator family', statistics: 'statistics object',
  cast: 'cast', extension: 'extension', language: 'language', event_trigger: 'event trigger', publication: 'publication',
  foreign_server: 'foreign server', transform: 'transform',
};

function unquoteIdent(name: string): string {
  return /^".*"$/s.test(name) ? name.slice(1, -1).replace(/""/g, '"') : name;
}

/** Makes the seal's own queries immune to objects the migration created (SET LOCAL; call inside the transaction). */
export async function pinCatalogSearchPath(client: Pick<PoolClient, 'query'>): Promise<void> {
  await client.query("SELECT pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true)");
}

/**
 * Objects `owner` owns whose name lacks `prefix`, whose kind cannot carry one, or that are
 * temporary; one message per object, e.g. `creates operator public.~~*(varchar,varchar), which
 * cannot carry the prefix "mop_"`. Runs in the migration's transaction, before it commits.
 */
export interface OwnedViolation { name: string; message: string }

export async function findOwnedOutsidePrefix(client: Pick<PoolClient, 'query'>, owner: string, prefix: string, label: string): Promise<OwnedViolation[]> {
  const r = await client.query<{ type: string; schema: string | null; name: string | null; identity: string }>(OWNED_SQL, [owner]);
  const out: OwnedViolation[] = [];
  const push = (o: { name: string | null; identity: string }, message: string): void => { out.push({ name: o.name ?? o.identity, message }); };
  for (const row of r.rows) {
    // pg_identify_object quotes names where SQL would ("p_weird;x"); the prefix is on the bare name.
    const o = { ...row, name: row.name === null ? null : unquoteIdent(row.name) };
    // Default privileges (ALTER DEFAULT PRIVILEGES) are settings of the role, not named objects.
    if (o.type === 'default acl') continue;
    const unprefixable = /^(operator|cast|extension|language|transform|event trigger)/.test(o.type);
    if (o.schema !== null && /^pg_temp_\d+$/.test(o.schema)) {
      push(o, `${label} creates temporary ${o.type} ${o.identity}; migrations may not create temporary objects`);
    } else if (unprefixable) {
      push(o, `${label} creates ${o.type} ${o.identity}, which cannot carry the prefix "${prefix}"; module migrations may not create ${o.type}s`);
    } else if (o.name !== null && !o.name.startsWith(prefix) && !(o.type === 'schema')) {
      push(o, `${label} creates ${o.type} ${o.identity} without the prefix "${prefix}"; rename it to ${prefix}${o.name}`);
    } else if (o.name === null && !o.identity.replace(/^[^.]*\./, '').startsWith(prefix)) {
      push(o, `${label} owns ${o.type} ${o.identity}, which does not carry the prefix "${prefix}"`);
    }
  }
  const shadows = await client.query<{ identity: string; name: string; other: string }>(SHADOWING_SQL, [owner]);
  for (const f of shadows.rows) {
    push({ name: f.name, identity: f.identity },
      `${label} creates function ${f.identity}, which shares its name with ${f.other}; a module's functions need names of their own (a call of ${f.other} elsewhere could pick this one), rename it`);
  }
  return out;
}

export async function snapshotCatalog(client: Pick<PoolClient, 'query'>): Promise<CatalogSnapshot> {
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
  return OTHER_KINDS[o.cat] ?? 'schema';
}

function isTemp(o: CatalogObject): boolean {
  return /^pg_temp_\d+$/.test(o.schema);
}

function qualified(o: CatalogObject, name = o.name): string {
  if (o.cat === 'operator') return `${o.schema}.${name}`;
  return o.schema === 'public' || o.schema === '' || o.cat === 'schema' ? `"${name}"` : `"${o.schema}"."${name}"`;
}

/**
 * Everything the migration did outside its prefix, in a stable order (creates first).
 *
 * `concurrent`: other modules may be migrating at the same time (role mode: one lock per
 * module). At READ COMMITTED the after-snapshot then also shows what their transactions
 * committed meanwhile, so only catalog rows this transaction wrote (`touched`) are judged and
 * drops are not (an owner login cannot drop what it does not own). That loses objects made in
 * a subtransaction (a DO block with an EXCEPTION clause), so in that mode the ownership query
 * (findOwnedOutsidePrefix) is the seal and this diff only names things better. On the shared
 * login every module migration takes one lock, nothing runs beside it, and the whole diff counts.
 */
export function findViolations(before: CatalogSnapshot, after: CatalogSnapshot, prefix: string, label: string,
  opts: { concurrent?: boolean } = {}): SealViolation[] {
  const concurrent = opts.concurrent === true;
  const mine = (name: string): boolean => name.startsWith(prefix);
  const out: SealViolation[] = [];
  const notOurs = `which does not belong to this module (its prefix is "${prefix}")`;
  for (const [key, o] of after) {
    const old = before.get(key);
    const what = kindName(o);
    if (o.cat === 'schema' && isTemp(o)) continue; // the session's temp schema; its objects are named below
    if (concurrent && !o.touched) continue; // possibly committed by another module meanwhile
    if (!old) {
      if (isTemp(o)) {
        out.push({ action: 'creates', object: o, message: `${label} creates temporary ${what} "${o.name}"; migrations may not create temporary objects` });
      } else if (UNPREFIXABLE.has(o.cat)) {
        out.push({ action: 'creates', object: o, message: `${label} creates ${what} ${qualified(o)}, which cannot carry the prefix "${prefix}"; module migrations may not create ${what}s` });
      } else if (!mine(o.name)) {
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
  for (const [key, o] of concurrent ? [] : before) {
    if (!after.has(key) && !mine(o.name)) {
      out.push({ action: 'drops', object: o, message: `${label} drops ${kindName(o)} ${qualified(o)}, ${notOurs}` });
    }
  }
  const order = { creates: 0, renames: 1, alters: 2, drops: 3, owns: 4 } as const;
  return out.sort((a, b) => order[a.action] - order[b.action] || rank(a.object) - rank(b.object) || a.object.name.localeCompare(b.object.name));
}

/** Name the cause, not its side effects: a dropped table before its sequence and indexes. */
function rank(o: CatalogObject): number {
  if (o.cat === 'schema') return 0;
  if (o.cat === 'class') return 'rpfvm'.includes(o.kind) ? 1 : o.kind === 'S' ? 3 : o.kind === 'c' ? 2 : 4;
  return 2;
}

/**
 * Throws migration_prefix naming the file and the first offending object; the caller rolls back.
 * `owned` are findOwnedOutsidePrefix's messages (role isolation), checked after the diff.
 */
export function assertPrefixSeal(before: CatalogSnapshot, after: CatalogSnapshot, prefix: string, label: string, owned: OwnedViolation[] = [],
  opts: { concurrent?: boolean } = {}): void {
  const violations = findViolations(before, after, prefix, label, opts);
  const extra = owned.filter((o) => !violations.some((v) => v.object.name === o.name));
  const messages = [...violations.map((v) => v.message), ...extra.map((o) => o.message)];
  if (messages.length === 0) return;
  const more = messages.length > 1 ? ` (and ${messages.length - 1} more)` : '';
  throw new HubError('migration_prefix', messages[0]! + more, {
    file: label,
    violations: [
      ...violations.map((v) => ({ action: v.action, kind: kindName(v.object), name: v.object.name, schema: v.object.schema, ...(v.previousName ? { previous_name: v.previousName } : {}) })),
      ...extra.map((o) => ({ action: 'owns', name: o.name, message: o.message })),
    ],
  });
}
