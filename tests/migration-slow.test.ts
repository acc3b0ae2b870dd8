// Issue 12, item 7: one slow migration harms only its own module. Locks are per module, the
// lock and the migration run on connections outside the kernel's 5-connection pool, every
// statement has a statement and lock timeout, and a kernel that starts after one died
// mid-migration ends the orphaned session instead of waiting on it.
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../kernel/database.js';
import { migrateModule } from '../kernel/migrator.js';
import { MIGRATION_DEFAULTS } from '../kernel/migration-settings.js';
import { roleNamesFor } from '../kernel/module-roles.js';
import { connectAs, createTestDatabase, makeModule, openTestDatabase, type TestDatabase, type TestModule } from './helpers/database.js';
import { startKernel, stopAllKernels } from './helpers/kernel.js';
import { helloRouter, tempDir, writeModule } from './helpers/modules.js';
import { waitFor } from './helpers/wait.js';

let tdb: TestDatabase;
let db: Database;
const modules: TestModule[] = [];

beforeAll(async () => {
  tdb = await createTestDatabase();
  db = await openTestDatabase(tdb.url, 'error');
});

afterAll(async () => {
  await stopAllKernels();
  await db?.close();
  await tdb?.drop();
  for (const m of modules) m.remove();
});

function mod(name: string, files: Record<string, string>): TestModule {
  const m = makeModule(name, `${name}_`, files);
  modules.push(m);
  return m;
}

async function migrationSessions(module: string): Promise<number[]> {
  const r = await db.pool.query('SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1', [`hub-migrate:${module}`]);
  return r.rows.map((x) => x.pid);
}

