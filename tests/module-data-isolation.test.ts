// End to end through real kernels and children: a module's migrations run before it
// starts, its code can use its own tables, and it gets "permission denied" on another
// module's table even when its code tries. A failing migration keeps that module out.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { startKernel, stopAllKernels, type RunningKernel } from './helpers/kernel.js';
import { createTestDatabase, type TestDatabase } from './helpers/database.js';
import { tempDir, writeModule } from './helpers/modules.js';

let db: TestDatabase;
let k: RunningKernel;

const router = (own: string, other: string) => `export default (router, ctx) => {
  router.get('/own', async (req, res) => res.json(await ctx.db.query('SELECT id, label FROM ${own} ORDER BY id')));
  router.post('/own', async (req, res) => {
    if (!ctx.safety.allowWrite(res, 'insert')) return;
    res.json({ id: await ctx.db.insert('INSERT INTO ${own} (label) VALUES ($1)', [req.body.label]) });
  });
  router.get('/other', async (req, res) => {
    try { res.json(await ctx.db.query('SELECT * FROM ${other}')); }
    catch (e) { res.status(403).json({ error: 'denied', message: e.message }); }
  });
  router.get('/create', async (req, res) => {
    try { await ctx.db.query('CREATE TABLE ${own.split('_')[0]}_sneaky (id int)'); res.json({ created: true }); }
    catch (e) { res.status(403).json({ error: 'denied', message: e.message }); }
  });
};`;

const table = (name: string) => `CREATE TABLE ${name} (id SERIAL PRIMARY KEY, label TEXT NOT NULL);\n-- migrate:down\nDROP TABLE ${name};\n`;

beforeAll(async () => {
  db = await createTestDatabase();
  const modulesDir = tempDir('modules');
  writeModule(modulesDir, 'billing', { router: router('billing_invoices', 'crm_customers'), manifest: { table_prefix: 'billing_' }, files: { 'migrations/001_init.sql': table('billing_invoices') } });
  writeModule(modulesDir, 'crm', { router: router('crm_customers', 'billing_invoices'), manifest: { table_prefix: 'crm_' }, files: { 'migrations/001_init.sql': table('crm_customers') } });
  const broken = 'CREATE TABLE broken_ok (id int);\n' + '\n'.repeat(10) + 'CREATE TABLEE broken_bad (id int);\n';
  writeModule(modulesDir, 'broken', { router: router('broken_ok', 'crm_customers'), manifest: { table_prefix: 'broken_' }, files: { 'migrations/001_init.sql': broken } });
  writeModule(modulesDir, 'sprawl', { router: router('sprawl_x', 'crm_customers'), manifest: { table_prefix: 'sprawl_' }, files: { 'migrations/001_init.sql': 'CREATE TABLE customers (id int);\n' } });
  k = await startKernel({
    modulesDir,
    databaseUrl: db.url,
    env: { MODULES__BILLING__READ_ONLY: 'false', MODULES__BILLING__DRY_RUN: 'false' },
  });
});

afterAll(async () => {
  await stopAllKernels();
  await db.drop();
});

describe('module data isolation', () => {
  it('migrates before start and lets a module use its own tables through ctx.db', async () => {
    const rec = await k.record('billing');
    expect(rec).toMatchObject({ state: 'running', db_isolation: 'role' });
    const created = await k.json('/api/v1/billing/own', { method: 'POST', body: JSON.stringify({ label: 'inv-1' }), headers: { 'content-type': 'application/json' } });
    expect(created.id).toBe(1);
    expect(await k.json('/api/v1/billing/own')).toEqual([{ id: 1, label: 'inv-1' }]);
  });

  it("answers permission denied when a module reads another module's table", async () => {
    const res = await k.get('/api/v1/billing/other');
    expect(res.status).toBe(403);
    expect((await res.json() as any).message).toMatch(/permission denied for table crm_customers/);
    const back = await k.get('/api/v1/crm/other');
    expect((await back.json() as any).message).toMatch(/permission denied for table billing_invoices/);
  });

  it('denies CREATE outside migrations', async () => {
    const res = await k.get('/api/v1/crm/create');
    expect(res.status).toBe(403);
    expect((await res.json() as any).message).toMatch(/permission denied/);
  });

  it('keeps a module with a failing migration out, naming file and line, with nothing half-applied', async () => {
    const rec = await k.record('broken');
    expect(rec.state).toBe('failed');
    expect(rec.last_error).toMatch(/broken\/migrations\/001_init\.sql/);
    expect(rec.last_error).toMatch(/line 12/);
    expect(rec.last_error).toMatch(/TABLEE/);
    // the first statement of the failed file was rolled back with it
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    try {
      const { rows } = await c.query("SELECT to_regclass('public.broken_ok') AS t");
      expect(rows[0].t).toBeNull();
      const ledger = await c.query("SELECT count(*)::int AS n FROM hub_migrations WHERE module = 'broken'");
      expect(ledger.rows[0].n).toBe(0);
    } finally {
      await c.end();
    }
  });

  it('keeps a module whose migration strays outside its prefix out, naming the object', async () => {
    const rec = await k.record('sprawl');
    expect(rec.state).toBe('failed');
    expect(rec.last_error).toMatch(/001_init\.sql/);
    expect(rec.last_error).toMatch(/"customers"/);
    expect(rec.last_error).toMatch(/sprawl_/);
  });
});
