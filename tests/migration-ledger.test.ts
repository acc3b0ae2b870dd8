// The migrator's ledger: order, once-only, checksums, error reporting, down migrations.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../kernel/database.js';
import { checksumOf, parseMigration } from '../kernel/migration-files.js';
import { migrateKernel, migrateModule, migrationStatus, revertModule } from '../kernel/migrator.js';
import { createTestDatabase, makeModule, openTestDatabase, type TestDatabase, type TestModule } from './helpers/database.js';

let tdb: TestDatabase;
let db: Database;
const modules: TestModule[] = [];

beforeAll(async () => {
  tdb = await createTestDatabase();
  db = await openTestDatabase(tdb.url);
});

afterAll(async () => {
  await db?.close();
  await tdb?.drop();
  for (const m of modules) m.remove();
});

function mod(name: string, prefix: string, files: Record<string, string> = {}): TestModule {
  const m = makeModule(name, prefix, files);
  modules.push(m);
  return m;
}

async function ledger(module: string): Promise<{ version: number; name: string }[]> {
  return (await db.pool.query('SELECT version, name FROM hub_migrations WHERE module = $1 ORDER BY applied_at, version', [module])).rows;
}

async function tableExists(name: string): Promise<boolean> {
  return (await db.pool.query('SELECT to_regclass($1) IS NOT NULL AS ok', [`public.${name}`])).rows[0].ok;
}

