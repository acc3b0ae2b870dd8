// Issue 12, item 9: tables made by hand (the original hub's `psql -f …/001_init.sql`) are found
// before the module starts. Owned by the kernel's own login they are adopted, one log line
// each; owned by anyone else the module fails naming them and `hubctl migrate <name> --adopt`.
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../kernel/database.js';
import { migrateModule } from '../kernel/migrator.js';
import { issueRuntimeCredentials, rolePrefixFor, roleNamesFor } from '../kernel/module-roles.js';
import { createModuleDb } from '../shared/db.js';
import { connectAs, createTestDatabase, makeModule, openTestDatabase, type TestDatabase, type TestModule } from './helpers/database.js';

let tdb: TestDatabase;
let db: Database;
const modules: TestModule[] = [];
const INIT = 'CREATE TABLE IF NOT EXISTS mymod_items (id serial PRIMARY KEY, title text NOT NULL);\n';

beforeAll(async () => {
  tdb = await createTestDatabase();
  db = await openTestDatabase(tdb.url, 'error');
});

afterAll(async () => {
  await db?.close();
  await tdb?.drop();
  for (const m of modules) m.remove();
});

async function owner(table: string): Promise<string> {
  return (await db.pool.query('SELECT tableowner FROM pg_tables WHERE tablename = $1', [table])).rows[0].tableowner;
}

describe('9. tables created by hand', () => {
  it('adopts tables the kernel\'s own login made, so the running module can read them', async () => {
    // the original hub's workflow, as the hub's database user
    const psql = await connectAs(tdb.url);
    try {
      await psql.query(INIT);
      await psql.query("INSERT INTO mymod_items (title) VALUES ('from the old hub')");
    } finally {
      await psql.end();
    }
    const m = makeModule('mymod', 'mymod_', { '001_init.sql': INIT });
    modules.push(m);
    const lines: string[] = [];
    const log = pino({ level: 'info' }, new Writable({ write(c, _e, cb) { lines.push(String(c)); cb(); } }));
    expect((await migrateModule(db, m, { log })).applied).toHaveLength(1);
    const names = roleNamesFor(tdb.name, 'mymod');
    expect(await owner('mymod_items')).toBe(names.owner);
    const adopted = lines.filter((l) => l.includes('migrate: adopted'));
    expect(adopted).toHaveLength(1); // the table; its serial sequence follows it
    expect(adopted[0]).toContain(`adopted table mymod_items (was owned by ${db.connection.user}) for module mymod`);
    const creds = await issueRuntimeCredentials(db, m);
    const mdb = createModuleDb(creds.connection);
    try {
      expect(await mdb.query('SELECT title FROM mymod_items')).toEqual([{ title: 'from the old hub' }]);
      expect(await mdb.insert('INSERT INTO mymod_items (title) VALUES ($1)', ['new'])).toBe(2);
    } finally {
      await mdb.close();
    }
  });

  it('refuses tables another role owns, naming them and the command, until --adopt', async () => {
    const alice = `${rolePrefixFor(tdb.name)}alice`;
    const admin = await connectAs(tdb.url);
    try {
      await admin.query(`CREATE ROLE "${alice}" NOLOGIN`);
      await admin.query('CREATE TABLE theirs_items (id int)');
      await admin.query(`ALTER TABLE theirs_items OWNER TO "${alice}"`);
    } finally {
      await admin.end();
    }
    const m = makeModule('theirs', 'theirs_', { '001_init.sql': 'CREATE TABLE IF NOT EXISTS theirs_items (id int);' });
    modules.push(m);
    await expect(migrateModule(db, m)).rejects.toMatchObject({
      code: 'migration_adopt',
      message: `theirs: table theirs_items (owned by ${alice}) carries the prefix "theirs_" but is not the module's; run hubctl migrate theirs --adopt to hand it to the module, or rename or drop it`,
    });
    expect(await owner('theirs_items')).toBe(alice);
    expect((await db.pool.query("SELECT count(*)::int AS n FROM hub_migrations WHERE module = 'theirs'")).rows[0].n).toBe(0);
    expect((await migrateModule(db, m, { adopt: true })).applied).toHaveLength(1);
    expect(await owner('theirs_items')).toBe(roleNamesFor(tdb.name, 'theirs').owner);
  });

  it("adopts nothing by name alone: a table of the kernel's login that the module's files never create stays where it is (red team)", async () => {
    // another application on a shared DATABASE_URL login, whose table happens to carry the prefix
    const app = await connectAs(tdb.url);
    try {
      await app.query('CREATE TABLE billing_invoices (id int, amount int)');
      await app.query('INSERT INTO billing_invoices VALUES (1, 100)');
    } finally {
      await app.end();
    }
    const m = makeModule('billing', 'billing_', { '001_init.sql': 'CREATE TABLE billing_payments (id int);\n' });
    modules.push(m);
    await expect(migrateModule(db, m)).rejects.toMatchObject({
      code: 'migration_adopt',
      message: `billing: table billing_invoices (owned by ${db.connection.user}, not created by its migrations) carries the prefix "billing_" but is not the module's; run hubctl migrate billing --adopt to hand it to the module, or rename or drop it`,
    });
    expect(await owner('billing_invoices')).toBe(db.connection.user);
  });
});

