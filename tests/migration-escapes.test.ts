// Issue 12, items 1-4: migrations that tried to leave their box. Each input is the one that
// was observed to escape on main; each must now be refused (or fail on the database's own
// permission check), with the stated message, and the `victim` module's 3 rows must survive.
import { existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../kernel/database.js';
import { migrateModule } from '../kernel/migrator.js';
import { roleNamesFor } from '../kernel/module-roles.js';
import { connectAs, createTestDatabase, makeModule, openTestDatabase, type TestDatabase, type TestModule } from './helpers/database.js';

let tdb: TestDatabase;
let db: Database;
const modules: TestModule[] = [];

beforeAll(async () => {
  tdb = await createTestDatabase();
  db = await openTestDatabase(tdb.url, 'error');
  const victim = makeModule('victim', 'victim_', {
    '001_init.sql': "CREATE TABLE victim_data (id int PRIMARY KEY, secret text);\nINSERT INTO victim_data VALUES (1, 'a'), (2, 'b'), (3, 'c');",
  });
  modules.push(victim);
  await migrateModule(db, victim);
});

afterAll(async () => {
  await db?.close();
  await tdb?.drop();
  for (const m of modules) m.remove();
});

function mod(name: string, sql: string): TestModule {
  const m = makeModule(name, `${name}_`, { '001_init.sql': sql });
  modules.push(m);
  return m;
}

async function failure(m: TestModule): Promise<Error & { code?: string; details?: Record<string, unknown> }> {
  return migrateModule(db, m).then(() => { throw new Error(`${m.name} unexpectedly migrated`); }, (e: Error) => e);
}

async function victimRows(): Promise<number> {
  return (await db.pool.query('SELECT count(*)::int AS n FROM victim_data')).rows[0].n;
}

async function relationExists(name: string): Promise<boolean> {
  return (await db.pool.query("SELECT to_regclass($1) IS NOT NULL AS ok", [`public.${name}`])).rows[0].ok;
}

async function applied(module: string): Promise<number> {
  return (await db.pool.query('SELECT count(*)::int AS n FROM hub_migrations WHERE module = $1', [module])).rows[0].n;
}

describe('1. END is COMMIT', () => {
  it('refuses the file before anything runs, naming END and its line', async () => {
    const m = mod('endmod', 'CREATE TABLE endmod_a (id int);\nEND;\nCREATE TABLE no_prefix_here (id int);\nDELETE FROM victim_data;\n');
    const err = await failure(m);
    expect(err).toMatchObject({ code: 'migration_failed', message: 'endmod/migrations/001_init.sql: END at line 2; remove transaction statements' });
    expect(await relationExists('endmod_a')).toBe(false);
    expect(await relationExists('no_prefix_here')).toBe(false);
    expect(await victimRows()).toBe(3);
    expect(await applied('endmod')).toBe(0);
  });
});

describe('2. RESET ROLE inside a DO block', () => {
  const escape = (anything: string): string =>
    `DO $$ DECLARE me text := current_user; BEGIN RESET ROLE; ${anything}; EXECUTE format('SET ROLE %I', me); END $$;`;

  it('cannot run a shell command with COPY … TO PROGRAM', async () => {
    const marker = `/tmp/hub-escape-${randomBytes(4).toString('hex')}`;
    const err = await failure(mod('doshell', `CREATE TABLE doshell_t (id int);\n${escape(`COPY (SELECT 1) TO PROGRAM 'touch ${marker}'`)}`));
    expect(err.code).toBe('migration_failed');
    expect(err.message).toMatch(/^doshell\/migrations\/001_init\.sql: (permission denied|must be superuser).*COPY to or from an external program.* at line 2$/);
    expect(existsSync(marker)).toBe(false);
    expect(await relationExists('doshell_t')).toBe(false);
  });

  it('cannot make a runtime role superuser', async () => {
    const rt = roleNamesFor(tdb.name, 'victim', db.instance).runtime;
    const err = await failure(mod('dosuper', escape(`ALTER ROLE "${rt}" SUPERUSER`)));
    expect(err.message).toMatch(/^dosuper\/migrations\/001_init\.sql: (permission denied to alter role|must be superuser to alter superuser roles)/);
    const r = await db.pool.query('SELECT rolsuper FROM pg_roles WHERE rolname = $1', [rt]);
    expect(r.rows[0].rolsuper).toBe(false);
  });

  it('cannot write another module\'s table', async () => {
    const err = await failure(mod('dowrite', escape('DELETE FROM victim_data')));
    expect(err.message).toBe('dowrite/migrations/001_init.sql: permission denied for table victim_data at line 1');
    expect(await victimRows()).toBe(3);
  });

  it('cannot edit the kernel\'s ledger', async () => {
    const err = await failure(mod('doledger', escape("DELETE FROM hub_migrations WHERE module = 'victim'")));
    expect(err.message).toBe('doledger/migrations/001_init.sql: permission denied for table hub_migrations at line 1');
    expect(await applied('victim')).toBe(1);
  });

  // Red team: before kernel migration 005 a file could call hub_record_migration itself and
  // write its own module's ledger rows of any size and number (every kernel reads them all
  // into memory), or delete them. Only the kernel's one-use token records a row now.
  it('cannot record, forge or delete ledger rows itself, nor read the kernel\'s tokens; a runtime role cannot either', async () => {
    const forge = mod('doforge', "CREATE TABLE doforge_t (id int);\nSELECT public.hub_record_migration('guess', 7, repeat('x', 50000000), 'x', 0, true);");
    expect(await failure(forge)).toMatchObject({ code: 'migration_failed', message: 'doforge/migrations/001_init.sql: hub_record_migration: only the kernel records migrations at line 2' });
    const undo = mod('doundo', "SELECT public.hub_record_migration('guess', 1, 'init', 'x', 0, false);");
    expect((await failure(undo)).message).toBe('doundo/migrations/001_init.sql: hub_record_migration: only the kernel records migrations at line 1');
    const peek = mod('dopeek', 'CREATE TABLE dopeek_t AS SELECT * FROM public.hub_migration_tokens;');
    expect((await failure(peek)).message).toBe('dopeek/migrations/001_init.sql: permission denied for table hub_migration_tokens at line 1');
    expect(await relationExists('doforge_t')).toBe(false);
    const rows = await db.pool.query("SELECT module, version FROM hub_migrations WHERE module IN ('doforge', 'doundo', 'dopeek', 'victim') ORDER BY module, version");
    expect(rows.rows).toEqual([{ module: 'victim', version: 1 }]);
    expect((await db.pool.query('SELECT count(*)::int AS n FROM hub_migration_tokens')).rows[0].n).toBe(0);
    const { issueRuntimeCredentials } = await import('../kernel/module-roles.js');
    const creds = await issueRuntimeCredentials(db, { name: 'victim' });
    const rt = await connectAs(tdb.url, creds.connection.user, creds.connection.password);
    try {
      await expect(rt.query("SELECT public.hub_record_migration('x', 9, 'x', 'x', 0, true)")).rejects.toThrow(/permission denied for function hub_record_migration/);
    } finally {
      await rt.end();
    }
  });

  it('runs as the module\'s owner role even after RESET ROLE and SET SESSION AUTHORIZATION', async () => {
    const who = mod('dowho', [
      'CREATE TABLE dowho_seen (at text, who text, sess text);',
      "DO $$ BEGIN RESET ROLE; INSERT INTO dowho_seen VALUES ('reset', current_user, session_user); END $$;",
      "DO $$ BEGIN EXECUTE 'SET SESSION AUTHORIZATION DEFAULT'; INSERT INTO dowho_seen VALUES ('sess', current_user, session_user); END $$;",
    ].join('\n'));
    await migrateModule(db, who);
    const owner = roleNamesFor(tdb.name, 'dowho').owner;
    const rows = (await db.pool.query('SELECT at, who, sess FROM dowho_seen ORDER BY at')).rows;
    expect(rows).toEqual([{ at: 'reset', who: owner, sess: owner }, { at: 'sess', who: owner, sess: owner }]);
    expect(await victimRows()).toBe(3);
  });
});

describe('3. escape strings and nested comments', () => {
  it("applies INSERT … VALUES (E'it\\'s; begin')", async () => {
    const m = mod('estr', "CREATE TABLE estr_t (v text);\nINSERT INTO estr_t VALUES (E'it\\'s; begin');\n");
    expect((await migrateModule(db, m)).applied).toHaveLength(1);
    expect((await db.pool.query('SELECT v FROM estr_t')).rows).toEqual([{ v: "it's; begin" }]);
  });

  it("finds the COMMIT after SELECT E'\\'';", async () => {
    const m = mod('ehide', "CREATE TABLE ehide_t (id int);\nSELECT E'\\'';\nCOMMIT;\nDELETE FROM victim_data;\n");
    const err = await failure(m);
    expect(err.message).toBe('ehide/migrations/001_init.sql: COMMIT at line 3; remove transaction statements');
    expect(await relationExists('ehide_t')).toBe(false);
    expect(await victimRows()).toBe(3);
  });

  // Red team: the parser reads strings as standard_conforming_strings = on. With it off the
  // server reads `'a\' /* '` as one string, so where the parser saw one SELECT with a comment
  // the server saw SELECT; COMMIT; CREATE TABLE …; and ran them: the file's first table and an
  // unprefixed one committed while the migration "failed".
  it("finds no COMMIT hidden by SET standard_conforming_strings = off", async () => {
    const m = mod('scsoff', [
      'CREATE TABLE scsoff_t (id int);',
      'SET standard_conforming_strings = off;',
      "SELECT 'a\\' /* '; COMMIT; CREATE TABLE nopfx_scs (id int); DELETE FROM victim_data; SELECT '*/ -- '",
      ';',
    ].join('\n'));
    const err = await failure(m);
    expect(err).toMatchObject({ code: 'migration_failed', message: expect.stringMatching(/^scsoff\/migrations\/001_init\.sql: the server reads more than one statement at line 3 /) });
    expect(await relationExists('scsoff_t')).toBe(false);
    expect(await relationExists('nopfx_scs')).toBe(false);
    expect(await victimRows()).toBe(3);
    expect(await applied('scsoff')).toBe(0);
  });

  it('applies /* a /* nested */ ; COMMIT; */ SELECT 1;', async () => {
    const m = mod('nestc', 'CREATE TABLE nestc_t (id int);\n/* a /* nested */ ; COMMIT; */ SELECT 1;\n');
    expect((await migrateModule(db, m)).applied).toHaveLength(1);
    expect(await relationExists('nestc_t')).toBe(true);
  });
});

describe('4. objects that cannot carry a prefix', () => {
  it('refuses CREATE OPERATOR public.~~* over a logging function, naming the operator', async () => {
    const m = mod('mop', [
      'CREATE TABLE mop_log (a text, b text);',
      'CREATE FUNCTION mop_ilike(a varchar, b varchar) RETURNS boolean LANGUAGE plpgsql AS $$',
      'BEGIN INSERT INTO mop_log VALUES (a, b); RETURN a ILIKE b; END $$;',
      'CREATE OPERATOR public.~~* (LEFTARG = varchar, RIGHTARG = varchar, FUNCTION = mop_ilike);',
    ].join('\n'));
    const err = await failure(m);
    expect(err.code).toBe('migration_prefix');
    expect(err.message).toMatch(/^mop\/migrations\/001_init\.sql creates operator public\.~~\*.*which cannot carry the prefix "mop_"/);
    expect((await db.pool.query("SELECT count(*)::int AS n FROM pg_operator WHERE oprname = '~~*' AND oprleft = 'varchar'::regtype")).rows[0].n).toBe(0);
    expect(await relationExists('mop_log')).toBe(false);
  });

  it.each([
    ['collation', 'CREATE COLLATION german FROM "C";', 'creates collation "german" without the prefix'],
    ['conversion', "CREATE CONVERSION myconv FOR 'LATIN1' TO 'UTF8' FROM iso8859_1_to_utf8;", 'creates conversion "myconv" without the prefix'],
    ['text search configuration', 'CREATE TEXT SEARCH CONFIGURATION myts (COPY = simple);', 'creates text search configuration "myts" without the prefix'],
    ['temporary table', 'CREATE TEMP TABLE tmpk_scratch (id int);', 'creates temporary table "tmpk_scratch"; migrations may not create temporary objects'],
  ] as const)('refuses an unprefixed %s, naming it', async (_kind, sql, phrase) => {
    const name = `k${randomBytes(3).toString('hex')}`;
    const err = await failure(mod(name, sql));
    expect(err.code).toBe('migration_prefix');
    expect(err.message).toContain(`${name}/migrations/001_init.sql ${phrase}`);
    expect(await victimRows()).toBe(3);
  });
});

describe('a failed login to the owner role (red team)', () => {
  // openOwnerSession made the owner LOGIN with a fresh password and then connected; when that
  // connect failed (here: CONNECT revoked; on a trusting server: someone else took the role's one
  // connection first) the role stayed LOGIN and whoever got in kept an owner session.
  it('closes the migration window again: the owner is NOLOGIN and has no session', async () => {
    const m = mod('winfail', 'CREATE TABLE winfail_t (id int);');
    await migrateModule(db, m);
    const owner = roleNamesFor(tdb.name, 'winfail').owner;
    await db.pool.query(`REVOKE CONNECT ON DATABASE "${tdb.name}" FROM "${owner}"`);
    await db.pool.query(`REVOKE CONNECT ON DATABASE "${tdb.name}" FROM PUBLIC`);
    try {
      m.write('002_more.sql', 'CREATE TABLE winfail_u (id int);');
      await expect(migrateModule(db, m)).rejects.toThrow(/permission denied for database/);
    } finally {
      await db.pool.query(`GRANT CONNECT ON DATABASE "${tdb.name}" TO PUBLIC`);
    }
    expect((await db.pool.query('SELECT rolcanlogin FROM pg_roles WHERE rolname = $1', [owner])).rows).toEqual([{ rolcanlogin: false }]);
    expect((await db.pool.query('SELECT count(*)::int AS n FROM pg_stat_activity WHERE usename = $1', [owner])).rows[0].n).toBe(0);
  });
});

describe('functions that share a built-in\'s name (red team)', () => {
  // A prefix can spell a built-in's name ("has_", "pg_", "jsonb_"), and PostgreSQL picks among
  // all functions of a name on the search_path by argument types. This one is a better match
  // than pg_catalog's for the kernel's own has_database_privilege($1, current_database(),
  // 'CONNECT') during the next module's role setup, which ran it as the kernel's superuser.
  it('refuses public.has_database_privilege(text, name, text) from a module with prefix "has_", naming the built-in', async () => {
    const m = mod('has', [
      'CREATE TABLE has_t (id int);',
      'CREATE FUNCTION has_database_privilege(u text, d name, p text) RETURNS boolean LANGUAGE plpgsql AS $f$',
      "BEGIN EXECUTE pg_catalog.format('ALTER ROLE %I SUPERUSER', (SELECT rolname FROM pg_catalog.pg_roles WHERE rolname LIKE '%\\_has\\_own'));",
      '  DELETE FROM public.victim_data; RETURN true;',
      'EXCEPTION WHEN others THEN RETURN pg_catalog.has_database_privilege(u, d::text, p); END $f$;',
      'GRANT EXECUTE ON FUNCTION has_database_privilege(text, name, text) TO PUBLIC;',
    ].join('\n'));
    const err = await failure(m);
    expect(err).toMatchObject({ code: 'migration_prefix',
      message: expect.stringMatching(/^has\/migrations\/001_init\.sql creates function public\.has_database_privilege\(text,name,text\), which shares its name with pg_catalog\.has_database_privilege; /) });
    expect(await relationExists('has_t')).toBe(false);
    // the next module's role setup calls has_database_privilege as the kernel's login
    await migrateModule(db, mod('afterhas', 'CREATE TABLE afterhas_t (id int);'));
    const owner = roleNamesFor(tdb.name, 'has').owner;
    expect((await db.pool.query('SELECT rolsuper FROM pg_roles WHERE rolname = $1', [owner])).rows).toEqual([{ rolsuper: false }]);
    expect(await victimRows()).toBe(3);
  });
});

describe('the owner role outside its migration window (red team)', () => {
  it('a password a migration sets for its owner role opens nothing afterwards, and what it owns is checked at every start', async () => {
    const m = mod('pwset', "CREATE TABLE pwset_t (id int);\nDO $$ BEGIN EXECUTE 'ALTER ROLE ' || quote_ident(current_user) || ' PASSWORD ''pwned123'''; END $$;\n");
    await migrateModule(db, m);
    const owner = roleNamesFor(tdb.name, 'pwset').owner;
    // the server here trusts loopback logins, so only NOLOGIN can stop this one
    const login = await connectAs(tdb.url, owner, 'pwned123').then(async (c) => { await c.end(); return 'logged in'; }, (e: Error) => e.message);
    expect(login).toMatch(/not permitted to log in/);
    const attrs = (await db.pool.query('SELECT rolcanlogin, rolconnlimit FROM pg_roles WHERE rolname = $1', [owner])).rows[0];
    expect(attrs).toEqual({ rolcanlogin: false, rolconnlimit: 1 });

    // an object the owner came to own some other way (made here by hand, then given to it)
    await db.pool.query(`CREATE TABLE nopfx_runtime (id int)`);
    await db.pool.query(`ALTER TABLE nopfx_runtime OWNER TO "${owner}"`);
    await expect(migrateModule(db, m)).rejects.toMatchObject({
      code: 'migration_prefix',
      message: expect.stringMatching(/^module pwset's owner role owns table .*nopfx_runtime.* without the prefix "pwset_"/),
    });
    expect(await victimRows()).toBe(3);
  });
});