describe('migration ledger', () => {
  it('records the kernel\'s own migration as module _kernel', async () => {
    await migrateKernel(db);
    expect(await ledger('_kernel')).toEqual([{ version: 1, name: 'kernel' }, { version: 2, name: 'locks' }, { version: 3, name: 'record_migration' }, { version: 4, name: 'identity' }, { version: 5, name: 'record_token' }]);
    expect(await tableExists('hub_module_state')).toBe(true);
  });

  it('applies files in numeric order, ignores dotfiles and notes, and applies each only once', async () => {
    const m = mod('ordered', 'ord_', {
      '1_first.sql': 'CREATE TABLE ord_items (id serial PRIMARY KEY);',
      '2_second.sql': 'ALTER TABLE ord_items ADD COLUMN title text;',
      '10_tenth.sql': "INSERT INTO ord_items (title) VALUES ('needs column from 2');",
      'README.md': 'not a migration',
      '.gitkeep': '',
    });
    const first = await migrateModule(db, m);
    expect(first.applied.map((a) => a.version)).toEqual([1, 2, 10]);
    expect(first.applied.every((a) => a.durationMs >= 0)).toBe(true);
    const second = await migrateModule(db, m);
    expect(second.applied).toEqual([]);
    expect(await ledger('ordered')).toEqual([{ version: 1, name: 'first' }, { version: 2, name: 'second' }, { version: 10, name: 'tenth' }]);
    expect((await db.pool.query('SELECT count(*)::int AS n FROM ord_items')).rows[0].n).toBe(1);
  });

  it('refuses two files with the same number', async () => {
    const m = mod('dupes', 'dup_', { '001_a.sql': 'SELECT 1;', '001_b.sql': 'SELECT 2;' });
    await expect(migrateModule(db, m)).rejects.toMatchObject({ code: 'migration_failed', message: expect.stringMatching(/001_a\.sql and 001_b\.sql/) });
  });

  it('normalises CRLF and a BOM before checksumming', async () => {
    const lf = 'CREATE TABLE crlf_t (id int);\n-- migrate:down\nDROP TABLE crlf_t;\n';
    const crlfBom = '\uFEFF' + lf.replace(/\n/g, '\r\n');
    expect(checksumOf(crlfBom)).toBe(checksumOf(lf));
    expect(parseMigration('001_x.sql', '/x', crlfBom).down?.trim()).toBe('DROP TABLE crlf_t;');
    const m = mod('crlf', 'crlf_', { '001_init.sql': crlfBom });
    expect((await migrateModule(db, m)).applied).toHaveLength(1);
    m.write('001_init.sql', lf); // e.g. the same checkout on another OS
    expect((await migrateModule(db, m)).applied).toEqual([]);
  });

  it('refuses an applied file that was edited, naming it, and applies nothing', async () => {
    const m = mod('edited', 'ed_', { '001_init.sql': 'CREATE TABLE ed_a (id int);' });
    await migrateModule(db, m);
    m.write('001_init.sql', 'CREATE TABLE ed_a (id bigint);');
    m.write('002_more.sql', 'CREATE TABLE ed_b (id int);');
    const err = await migrateModule(db, m).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'migration_checksum', message: expect.stringContaining('edited/migrations/001_init.sql') });
    expect(await tableExists('ed_b')).toBe(false);
    const [status] = await migrationStatus(db, [m]);
    expect(status!.applied[0]!.changed).toBe(true);
    expect(status!.pending.map((p) => p.file)).toEqual(['002_more.sql']);
  });

  it('reports a syntax error with file and line, leaving nothing half-applied', async () => {
    const lines = [
      '-- a migration whose twelfth line is broken',
      'CREATE TABLE syn_a (',
      '  id serial PRIMARY KEY,',
      '  title text NOT NULL',
      ');',
      '',
      "INSERT INTO syn_a (title) VALUES ('one');",
      "INSERT INTO syn_a (title) VALUES ('two');",
      '',
      'CREATE INDEX syn_a_title ON syn_a (title);',
      '',
      'CREAT TABLE syn_b (id int);',
      'CREATE TABLE syn_c (id int);',
    ];
    expect(lines[11]).toMatch(/^CREAT /);
    const m = mod('syntax', 'syn_', { '001_init.sql': lines.join('\r\n') });
    const err = await migrateModule(db, m).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'migration_failed' });
    expect((err as Error).message).toMatch(/^syntax\/migrations\/001_init\.sql: syntax error at or near "CREAT" at line 12$/);
    expect(await tableExists('syn_a')).toBe(false);
    expect(await ledger('syntax')).toEqual([]);
  });

  it('refuses transaction statements in a file but not BEGIN/END inside function bodies or strings', async () => {
    const bad = mod('txctl', 'tx_', { '001_init.sql': '-- wrapped by habit\nCREATE TABLE tx_a (id int);\nCOMMIT;\nCREATE TABLE tx_b (id int);\n' });
    await expect(migrateModule(db, bad)).rejects.toMatchObject({ code: 'migration_failed', message: 'txctl/migrations/001_init.sql: COMMIT at line 3; remove transaction statements' });
    expect(await tableExists('tx_a')).toBe(false);
    const good = mod('txok', 'txok_', {
      '001_init.sql': [
        "CREATE TABLE txok_log (msg text DEFAULT 'COMMIT; BEGIN;');",
        'CREATE FUNCTION txok_f() RETURNS int LANGUAGE plpgsql AS $body$',
        'BEGIN',
        '  RETURN 1;',
        'END;',
        '$body$;',
        '/* COMMIT; */ -- ROLLBACK;',
      ].join('\n'),
    });
    expect((await migrateModule(db, good)).applied).toHaveLength(1);
  });

  it('reports the line of an error inside a down section', async () => {
    const m = mod('downerr', 'de_', { '001_init.sql': 'CREATE TABLE de_a (id int);\n-- migrate:down\nDROP TABLE de_a;\nDROP TABLEX de_b;\n' });
    await migrateModule(db, m);
    await expect(revertModule(db, m, 1)).rejects.toMatchObject({ code: 'migration_failed', message: expect.stringMatching(/001_init\.sql: .* at line 4$/) });
    expect(await tableExists('de_a')).toBe(true);
  });

  it('reverts newest first, supports a dry run, and refuses files without a down section', async () => {
    const m = mod('reversible', 'rev_', {
      '001_a.sql': 'CREATE TABLE rev_a (id int);',
      '002_b.sql': 'CREATE TABLE rev_b (id int);\n-- migrate:down\nDROP TABLE rev_b;\n',
      '003_c.sql': 'CREATE TABLE rev_c (id int);\n\n-- migrate:down\nDROP TABLE rev_c;\n',
    });
    await migrateModule(db, m);

    const dry = await revertModule(db, m, 2, { dryRun: true });
    expect(dry.reverted).toEqual([]);
    expect(dry.plan.map((p) => [p.file, p.sql.trim()])).toEqual([['003_c.sql', 'DROP TABLE rev_c;'], ['002_b.sql', 'DROP TABLE rev_b;']]);
    expect(await tableExists('rev_c')).toBe(true);
    expect(await ledger('reversible')).toHaveLength(3);

    const dryUp = await migrateModule(db, m, { dryRun: true });
    expect(dryUp.pending).toEqual([]);

    // 001 has no down section: asking for 3 must fail before anything is reverted.
    await expect(revertModule(db, m, 3)).rejects.toMatchObject({ code: 'migration_missing_down', message: expect.stringContaining('reversible/migrations/001_a.sql') });
    expect(await tableExists('rev_c')).toBe(true);

    const done = await revertModule(db, m, 2);
    expect(done.reverted.map((r) => r.version)).toEqual([3, 2]);
    expect(await tableExists('rev_b')).toBe(false);
    expect(await tableExists('rev_c')).toBe(false);
    expect((await ledger('reversible')).map((r) => r.version)).toEqual([1]);

    const pending = await migrateModule(db, m, { dryRun: true });
    expect(pending.pending.map((p) => p.version)).toEqual([2, 3]);
    expect(await tableExists('rev_b')).toBe(false);
    expect((await migrateModule(db, m)).applied.map((a) => a.version)).toEqual([2, 3]);
  });

  it('migrates a 20-file module', async () => {
    const files: Record<string, string> = {};
    for (let i = 1; i <= 20; i++) {
      const n = String(i).padStart(3, '0');
      files[`${n}_step${i}.sql`] = i === 1
        ? 'CREATE TABLE big_t (id serial PRIMARY KEY);'
        : `ALTER TABLE big_t ADD COLUMN c${i} int;\nCREATE INDEX big_t_c${i} ON big_t (c${i});\n-- migrate:down\nDROP INDEX big_t_c${i};\nALTER TABLE big_t DROP COLUMN c${i};`;
    }
    const m = mod('big', 'big_', files);
    const t0 = performance.now();
    const r = await migrateModule(db, m);
    const ms = performance.now() - t0;
    console.log(`[measure] 20-file module migrated in ${ms.toFixed(0)} ms`);
    expect(r.applied.map((a) => a.version)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(await ledger('big')).toHaveLength(20);
    const cols = await db.pool.query("SELECT count(*)::int AS n FROM information_schema.columns WHERE table_name = 'big_t'");
    expect(cols.rows[0].n).toBe(20);
  });
});
