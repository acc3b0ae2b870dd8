// Two kernels migrating the same database at once: one applies, the other finds it done.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../kernel/database.js';
import { migrateModule } from '../kernel/migrator.js';
import { issueRuntimeCredentials } from '../kernel/module-roles.js';
import { connectAs, createTestDatabase, makeModule, openTestDatabase, type TestDatabase, type TestModule } from './helpers/database.js';

let tdb: TestDatabase;
let a: Database;
let b: Database;
const modules: TestModule[] = [];

beforeAll(async () => {
  tdb = await createTestDatabase();
  // Two Database objects = two pools = what two kernel processes would have.
  [a, b] = await Promise.all([openTestDatabase(tdb.url), openTestDatabase(tdb.url)]);
});

afterAll(async () => {
  await Promise.all([a?.close(), b?.close()]);
  await tdb?.drop();
  for (const m of modules) m.remove();
});

describe('concurrent migrations', () => {
  it('applies every file exactly once when two kernels migrate the same module at the same time', async () => {
    const files: Record<string, string> = {
      '001_init.sql': 'CREATE TABLE race_runs (version int PRIMARY KEY, at timestamptz DEFAULT clock_timestamp());\nINSERT INTO race_runs (version) VALUES (1);',
    };
    // pg_sleep widens the window in which a kernel without the lock would interleave.
    for (let v = 2; v <= 6; v++) files[`00${v}_step.sql`] = `SELECT pg_sleep(0.05);\nINSERT INTO race_runs (version) VALUES (${v});`;
    const m = makeModule('race', 'race_', files);
    modules.push(m);

    // A fresh database: both kernels also race to create the kernel's own ledger tables.
    const [ra, rb] = await Promise.all([migrateModule(a, m), migrateModule(b, m)]);
    const versions = [...ra.applied, ...rb.applied].map((x) => x.version).sort((x, y) => x - y);
    expect(versions).toEqual([1, 2, 3, 4, 5, 6]);
    // The lock is taken for the whole run, so one kernel did all the work.
    expect([ra.applied.length, rb.applied.length].sort()).toEqual([0, 6]);

    const runs = await a.pool.query('SELECT version FROM race_runs ORDER BY version');
    expect(runs.rows.map((r) => r.version)).toEqual([1, 2, 3, 4, 5, 6]);
    const ledger = await a.pool.query("SELECT module, count(*)::int AS n FROM hub_migrations GROUP BY module ORDER BY module");
    expect(ledger.rows).toEqual([{ module: '_kernel', n: 5 }, { module: 'race', n: 6 }]);
  });

  it('gives up with migration_locked when another kernel holds the lock too long', async () => {
    const m = makeModule('waiter', 'waiter_', { '001_init.sql': 'CREATE TABLE waiter_t (id int);' });
    modules.push(m);
    const seed = makeModule('seed', 'seed_');
    modules.push(seed);
    await migrateModule(a, seed); // the kernel's tables, hub_locks among them
    const holder = await connectAs(tdb.url);
    try {
      await holder.query('BEGIN');
      await holder.query("INSERT INTO hub_locks (name) VALUES ('migrate:waiter') ON CONFLICT DO NOTHING");
      await holder.query("SELECT 1 FROM hub_locks WHERE name = 'migrate:waiter' FOR UPDATE");
      await expect(migrateModule(a, m, { lockTimeoutMs: 300 })).rejects.toMatchObject({ code: 'migration_locked' });
      await holder.query('COMMIT');
      expect((await migrateModule(a, m)).applied).toHaveLength(1);
    } finally {
      await holder.end();
    }
  });

  // issue 11.7: the old lock was pg_advisory_lock(1213547008, 1|2), which any module could take.
  it('a module role can neither take the kernel\'s locks nor hold up migrations with the old advisory keys', async () => {
    const victim = makeModule('lockvictim', 'lockvictim_', { '001_init.sql': 'CREATE TABLE lockvictim_t (id int);' });
    const later = makeModule('lockvictim2', 'lockvictim2_', { '001_init.sql': 'CREATE TABLE lockvictim2_t (id int);' });
    modules.push(victim, later);
    await migrateModule(a, victim);
    const creds = await issueRuntimeCredentials(a, victim);
    const mod = await connectAs(tdb.url, creds.connection.user, creds.connection.password);
    try {
      await mod.query('BEGIN');
      await mod.query('SELECT pg_advisory_xact_lock(1213547008, 1)');
      await mod.query('SELECT pg_advisory_xact_lock(1213547008, 2)');
      await expect(mod.query("SELECT 1 FROM hub_locks WHERE name = 'migrate:lockvictim2' FOR UPDATE")).rejects.toThrow(/permission denied for table hub_locks/);
      await mod.query('ROLLBACK');
      await mod.query('BEGIN');
      await mod.query('SELECT pg_advisory_xact_lock(1213547008, 1)');
      await mod.query('SELECT pg_advisory_xact_lock(1213547008, 2)');
      // role setup and migration of another module go ahead while the module holds those keys
      expect((await migrateModule(a, later, { lockTimeoutMs: 5_000 })).applied).toHaveLength(1);
      await mod.query('ROLLBACK');
    } finally {
      await mod.end();
    }
  });
});
