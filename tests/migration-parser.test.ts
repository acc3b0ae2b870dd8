// PostgreSQL's own parser reads every migration before it runs: valid tricky SQL applies,
// transaction control and role changes are refused with file, keyword and line, wherever
// PostgreSQL would see them. The first block is pure parsing (no database); the second
// applies the valid corpus and tries the escapes on a real one.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../kernel/database.js';
import { migrateModule } from '../kernel/migrator.js';
import { assertNoTransactionStatements, parseMigrationSql } from '../kernel/migration-sql.js';
import { createTestDatabase, makeModule, openTestDatabase, type TestDatabase, type TestModule } from './helpers/database.js';

/** Valid SQL that a hand-written splitter gets wrong; every file must apply. */
const VALID: Record<string, string> = {
  'dollar quotes': [
    'CREATE TABLE p_t (v text);',
    "CREATE FUNCTION p_f() RETURNS text LANGUAGE plpgsql AS $$ BEGIN RETURN 'x; COMMIT;'; END $$;",
    "INSERT INTO p_t VALUES ($$it's; ROLLBACK; fine$$);",
  ].join('\n'),
  'tagged dollar bodies with semicolons': [
    'CREATE TABLE p_t2 (v int);',
    'DO $tag$ BEGIN PERFORM 1; PERFORM 2; INSERT INTO p_t2 VALUES (3); END $tag$;',
    'CREATE FUNCTION p_g() RETURNS int LANGUAGE plpgsql AS $body$',
    'DECLARE s text := $q$; END; COMMIT; $q$;',
    'BEGIN',
    '  RETURN 1;',
    'END;',
    '$body$;',
  ].join('\n'),
  'nested comments': '/* outer /* inner */ still comment; COMMIT; */\nCREATE TABLE p_t3 (id int); -- COMMIT;\n/* BEGIN; */',
  'E-strings': "CREATE TABLE p_t4 (v text);\nINSERT INTO p_t4 VALUES (E'a\\'b; ROLLBACK;'), (E'\\\\'), ('back\\slash');",
  'BEGIN ATOMIC function bodies': [
    'CREATE TABLE p_t5 (id int);',
    'CREATE FUNCTION p_atomic() RETURNS int LANGUAGE sql',
    'BEGIN ATOMIC',
    '  SELECT 1;',
    '  SELECT count(*)::int FROM p_t5;',
    'END;',
    'CREATE PROCEDURE p_proc() LANGUAGE sql BEGIN ATOMIC INSERT INTO p_t5 VALUES (1); END;',
  ].join('\n'),
  'quoted identifiers and U& strings': "CREATE TABLE \"p_weird;COMMIT\" (id int);\nSELECT U&'d\\0061t\\+000061; BEGIN';",
  'CRLF line endings': 'CREATE TABLE p_t6 (id int);\r\nINSERT INTO p_t6 VALUES (1);\r\n',
  'SAVEPOINT as a column name': 'CREATE TABLE p_t7 ("commit" int, savepoint int, "begin" text);',
};

