// For tests of `hubctl test`: fixture modules with migrations and their own tests, and what a
// run may leave behind (databases, roles, processes, temp folders).
import { readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import pg from 'pg';
import { ADMIN_URL } from './database.js';
import { helloRouter, writeModule } from './modules.js';

/** A module with one up/down migration, a router and (optionally) tests/*.test.ts files. */
export function writeTestedModule(modulesDir: string, name: string, opts: { migrations?: Record<string, string>; tests?: Record<string, string>; enabled?: boolean } = {}): string {
  const prefix = `${name.replace(/_/g, '')}_`;
  const files: Record<string, string> = {};
  const migrations = opts.migrations ?? { '001_init.sql': `CREATE TABLE ${prefix}items (id serial PRIMARY KEY, body text NOT NULL);\n-- migrate:down\nDROP TABLE ${prefix}items;\n` };
  for (const [f, sql] of Object.entries(migrations)) files[`migrations/${f}`] = sql;
  for (const [f, src] of Object.entries(opts.tests ?? {})) files[`tests/${f}`] = src;
  return writeModule(modulesDir, name, { router: helloRouter, manifest: { enabled: opts.enabled ?? false }, files });
}

export const PASSING_TEST = `import { expect, test } from 'vitest';
test('sees its throwaway database', () => { expect(process.env.HUB_TEST_DATABASE_URL).toMatch(/\\/hubtest_[0-9a-f]+$/); });
`;

/** Databases on the test server whose name is `name`, and roles carrying its module-role prefix. */
export async function leftovers(dbName: string, rolePrefix: string): Promise<{ databases: number; roles: number }> {
  const c = new pg.Client({ connectionString: ADMIN_URL });
  await c.connect();
  try {
    const d = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [dbName]);
    const r = await c.query('SELECT 1 FROM pg_roles WHERE starts_with(rolname, $1)', [rolePrefix]);
    return { databases: d.rowCount ?? 0, roles: r.rowCount ?? 0 };
  } finally {
    await c.end();
  }
}

/** Live (not zombie) processes whose command line or environment mentions `marker`. */
export function processesMentioning(marker: string): number[] {
  const out: number[] = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p) || Number(p) === process.pid) continue;
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      if (/\) Z /.test(stat)) continue;
      const text = readFileSync(`/proc/${p}/cmdline`, 'utf8') + readFileSync(`/proc/${p}/environ`, 'utf8');
      if (text.includes(marker)) out.push(Number(p));
    } catch {
      // gone, or not ours to read
    }
  }
  return out;
}

/** Temp folders a run for module `name` made (hubtest-<name>-*). */
export function tempFoldersOf(name: string): string[] {
  return readdirSync(tmpdir()).filter((f) => f.startsWith(`hubtest-${name}-`));
}
