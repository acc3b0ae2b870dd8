// Per-module database roles and the child-side ctx.db on top of them.
import { tmpdir } from 'node:os';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../kernel/database.js';
import { migrateModule } from '../kernel/migrator.js';
import { issueRuntimeCredentials, roleNamesFor } from '../kernel/module-roles.js';
import { createModuleDb, type ModuleDb } from '../shared/db.js';
import { connectAs, createTestDatabase, makeModule, openTestDatabase, type TestDatabase, type TestModule } from './helpers/database.js';

let tdb: TestDatabase;
let db: Database;
let alphaDb: ModuleDb;
const modules: TestModule[] = [];

const alpha = makeModule('alpha', 'alpha_', {
  '001_init.sql': `
    CREATE TABLE alpha_items (id serial PRIMARY KEY, title text NOT NULL UNIQUE);
    CREATE FUNCTION alpha_double(i int) RETURNS int LANGUAGE sql AS 'SELECT i * 2';
  `,
});
const beta = makeModule('beta', 'beta_', {
  '001_init.sql': `
    CREATE TABLE beta_secrets (id serial PRIMARY KEY, secret text);
    INSERT INTO beta_secrets (secret) VALUES ('hunter2');
    CREATE FUNCTION beta_peek() RETURNS text LANGUAGE sql SECURITY DEFINER AS 'SELECT secret FROM beta_secrets LIMIT 1';
  `,
});
modules.push(alpha, beta);

beforeAll(async () => {
  tdb = await createTestDatabase();
  db = await openTestDatabase(tdb.url);
  await migrateModule(db, alpha);
  await migrateModule(db, beta);
  const creds = await issueRuntimeCredentials(db, alpha);
  alphaDb = createModuleDb(creds.connection);
});

afterAll(async () => {
  await alphaDb?.close();
  await db?.close();
  await tdb?.drop();
  for (const m of modules) m.remove();
});