/** Each must be refused with exactly this keyword and line, before anything runs. */
const ESCAPES: [string, string, string][] = [
  ['END', 'CREATE TABLE p_a (id int);\nEND;\nSELECT 1;', 'END at line 2; remove transaction statements'],
  ['COMMIT AND CHAIN', 'SELECT 1;\n\n  commit and chain;', 'COMMIT at line 3; remove transaction statements'],
  ['START TRANSACTION', 'START TRANSACTION ISOLATION LEVEL SERIALIZABLE;', 'START TRANSACTION at line 1; remove transaction statements'],
  ['ABORT', '-- a comment\nABORT;', 'ABORT at line 2; remove transaction statements'],
  ['ROLLBACK', '/* x */ ROLLBACK;', 'ROLLBACK at line 1; remove transaction statements'],
  ['SAVEPOINT', 'SAVEPOINT a;', 'SAVEPOINT at line 1; remove transaction statements'],
  ['PREPARE TRANSACTION', "PREPARE TRANSACTION 'x';", 'PREPARE TRANSACTION at line 1; remove transaction statements'],
  ['COMMIT hidden after an E-string', "SELECT E'\\'';\nCOMMIT;", 'COMMIT at line 2; remove transaction statements'],
  ['SET ROLE', 'SET ROLE postgres;', "SET ROLE at line 1; migrations run as the module's own role, remove role changes"],
  ['SET LOCAL ROLE', 'SELECT 1;\nSET LOCAL ROLE NONE;', "SET ROLE at line 2; migrations run as the module's own role, remove role changes"],
  ['RESET ROLE', 'RESET ROLE;', "RESET ROLE at line 1; migrations run as the module's own role, remove role changes"],
  ['SET SESSION AUTHORIZATION', 'SET SESSION AUTHORIZATION postgres;', "SET SESSION AUTHORIZATION at line 1; migrations run as the module's own role, remove role changes"],
  ['ALTER ROLE', 'ALTER ROLE postgres NOSUPERUSER;', "ALTER ROLE at line 1; migrations run as the module's own role, remove role changes"],
  ['CREATE USER', "CREATE USER evil PASSWORD 'x';", "CREATE USER at line 1; migrations run as the module's own role, remove role changes"],
  ['GRANT role', 'GRANT pg_execute_server_program TO CURRENT_USER;', "GRANT PG_EXECUTE_SERVER_PROGRAM at line 1; migrations run as the module's own role, remove role changes"],
];

