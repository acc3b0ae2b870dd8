// The part of the catalog a module's migrations own, as comparable lines: tables, columns with
// their types, indexes, constraints, sequences, views, functions, triggers and types whose
// name carries the module's prefix (via pg_catalog, any non-system schema). `hubctl test`
// compares it before and after each down section (cli/module-test-checks.ts).
import type { PoolClient } from 'pg';

/** key ("table notes_x", "column notes_x.body") → definition (type, index or constraint text). */
export type PrefixCatalog = Map<string, string>;

const CLASS_KINDS: Record<string, string> = {
  r: 'table', p: 'table', i: 'index', I: 'index', S: 'sequence', v: 'view', m: 'materialized view', c: 'composite type', f: 'foreign table',
};

const SQL = `
WITH ns AS (
  SELECT oid, nspname FROM pg_catalog.pg_namespace
   WHERE nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') AND nspname NOT LIKE 'pg\\_%'
), rel AS (
  SELECT c.oid, c.relname, c.relkind, ns.nspname FROM pg_catalog.pg_class c JOIN ns ON ns.oid = c.relnamespace
   WHERE pg_catalog.starts_with(c.relname, $1) AND c.relkind <> 't'
)
SELECT 'class' AS cat, relkind::text AS kind, relname::text AS name, nspname::text AS schema,
       CASE WHEN relkind IN ('i', 'I') THEN pg_catalog.pg_get_indexdef(oid)
            WHEN relkind IN ('v', 'm') THEN pg_catalog.md5(pg_catalog.pg_get_viewdef(oid)) ELSE '' END AS def
  FROM rel
UNION ALL
SELECT 'column', '', r.relname || '.' || a.attname, r.nspname, pg_catalog.format_type(a.atttypid, a.atttypmod) || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
  FROM rel r JOIN pg_catalog.pg_attribute a ON a.attrelid = r.oid
 WHERE a.attnum > 0 AND NOT a.attisdropped AND r.relkind IN ('r', 'p', 'v', 'm', 'f', 'c')
UNION ALL
SELECT 'constraint', x.contype::text, r.relname || '.' || x.conname, r.nspname, pg_catalog.pg_get_constraintdef(x.oid)
  FROM rel r JOIN pg_catalog.pg_constraint x ON x.conrelid = r.oid
UNION ALL
SELECT 'trigger', '', r.relname || '.' || t.tgname, r.nspname, pg_catalog.pg_get_triggerdef(t.oid)
  FROM rel r JOIN pg_catalog.pg_trigger t ON t.tgrelid = r.oid WHERE NOT t.tgisinternal
UNION ALL
SELECT 'function', p.prokind::text, p.proname || '(' || pg_catalog.pg_get_function_identity_arguments(p.oid) || ')', ns.nspname,
       pg_catalog.md5(pg_catalog.pg_get_functiondef(p.oid))
  FROM pg_catalog.pg_proc p JOIN ns ON ns.oid = p.pronamespace WHERE pg_catalog.starts_with(p.proname, $1) AND p.prokind <> 'a'
UNION ALL
SELECT 'type', t.typtype::text, t.typname::text, ns.nspname, ''
  FROM pg_catalog.pg_type t JOIN ns ON ns.oid = t.typnamespace
 WHERE pg_catalog.starts_with(t.typname, $1) AND t.typrelid = 0
   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_type e WHERE e.typarray = t.oid)
`;

const TYPE_KINDS: Record<string, string> = { e: 'enum type', d: 'domain', r: 'range type', m: 'multirange type', b: 'type', c: 'type' };

/** The prefix's objects in the database `client` is connected to (any login that can read pg_catalog). */
export async function prefixCatalog(client: Pick<PoolClient, 'query'>, prefix: string): Promise<PrefixCatalog> {
  const r = await client.query<{ cat: string; kind: string; name: string; schema: string; def: string | null }>(SQL, [prefix]);
  const out: PrefixCatalog = new Map();
  for (const row of r.rows) {
    const what = row.cat === 'class' ? CLASS_KINDS[row.kind] ?? 'relation'
      : row.cat === 'type' ? TYPE_KINDS[row.kind] ?? 'type'
      : row.cat === 'function' && row.kind === 'p' ? 'procedure' : row.cat;
    const schema = row.schema === 'public' ? '' : `${row.schema}.`;
    out.set(`${what} ${schema}${row.name}`, row.def ?? '');
  }
  return out;
}

export interface CatalogDiff {
  /** In `actual`, not in `expected` ("table notes_tags"). */
  left: string[];
  /** In `expected`, not in `actual`. */
  missing: string[];
  /** In both, with another definition (type, index, constraint text). */
  changed: string[];
}

/** Pure: what `actual` has beyond, without, or different from `expected`; each list sorted. */
export function diffCatalog(expected: PrefixCatalog, actual: PrefixCatalog): CatalogDiff {
  const left = [...actual.keys()].filter((k) => !expected.has(k)).sort(byCause);
  const missing = [...expected.keys()].filter((k) => !actual.has(k)).sort(byCause);
  const changed = [...actual.keys()].filter((k) => expected.has(k) && expected.get(k) !== actual.get(k)).sort(byCause);
  return { left, missing, changed };
}

export function isEmptyDiff(d: CatalogDiff): boolean {
  return d.left.length === 0 && d.missing.length === 0 && d.changed.length === 0;
}

/** One phrase for a diff: "left table notes_tags (and 3 more)", "removed column notes_x.y", "changed index notes_i". */
export function describeDiff(d: CatalogDiff): string {
  const parts: string[] = [];
  const say = (verb: string, all: string[]) => {
    // a leftover table's columns, constraints, indexes and triggers are its side effects
    const owners = new Set(all.filter((k) => /^(table|view|materialized view|foreign table|composite type) /.test(k)).map((k) => k.replace(/^[a-z ]+? (?=\S+$)/, '')));
    const items = all.filter((k) => !/^(column|constraint|trigger) /.test(k) || !owners.has(k.replace(/^[a-z]+ /, '').replace(/\.[^.]+$/, '')));
    if (items.length) parts.push(`${verb} ${items[0]}${items.length > 1 ? ` (and ${items.length - 1} more)` : ''}`);
  };
  say('left', d.left);
  say('removed', d.missing);
  say('changed', d.changed);
  return parts.join('; ');
}

/** Causes first: a leftover table before its columns, indexes and constraints. */
function byCause(a: string, b: string): number {
  const rank = (k: string) => (/^(table|view|materialized view|sequence|function|procedure|enum type|domain|type|composite type|range type)\b/.test(k) ? 0 : 1);
  return rank(a) - rank(b) || a.localeCompare(b);
}