describe('module roles', () => {
  it('hands the module its own runtime role, with a fresh password each time', async () => {
    const names = roleNamesFor(tdb.name, 'alpha', db.instance);
    expect(names.runtime).toMatch(/^h[0-9a-f]{8}_alpha_rt_[0-9a-f]{6}$/);
    const stored = async (): Promise<string> =>
      (await db.pool.query('SELECT rolpassword FROM pg_authid WHERE rolname = $1', [names.runtime])).rows[0].rolpassword;
    const c1 = await issueRuntimeCredentials(db, alpha);
    const p1 = await stored();
    const c2 = await issueRuntimeCredentials(db, alpha);
    const p2 = await stored();
    expect(c1).toMatchObject({ isolation: 'role', connection: { user: names.runtime, database: tdb.name } });
    expect(c1.connection.password).not.toBe(c2.connection.password);
    expect(p1).toMatch(/^SCRAM-SHA-256\$4096:/);
    expect(p1).not.toBe(p2);

    const role = await db.pool.query('SELECT rolcanlogin, rolconnlimit, rolsuper, rolcreaterole FROM pg_roles WHERE rolname = $1', [names.runtime]);
    expect(role.rows[0]).toEqual({ rolcanlogin: true, rolconnlimit: 10, rolsuper: false, rolcreaterole: false });
    const owner = await db.pool.query("SELECT tableowner FROM pg_tables WHERE tablename = 'alpha_items'");
    expect(owner.rows[0].tableowner).toBe(names.owner);
    expect((await alphaDb.one<{ statement_timeout: string }>('SHOW statement_timeout'))?.statement_timeout).toBe('30s');
  });

  it('lets the runtime role create, read, update and delete its own rows; insert returns the id', async () => {
    const id1 = await alphaDb.insert('INSERT INTO alpha_items (title) VALUES ($1)', ['first']);
    const id2 = await alphaDb.insert('INSERT INTO alpha_items (title) VALUES ($1);', ['second']);
    expect(typeof id1).toBe('number');
    expect(id2).toBe((id1 as number) + 1);
    expect(await alphaDb.insert("INSERT INTO alpha_items (title) VALUES ('third') RETURNING title")).toBe('third');
    expect(await alphaDb.insert("INSERT INTO alpha_items (title) VALUES ('third') ON CONFLICT (title) DO NOTHING")).toBeNull();

    await alphaDb.query('UPDATE alpha_items SET title = $1 WHERE id = $2', ['first!', id1]);
    expect(await alphaDb.one('SELECT title FROM alpha_items WHERE id = $1', [id1])).toEqual({ title: 'first!' });
    await alphaDb.query('DELETE FROM alpha_items WHERE id = $1', [id2]);
    expect(await alphaDb.one('SELECT * FROM alpha_items WHERE id = $1', [id2])).toBeNull();
    expect((await alphaDb.query<{ title: string }>('SELECT title FROM alpha_items ORDER BY id')).map((r) => r.title)).toEqual(['first!', 'third']);
    expect(await alphaDb.one('SELECT alpha_double(21) AS v')).toEqual({ v: 42 });
  });

  it('answers permission denied for another module\'s table and function', async () => {
    await expect(alphaDb.query('SELECT * FROM beta_secrets')).rejects.toThrow(/permission denied for table beta_secrets/);
    await expect(alphaDb.query("INSERT INTO beta_secrets (secret) VALUES ('x')")).rejects.toThrow(/permission denied for table beta_secrets/);
    await expect(alphaDb.query('SELECT beta_peek()')).rejects.toThrow(/permission denied for function beta_peek/);
  });

  it('cannot create tables', async () => {
    await expect(alphaDb.query('CREATE TABLE alpha_sneaky (id int)')).rejects.toThrow(/permission denied for schema public/);
  });

  it('rolls a transaction back when the callback throws and commits otherwise', async () => {
    await expect(alphaDb.transaction(async (tx) => {
      await tx.insert('INSERT INTO alpha_items (title) VALUES ($1)', ['doomed']);
      expect(await tx.one('SELECT title FROM alpha_items WHERE title = $1', ['doomed'])).toEqual({ title: 'doomed' });
      throw new Error('changed my mind');
    })).rejects.toThrow('changed my mind');
    expect(await alphaDb.one('SELECT 1 FROM alpha_items WHERE title = $1', ['doomed'])).toBeNull();

    const id = await alphaDb.transaction(async (tx) => tx.insert('INSERT INTO alpha_items (title) VALUES ($1)', ['kept']));
    expect(await alphaDb.one('SELECT title FROM alpha_items WHERE id = $1', [id])).toEqual({ title: 'kept' });
  });

  it('the kernel\'s user itself is not handed to modules when roles exist', async () => {
    const creds = await issueRuntimeCredentials(db, beta);
    const c = await connectAs(tdb.url, creds.connection.user, creds.connection.password);
    try {
      const who = await c.query('SELECT current_user AS u, (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS su');
      expect(who.rows[0]).toEqual({ u: roleNamesFor(tdb.name, 'beta', db.instance).runtime, su: false });
    } finally {
      await c.end();
    }
  });
});

describe('module roles where the server refuses CREATE ROLE', () => {
  it('falls back to the shared connection with one warning', async () => {
    const plain = await createTestDatabase({ withoutRoles: true });
    const lines: string[] = [];
    const sink = new Writable({ write(chunk, _enc, cb) { lines.push(String(chunk)); cb(); } });
    const sdb = await openDatabase({ databaseUrl: plain.url, dataDir: tmpdir(), log: pino({ level: 'warn' }, sink) });
    try {
      const m = makeModule('gamma', 'gamma_', { '001_init.sql': 'CREATE TABLE gamma_items (id serial PRIMARY KEY, title text);' });
      modules.push(m);
      expect((await migrateModule(sdb, m)).applied).toHaveLength(1);
      const c1 = await issueRuntimeCredentials(sdb, m);
      const c2 = await issueRuntimeCredentials(sdb, { name: 'delta' });
      expect(c1.isolation).toBe('shared');
      expect(c2.isolation).toBe('shared');
      expect(c1.connection.user).toBe(sdb.connection.user);
      const warnings = lines.filter((l) => /per-module roles/.test(l));
      expect(warnings).toHaveLength(1);
      const gdb = createModuleDb(c1.connection);
      try {
        expect(await gdb.insert('INSERT INTO gamma_items (title) VALUES ($1)', ['x'])).toBe(1);
      } finally {
        await gdb.close();
      }
    } finally {
      await sdb.close();
      await plain.drop();
    }
  });
});
