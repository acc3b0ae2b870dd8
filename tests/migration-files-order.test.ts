// Issue 12, items 5, 6 and 8: misnamed files are errors, a file numbered below an applied one
// is refused unless HUB_MIGRATIONS_OUT_OF_ORDER=true, and `-- migrate:no-transaction` lets
// CREATE INDEX CONCURRENTLY run.
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../kernel/database.js';
import { migrateModule, revertModule } from '../kernel/migrator.js';
import { migrationSettings } from '../kernel/config.js';
import { MIGRATION_DEFAULTS } from '../kernel/migration-settings.js';
import { createTestDatabase, makeModule, openTestDatabase, type TestDatabase, type TestModule } from './helpers/database.js';

let tdb: TestDatabase;
let db: Database;
const modules: TestModule[] = [];

beforeAll(async () => {
  tdb = await createTestDatabase();
  db = await openTestDatabase(tdb.url, 'error');
});

afterAll(async () => {
  await db?.close();
  await tdb?.drop();
  for (const m of modules) m.remove();
});

function mod(name: string, files: Record<string, string>): TestModule {
  const m = makeModule(name, `${name}_`, files);
  modules.push(m);
  return m;
}

async function tableExists(name: string): Promise<boolean> {
  return (await db.pool.query('SELECT to_regclass($1) IS NOT NULL AS ok', [`public.${name}`])).rows[0].ok;
}

describe('5. misnamed files', () => {
  it.each(['002-add_b.sql', '003_add c.sql', '004_add_d.SQL'])('fails the module naming %s, and applies nothing', async (file) => {
    const name = `mis${file.slice(0, 3)}`;
    const m = mod(name, { '001_init.sql': `CREATE TABLE ${name}_a (id int);`, [file]: `CREATE TABLE ${name}_b (id int);` });
    await expect(migrateModule(db, m)).rejects.toMatchObject({ code: 'migration_failed', message: `${name}/migrations/${file} is not named NNN_name.sql` });
    expect(await tableExists(`${name}_a`)).toBe(false);
  });
});

describe('5. oversize files (red team)', () => {
  it('fails the module naming a file over 16 MB, without reading it', async () => {
    const m = mod('huge', { '001_init.sql': 'CREATE TABLE huge_a (id int);' });
    m.write('002_seed.sql', `-- ${'x'.repeat(17 * 1048576)}\nSELECT 1;\n`);
    await expect(migrateModule(db, m)).rejects.toMatchObject({
      code: 'migration_failed',
      message: "huge/migrations/002_seed.sql is 17.0 MB, over the 16 MB limit for a migration file; split it, or load bulk data from the module's code",
    });
    expect(await tableExists('huge_a')).toBe(false);
  });
});

describe('6. out of order', () => {
  it('refuses 002_x.sql added after 003_y.sql was applied, naming both', async () => {
    const m = mod('ooo', { '001_a.sql': 'CREATE TABLE ooo_a (id int);', '003_y.sql': 'CREATE TABLE ooo_y (id int);\n-- migrate:down\nDROP TABLE ooo_y;' });
    await migrateModule(db, m);
    m.write('002_x.sql', 'CREATE TABLE ooo_x (id int);\n-- migrate:down\nDROP TABLE ooo_x;');
    await expect(migrateModule(db, m)).rejects.toMatchObject({
      code: 'migration_order',
      message: 'ooo/migrations/002_x.sql is numbered below ooo/migrations/003_y.sql, which is already applied; give it a number above the applied ones, or set HUB_MIGRATIONS_OUT_OF_ORDER=true to apply it anyway',
    });
    expect(await tableExists('ooo_x')).toBe(false);
  });

  it('applies it with HUB_MIGRATIONS_OUT_OF_ORDER=true, says so, and --down 1 then reverts 002, not 003', async () => {
    const m = mod('oook', { '001_a.sql': 'CREATE TABLE oook_a (id int);', '003_y.sql': 'CREATE TABLE oook_y (id int);\n-- migrate:down\nDROP TABLE oook_y;' });
    await migrateModule(db, m);
    m.write('002_x.sql', 'CREATE TABLE oook_x (id int);\n-- migrate:down\nDROP TABLE oook_x;');
    const lines: string[] = [];
    const log = pino({ level: 'info' }, new Writable({ write(c, _e, cb) { lines.push(String(c)); cb(); } }));
    const settings = migrationSettings({ HUB_MIGRATIONS_OUT_OF_ORDER: 'true' });
    expect(settings).toEqual({ ...MIGRATION_DEFAULTS, outOfOrder: true });
    const r = await migrateModule(db, m, { settings, log });
    expect(r.applied.map((a) => a.file)).toEqual(['002_x.sql']);
    expect(lines.filter((l) => l.includes('out of order'))).toHaveLength(1);
    expect(lines.join('')).toContain('applying oook/migrations/002_x.sql after 003_y.sql (out of order, HUB_MIGRATIONS_OUT_OF_ORDER=true)');
    const down = await revertModule(db, m, 1, { settings });
    expect(down.reverted.map((x) => x.file)).toEqual(['002_x.sql']);
    expect(await tableExists('oook_x')).toBe(false);
    expect(await tableExists('oook_y')).toBe(true);
  });
});

