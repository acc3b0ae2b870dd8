// `hubctl psql` and `hubctl db-url` (issue 18 item 6) against real kernels: with DATABASE_URL
// and with the embedded server (port and password only in HUB_DATA_DIR). As a module, the
// session is that module's runtime role: it reads its own tables and is refused another
// module's; --admin is the privileged login; Ctrl-C cancels psql's query without killing hubctl;
// without psql on PATH, one clear line with the URL.
import { spawn } from 'node:child_process';
import { cpSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HUB_ROOT } from '../shared/paths.js';
import { createTestDatabase, type TestDatabase } from './helpers/database.js';
import { HUBCTL, hubctl } from './helpers/hubctl.js';
import { waitFor } from './helpers/wait.js';
import { startKernel, stopAllKernels, type RunningKernel } from './helpers/kernel.js';
import { tempDir, writeModule } from './helpers/modules.js';

const other = { migrations: { 'migrations/001_init.sql': 'CREATE TABLE other_items (id serial PRIMARY KEY, secret text);\nINSERT INTO other_items (secret) VALUES (\'not for notes\');\n' } };

function modules(): string {
  const dir = tempDir('psql-modules');
  cpSync(join(HUB_ROOT, 'modules', 'notes'), join(dir, 'notes'), { recursive: true });
  writeModule(dir, 'other', { manifest: { table_prefix: 'other_' }, router: 'export default () => {};', files: other.migrations });
  return dir;
}

async function query(url: string, sql: string): Promise<pg.QueryResult> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  await c.connect();
  try {
    return await c.query(sql);
  } finally {
    await c.end();
  }
}

describe('with DATABASE_URL', () => {
  let k: RunningKernel;
  let db: TestDatabase;
  let env: Record<string, string>;
  beforeAll(async () => {
    db = await createTestDatabase();
    k = await startKernel({ modulesDir: modules(), databaseUrl: db.url });
    env = { DATABASE_URL: db.url, HUB_DATA_DIR: k.dataDir, HUB_MODULES_DIR: k.modulesDir };
  }, 120_000);
  afterAll(async () => {
    await stopAllKernels();
    await db?.drop();
  });

  it('db-url <module> connects as the runtime role, which reads its own tables and not another module\'s', async () => {
    const run = await hubctl(['db-url', 'notes'], env);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const url = run.stdout.trim();
    const who = (await query(url, 'SELECT current_user AS u')).rows[0].u as string;
    expect(who).toMatch(/^h[0-9a-f]{8}_notes_rt(_[0-9a-f]{6})?$/);
    expect((await query(url, 'SELECT count(*)::int AS n FROM notes_notes')).rows[0].n).toBeGreaterThanOrEqual(0);
    await expect(query(url, 'SELECT secret FROM other_items')).rejects.toMatchObject({ code: '42501' });
    // the privileged login reads it (the table is there; the refusal above is the role's)
    const admin = (await hubctl(['db-url', '--admin'], env)).stdout.trim();
    expect((await query(admin, 'SELECT secret FROM other_items')).rows[0].secret).toBe('not for notes');
  });

  it('psql <module> -c runs as the module\'s runtime role; \\d describes its table', async () => {
    const run = await hubctl(['psql', 'notes', '-At', '-c', 'select current_user'], env);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout.trim()).toMatch(/^h[0-9a-f]{8}_notes_rt(_[0-9a-f]{6})?$/);
    const d = await hubctl(['psql', 'notes', '-c', '\\d notes_notes'], env);
    expect(d.code).toBe(0);
    expect(d.stdout).toContain('Table "public.notes_notes"');
    const denied = await hubctl(['psql', 'notes', '-v', 'ON_ERROR_STOP=1', '-c', 'select * from other_items'], env);
    expect(denied.code).not.toBe(0);
    expect(denied.stderr).toContain('permission denied');
  });

  it('leaves Ctrl-C to psql: the query is cancelled and hubctl exits with psql\'s code, not killed', async () => {
    // as a terminal does it: SIGINT to the whole foreground process group (hubctl and psql)
    const p = spawn(process.execPath, [HUBCTL, 'psql', 'notes', '-c', 'select pg_sleep(30)'], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let stderr = '';
    p.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => p.on('exit', (code, signal) => resolve({ code, signal })));
    try {
      await waitFor(async () => (await query(db.url, "SELECT count(*)::int AS n FROM pg_stat_activity WHERE query = 'select pg_sleep(30)' AND state = 'active'")).rows[0].n === 1, { what: 'the query running' });
      process.kill(-p.pid!, 'SIGINT');
      const end = await exited;
      expect(end).toEqual({ code: 1, signal: null });
      expect(stderr).toContain('canceling statement due to user request');
    } finally {
      try { process.kill(-p.pid!, 'SIGKILL'); } catch { /* gone */ }
    }
  });

  it('psql --admin is the privileged login', async () => {
    const run = await hubctl(['psql', '--admin', '-At', '-c', 'select current_user'], env);
    expect(run.code).toBe(0);
    expect(run.stdout.trim()).toBe('postgres');
  });

  it('names what is wrong: an unknown module, psql missing', async () => {
    const none = await hubctl(['db-url', 'nosuch'], env);
    expect(none.code).toBe(5);
    expect(none.stderr).toMatch(/^hubctl: no runtime role for module nosuch in database hubtest_\w+: .*use --admin\n$/);
    const noPsql = await hubctl(['psql', 'notes', '-c', 'select 1'], { ...env, PATH: '/nonexistent' });
    expect(noPsql.code).toBe(1);
    expect(noPsql.stderr).toMatch(/^hubctl: psql is not installed \(apt-get install postgresql-client\); connect another tool with: postgres:\/\/.*options=-c%20role%3Dh[0-9a-f]{8}_notes_rt/);
  });
});

describe('with the embedded database', () => {
  let k: RunningKernel;
  beforeAll(async () => {
    k = await startKernel({ modulesDir: modules(), embedded: true });
  }, 180_000);
  afterAll(() => stopAllKernels());

  it('finds port and password in HUB_DATA_DIR and opens psql as the module\'s role', async () => {
    const env = { HUB_DATA_DIR: k.dataDir, HUB_MODULES_DIR: k.modulesDir };
    const run = await hubctl(['psql', 'notes', '-At', '-c', 'select current_user, current_database()'], env);
    expect(run.stderr).toBe('');
    expect(run.stdout.trim()).toMatch(/^h[0-9a-f]{8}_notes_rt(_[0-9a-f]{6})?\|hub$/);
    const url = (await hubctl(['db-url', 'other'], env)).stdout.trim();
    expect(url).toMatch(/^postgres:\/\/postgres:[^@]+@127\.0\.0\.1:\d+\/hub\?options=/);
    expect((await query(url, 'SELECT secret FROM other_items')).rows[0].secret).toBe('not for notes');
    await expect(query(url, 'SELECT count(*) FROM notes_notes')).rejects.toMatchObject({ code: '42501' });
  });
});