describe('parsing (no database)', () => {
  it.each(Object.entries(VALID))('parses %s without refusing anything', async (_what, sql) => {
    const statements = await parseMigrationSql(sql, 'p/migrations/001_x.sql');
    expect(statements.length).toBeGreaterThan(0);
  });

  it.each(ESCAPES)('refuses %s with keyword and line', async (_what, sql, message) => {
    await expect(parseMigrationSql(sql, 'p/migrations/001_x.sql')).rejects.toMatchObject({ code: 'migration_failed', message: `p/migrations/001_x.sql: ${message}` });
  });

  it('gives each statement its text and file line, counting from the down section\'s start', async () => {
    const s = await parseMigrationSql("SELECT 'é';\n\n/* c */ CREATE TABLE p_z (id int);\n", 'p/migrations/001_x.sql', 10);
    expect(s.map((x) => [x.node, x.line, x.text])).toEqual([
      ['SelectStmt', 10, "SELECT 'é'"],
      ['CreateStmt', 12, 'CREATE TABLE p_z (id int)'],
    ]);
  });

  // Red team: the parser ran on the kernel's thread (a 12 MB file held every module's requests
  // for 6 s and took 700 MB; bigger ones end the kernel), and each statement's line was counted
  // from the start of the file (many small statements: quadratic). Now it has a thread of its
  // own with a heap limit; the kernel's thread keeps ticking and gets one line back.
  it('parses a file of 60 000 statements, giving the last its line, while the kernel\'s thread keeps ticking', async () => {
    const sql = 'SELECT 1;\n'.repeat(60_000);
    let last = Date.now();
    let worst = 0;
    const tick = setInterval(() => { worst = Math.max(worst, Date.now() - last); last = Date.now(); }, 20);
    try {
      const s = await parseMigrationSql(sql, 'p/migrations/001_x.sql');
      expect(s).toHaveLength(60_000);
      expect(s[59_999]!.line).toBe(60_000);
    } finally {
      clearInterval(tick);
    }
    expect(worst).toBeLessThan(1_000);
  });

  it('fails a file too big to parse (36 MB) with one line, while the kernel\'s thread keeps ticking', async () => {
    const rows = Array.from({ length: 1_200_000 }, (_, i) => `(${i}, 'x${i}', ${i}.5)`).join(',');
    const sql = `CREATE TABLE p_big (a int, b text, c numeric);\nINSERT INTO p_big VALUES ${rows};\n`;
    let last = Date.now();
    let worst = 0;
    const tick = setInterval(() => { worst = Math.max(worst, Date.now() - last); last = Date.now(); }, 20);
    try {
      await expect(parseMigrationSql(sql, 'p/migrations/002_seed.sql')).rejects.toMatchObject({
        // the parser gives up inside its WebAssembly memory or at the thread's heap limit
        code: 'migration_failed', message: expect.stringMatching(/^p\/migrations\/002_seed\.sql: (No parse tree generated|PostgreSQL's parser needs more than 512 MB for this file; split it into smaller files)$/),
      });
    } finally {
      clearInterval(tick);
    }
    expect(worst).toBeLessThan(1_000);
    // and the next file parses on a fresh thread
    expect(await parseMigrationSql('SELECT 1;', 'p/migrations/003_x.sql')).toHaveLength(1);
  }, 120_000);

  it('reports a syntax error with its line', async () => {
    await expect(parseMigrationSql('SELECT 1;\nCREAT TABLE x (id int);', 'p/migrations/001_x.sql'))
      .rejects.toMatchObject({ message: 'p/migrations/001_x.sql: syntax error at or near "CREAT" at line 2' });
  });

  it('allows only statements that must run outside a transaction in a no-transaction file', async () => {
    const ok = await parseMigrationSql('CREATE INDEX CONCURRENTLY p_i ON p_t (v);\nDROP INDEX CONCURRENTLY p_old;', 'w');
    expect(() => assertNoTransactionStatements(ok, 'w', 'p_')).not.toThrow();
    const table = await parseMigrationSql('CREATE INDEX CONCURRENTLY p_i ON p_t (v);\nCREATE TABLE p_u (id int);', 'w');
    expect(() => assertNoTransactionStatements(table, 'w', 'p_')).toThrow(/^w: CREATE TABLE at line 2 is not allowed in a "-- migrate:no-transaction" file/);
    const foreign = await parseMigrationSql('CREATE INDEX CONCURRENTLY p_i ON victim_data (id);', 'w');
    expect(() => assertNoTransactionStatements(foreign, 'w', 'p_')).toThrow(/both must carry the prefix "p_"/);
  });
});

describe('the corpus on a real database', () => {
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

  it('applies every valid file', async () => {
    const files: Record<string, string> = {};
    Object.values(VALID).forEach((sql, i) => { files[`${String(i + 1).padStart(3, '0')}_case.sql`] = sql; });
    const m = makeModule('corpus', 'p_', files);
    modules.push(m);
    const r = await migrateModule(db, m);
    expect(r.applied).toHaveLength(Object.keys(VALID).length);
    expect((await db.pool.query('SELECT v FROM p_t')).rows).toEqual([{ v: "it's; ROLLBACK; fine" }]);
    expect((await db.pool.query('SELECT v FROM p_t4 ORDER BY v')).rows.map((x) => x.v).sort()).toEqual(["a'b; ROLLBACK;", 'back\\slash', '\\'].sort());
    expect((await db.pool.query('SELECT p_atomic() AS n')).rows).toEqual([{ n: 0 }]);
    expect((await db.pool.query('SELECT p_g() AS n')).rows).toEqual([{ n: 1 }]);
  });

  it('refuses every escape before anything runs', async () => {
    for (const [i, [, sql, message]] of ESCAPES.entries()) {
      const name = `esc${i}`;
      const m = makeModule(name, 'p_', { '001_x.sql': `CREATE TABLE p_never_${i} (id int);\n${sql}` });
      modules.push(m);
      const line = Number(/at line (\d+)/.exec(message)![1]) + 1;
      await expect(migrateModule(db, m)).rejects.toMatchObject({ message: `${name}/migrations/001_x.sql: ${message.replace(/at line \d+/, `at line ${line}`)}` });
      expect((await db.pool.query('SELECT to_regclass($1) IS NULL AS gone', [`public.p_never_${i}`])).rows[0].gone).toBe(true);
    }
  });
});