describe('7. slow migrations', () => {
  it('has documented defaults', () => {
    expect(MIGRATION_DEFAULTS).toEqual({ statementTimeoutMs: 300_000, lockTimeoutMs: 10_000, waitMs: 120_000, outOfOrder: false });
  });

  it('ends a statement at the statement timeout, failing only that module', async () => {
    const slow = mod('sleepy', { '001_init.sql': 'CREATE TABLE sleepy_t (id int);\nSELECT pg_sleep(200);' });
    const t0 = Date.now();
    await expect(migrateModule(db, slow, { settings: { ...MIGRATION_DEFAULTS, statementTimeoutMs: 500 } }))
      .rejects.toMatchObject({ code: 'migration_failed', message: 'sleepy/migrations/001_init.sql: canceling statement due to statement timeout at line 2' });
    expect(Date.now() - t0).toBeLessThan(10_000);
  });

  it('ends the session of a file that lifts its own statement timeout (red team: SET statement_timeout = 0)', async () => {
    const sly = mod('sly', { '001_init.sql': 'SET statement_timeout = 0;\nSET lock_timeout = 0;\nCREATE TABLE sly_t (id int);\nSELECT pg_sleep(3600);\n' });
    const t0 = Date.now();
    await expect(migrateModule(db, sly, { settings: { ...MIGRATION_DEFAULTS, statementTimeoutMs: 500 } }))
      .rejects.toMatchObject({ code: 'migration_failed', message: 'sly: a migration statement ran past 500 ms (HUB_MIGRATION_STATEMENT_TIMEOUT_MS); the kernel ended its session' });
    expect(Date.now() - t0).toBeLessThan(15_000);
    await waitFor(async () => (await migrationSessions('sly')).length === 0, { what: 'the migration session to be gone' });
    expect((await db.pool.query("SELECT to_regclass('public.sly_t') IS NULL AS gone")).rows[0].gone).toBe(true);
  });

  it('waiting runs never take the admin pool, and other modules migrate meanwhile', async () => {
    const busy = mod('busy', { '001_init.sql': 'CREATE TABLE busy_t (id int);' });
    const other = mod('bystander', { '001_init.sql': 'CREATE TABLE bystander_t (id int);' });
    await migrateModule(db, mod('warm', {})); // the kernel's tables and hub_locks exist
    const holder = await connectAs(tdb.url);
    try {
      await holder.query('BEGIN');
      await holder.query("INSERT INTO hub_locks (name) VALUES ('migrate:busy') ON CONFLICT DO NOTHING");
      await holder.query("SELECT 1 FROM hub_locks WHERE name = 'migrate:busy' FOR UPDATE");
      // six restarts of busy wait on its lock: more than the pool's five connections
      const waiting = Array.from({ length: 6 }, () => migrateModule(db, busy, { lockTimeoutMs: 30_000 }));
      await waitFor(async () => {
        const r = await db.pool.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'hub-lock' AND wait_event_type = 'Lock'");
        return r.rows[0].n >= 6 || undefined;
      }, { what: 'six runs waiting on the lock' });
      const t0 = Date.now();
      await Promise.all(Array.from({ length: 10 }, () => db.pool.query('SELECT 1')));
      expect((await migrateModule(db, other)).applied).toHaveLength(1);
      expect(Date.now() - t0).toBeLessThan(5_000);
      await holder.query('COMMIT');
      const results = await Promise.all(waiting);
      expect(results.map((r) => r.applied.length).sort()).toEqual([0, 0, 0, 0, 0, 1]);
    } finally {
      await holder.end();
    }
  });

  it('ends a migration session whose kernel is gone instead of waiting on it', async () => {
    const m = mod('orph', { '001_init.sql': 'CREATE TABLE orph_t (id int);' });
    await migrateModule(db, m);
    // What a SIGKILLed kernel leaves: the owner's session, mid-statement, holding the table.
    const owner = roleNamesFor(tdb.name, 'orph').owner;
    // a kernel killed inside its migration window leaves the owner role able to log in
    await db.pool.query(`ALTER ROLE "${owner}" LOGIN`);
    const orphan = await connectAs(tdb.url, owner, 'unused-on-a-trusting-server');
    orphan.on('error', () => undefined);
    await orphan.query("SET application_name = 'hub-migrate:orph'");
    await orphan.query('BEGIN');
    await orphan.query('LOCK TABLE orph_t IN ACCESS EXCLUSIVE MODE');
    const sleeping = orphan.query('SELECT pg_sleep(120)').catch((e: Error) => e);
    m.write('002_more.sql', 'ALTER TABLE orph_t ADD COLUMN c int;');
    const lines: string[] = [];
    const log = pino({ level: 'info' }, new Writable({ write(c, _e, cb) { lines.push(String(c)); cb(); } }));
    const t0 = Date.now();
    expect((await migrateModule(db, m, { log })).applied.map((a) => a.file)).toEqual(['002_more.sql']);
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(await sleeping).toMatchObject({ message: expect.stringMatching(/terminating connection/) });
    expect(lines.join('')).toMatch(/ended orphaned migration session \d+ of orph/);
    await orphan.end().catch(() => undefined);
  });

  // Red team: application_name is the session's own to change, and so are the settings that
  // would let the server end it by itself. A migration that renamed its session, lifted its
  // timeouts and slept when its kernel died left an orphan the next kernel did not recognise;
  // that orphan held the owner role's one connection, so the module could never migrate again.
  it('ends an orphan that renamed its session and lifted its own timeouts', async () => {
    const m = mod('sly2', { '001_init.sql': 'CREATE TABLE sly2_t (id int);' });
    await migrateModule(db, m);
    const owner = roleNamesFor(tdb.name, 'sly2').owner;
    await db.pool.query(`ALTER ROLE "${owner}" LOGIN`);
    const orphan = await connectAs(tdb.url, owner, 'unused-on-a-trusting-server');
    orphan.on('error', () => undefined);
    await orphan.query("SET application_name = 'psql'");
    await orphan.query('SET statement_timeout = 0');
    await orphan.query('SET client_connection_check_interval = 0');
    await orphan.query('BEGIN');
    await orphan.query('LOCK TABLE sly2_t IN ACCESS EXCLUSIVE MODE');
    const sleeping = orphan.query('SELECT pg_sleep(120)').catch((e: Error) => e);
    m.write('002_more.sql', 'ALTER TABLE sly2_t ADD COLUMN c int;');
    const lines: string[] = [];
    const log = pino({ level: 'info' }, new Writable({ write(c, _e, cb) { lines.push(String(c)); cb(); } }));
    const t0 = Date.now();
    expect((await migrateModule(db, m, { log })).applied.map((a) => a.file)).toEqual(['002_more.sql']);
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(await sleeping).toMatchObject({ message: expect.stringMatching(/terminating connection/) });
    expect(lines.join('')).toMatch(/ended orphaned migration session \d+ of sly2/);
    await orphan.end().catch(() => undefined);
  });

  it('a module sleeping in its migration at boot holds up no other module, and a SIGKILL leaves nothing to wait on', async () => {
    const modulesDir = tempDir('modules');
    writeModule(modulesDir, 'slowpoke', { router: helloRouter, files: { 'migrations/001_init.sql': 'CREATE TABLE slowpoke_t (id int);\nSELECT pg_sleep(200);\n' } });
    writeModule(modulesDir, 'quick', { router: helloRouter, files: { 'migrations/001_init.sql': 'CREATE TABLE quick_t (id int);\n' } });
    const k1 = await startKernel({ modulesDir, databaseUrl: tdb.url, waitLoaded: false });
    await k1.waitForState('quick', 'running', 30_000);
    expect((await k1.get('/api/v1/quick/hello')).status).toBe(200);
    await waitFor(async () => (await migrationSessions('slowpoke')).length === 1 || undefined, { what: 'slowpoke migrating' });
    await k1.stop('SIGKILL');
    // the next kernel neither waits 200 s nor 120 s: its own short statement timeout fails slowpoke
    const t0 = Date.now();
    const k2 = await startKernel({ modulesDir, databaseUrl: tdb.url, env: { HUB_MIGRATION_STATEMENT_TIMEOUT_MS: '1500' } });
    const rec = await k2.waitForState('slowpoke', 'failed', 30_000);
    expect(rec.last_error).toMatch(/slowpoke\/migrations\/001_init\.sql: canceling statement due to statement timeout at line 2/);
    expect(Date.now() - t0).toBeLessThan(45_000);
    expect((await k2.record('quick')).state).toBe('running');
    await waitFor(async () => (await migrationSessions('slowpoke')).length === 0 || undefined, { what: 'no slowpoke migration session left' });
    await k2.stop();
  });
});