describe('8. -- migrate:no-transaction', () => {
  it('runs CREATE INDEX CONCURRENTLY statement by statement outside a transaction', async () => {
    const m = mod('conc', {
      '001_init.sql': "CREATE TABLE conc_t (id int, v text);\nINSERT INTO conc_t SELECT g, 'v' || g FROM generate_series(1, 100) g;",
      '002_index.sql': '-- migrate:no-transaction\nCREATE INDEX CONCURRENTLY conc_t_v ON conc_t (v);\nCREATE INDEX CONCURRENTLY conc_t_id ON conc_t (id);\n',
    });
    const r = await migrateModule(db, m);
    expect(r.applied.map((a) => a.file)).toEqual(['001_init.sql', '002_index.sql']);
    const idx = await db.pool.query("SELECT c.relname, i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname LIKE 'conc_t_%' ORDER BY 1");
    expect(idx.rows).toEqual([{ relname: 'conc_t_id', indisvalid: true }, { relname: 'conc_t_v', indisvalid: true }]);
  });

  it('still refuses transaction control, other statements and unprefixed names there, before anything runs', async () => {
    const base = { '001_init.sql': 'CREATE TABLE concb_t (id int);' };
    const tx = mod('concb', { ...base, '002_i.sql': '-- migrate:no-transaction\nCREATE INDEX CONCURRENTLY concb_i ON concb_t (id);\nCOMMIT;' });
    await expect(migrateModule(db, tx)).rejects.toMatchObject({ message: 'concb/migrations/002_i.sql: COMMIT at line 3; remove transaction statements' });
    const other = mod('concc', { '001_init.sql': 'CREATE TABLE concc_t (id int);', '002_i.sql': '-- migrate:no-transaction\nCREATE INDEX CONCURRENTLY concc_i ON concc_t (id);\nCREATE TABLE concc_u (id int);' });
    await expect(migrateModule(db, other)).rejects.toMatchObject({ message: expect.stringMatching(/^concc\/migrations\/002_i\.sql: CREATE TABLE at line 3 is not allowed/) });
    expect((await db.pool.query("SELECT count(*)::int AS n FROM pg_class WHERE relname = 'concc_i'")).rows[0].n).toBe(0);
    const noprefix = mod('concd', { '001_init.sql': 'CREATE TABLE concd_t (id int);', '002_i.sql': '-- migrate:no-transaction\nCREATE INDEX CONCURRENTLY idx_plain ON concd_t (id);' });
    await expect(migrateModule(db, noprefix)).rejects.toMatchObject({ code: 'migration_prefix', message: expect.stringContaining('index "idx_plain"') });
    expect((await db.pool.query("SELECT count(*)::int AS n FROM pg_class WHERE relname = 'idx_plain'")).rows[0].n).toBe(0);
  });
});
