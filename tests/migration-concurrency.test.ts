// Two kernels migrating the same database at once: one applies, the other finds it done.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../kernel/database.js';
import { migrateModule } from '../kernel/migrator.js';
import { HUB_LOCK_CLASS } from '../kernel/module-roles.js';
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
    expect(ledger.rows).toEqual([{ module: '_kernel', n: 1 }, { module: 'race', n: 6 }]);
  });

  it('gives up with migration_locked when another kernel holds the lock too long', async () => {
    const m = makeModule('waiter', 'waiter_', { '001_init.sql': 'CREATE TABLE waiter_t (id int);' });
    modules.push(m);
    const holder = await connectAs(tdb.url);
    try {
      await holder.query('SELECT pg_advisory_lock($1, 1)', [HUB_LOCK_CLASS]);
      await expect(migrateModule(a, m, { lockTimeoutMs: 300 })).rejects.toMatchObject({ code: 'migration_locked' });
      await holder.query('SELECT pg_advisory_unlock($1, 1)', [HUB_LOCK_CLASS]);
      expect((await migrateModule(a, m)).applied).toHaveLength(1);
    } finally {
      await holder.end();
    }
  });
});
