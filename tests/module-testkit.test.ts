// The module test kit (bmc-hub/testing, shared/testing/): startModule runs a module in a real
// kernel for its own tests; every test here checks what a module author relies on, and that
// nothing it made outlives stop(), a failed start, or a test process that never called stop().
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { rolePrefixFor } from '../kernel/module-roles.js';
import { HUB_ROOT } from '../shared/paths.js';
import { startModule, startTimes, type RunningModule } from '../shared/testing/index.js';
import { ADMIN_URL, createTestDatabase } from './helpers/database.js';
import { tempDir, writeModule } from './helpers/modules.js';
import { pidAlive, waitFor } from './helpers/wait.js';

async function onServer<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: ADMIN_URL });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** The database's own leftovers on the server: the database itself and the module roles named for it. */
async function leftovers(database: string): Promise<string[]> {
  return onServer(async (c) => {
    const dbs = await c.query<{ datname: string }>('SELECT datname FROM pg_database WHERE datname = $1', [database]);
    const roles = await c.query<{ rolname: string }>('SELECT rolname FROM pg_roles WHERE starts_with(rolname, $1)', [rolePrefixFor(database)]);
    return [...dbs.rows.map((r) => `database ${r.datname}`), ...roles.rows.map((r) => `role ${r.rolname}`)];
  });
}

const dbName = (m: RunningModule) => new URL(m.databaseUrl!).pathname.slice(1);

// A module with a setting, a permission, a table, and a dependency with a table of its own.
const modulesDir = tempDir('testkit-modules');
writeModule(modulesDir, 'base', {
  files: { 'migrations/001_init.sql': 'CREATE TABLE base_secrets (v text);\nINSERT INTO base_secrets VALUES (\'hidden\');\n-- migrate:down\nDROP TABLE base_secrets;\n' },
  router: `export default (router) => { router.get('/ping', (req, res) => res.json({ ok: true })); };`,
  manifest: { public_routes: ['GET /api/v1/base/ping'] },
});
writeModule(modulesDir, 'greeter', {
  manifest: { dependencies: ['base'], permissions: { read: 'read greetings' }, roles: { viewer: ['read'] } },
  files: {
    'migrations/001_init.sql': 'CREATE TABLE greeter_items (id serial PRIMARY KEY, name text);\n-- migrate:down\nDROP TABLE greeter_items;\n',
    // what a vitest run rooted at the module leaves: must not hide the hub's packages from it
    'node_modules/.vite/vitest/results.json': '{}',
    'tests/greeter.test.ts': 'this is not code the kernel should see',
  },
  router: `import busboy from 'busboy';
  export default (router, ctx) => {
    router.get('/package', ctx.auth.require('read'), (req, res) => res.json({ busboy: typeof busboy }));
    router.get('/greeting', ctx.auth.require('read'), (req, res) => res.json({ greeting: ctx.config.get('GREETING', 'none'), user: req.user?.id ?? null }));
    router.get('/items', ctx.auth.require('read'), async (req, res) => res.json(await ctx.db.query('SELECT id, name FROM greeter_items ORDER BY id')));
  };`,
});
writeModule(modulesDir, 'extra', {
  router: `export default (router) => { router.get('/hello', (req, res) => res.json({ module: 'extra' })); };`,
  manifest: { public_routes: ['GET /api/v1/extra/hello'] },
});
writeModule(modulesDir, 'broken', {
  files: { 'migrations/001_init.sql': 'CREATE TABLE broken_x (;\n' },
  router: `export default () => {};`,
});

afterAll(() => {
  console.log(`startModule → module taking traffic, ms: ${startTimes.join(', ')}`);
});

describe('startModule', () => {
  it('runs the module and its dependency behind the real gateway; grants decide; the db handle acts as the module', async () => {
    const m = await startModule('greeter', { modulesDir, config: { GREETING: 'hello' }, with: ['extra'] });
    try {
      expect(m.name).toBe('greeter');
      expect(m.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect((await fetch(`${m.url}/health`)).status).toBe(200);
      // the declared dependency was staged and runs too, the module under test only with it
      expect(((await (await fetch(`${m.url}/api/v1/modules/base`)).json()) as { state: string }).state).toBe('running');
      expect((await fetch(`${m.url}/api/v1/base/ping`)).status).toBe(200);
      // `with` adds a module the test asks for; one nobody asked for is not there
      expect(await (await fetch(`${m.url}/api/v1/extra/hello`)).json()).toEqual({ module: 'extra' });
      expect((await fetch(`${m.url}/api/v1/modules/broken`)).status).toBe(404);

      const viewer = await m.signIn({ grants: ['greeter.viewer'] });
      const res = await m.api('/greeting', { headers: viewer.headers });
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ greeting: 'hello', user: viewer.id });
      expect((await viewer.fetch('/api/v1/greeter/greeting')).status).toBe(200);
      expect(await (await m.api('/package', { headers: viewer.headers })).json()).toEqual({ busboy: 'function' });
      expect(existsSync(join(m.tempDir, 'modules', 'greeter', 'tests'))).toBe(false);
      const nobody = await m.signIn({ grants: [] });
      expect((await m.api('/greeting', { headers: nobody.headers })).status).toBe(403);
      expect((await m.api('/greeting')).status).toBe(401);

      // m.db is the module's runtime role: its own table, not its dependency's
      const kernelId = readFileSync(join(m.tempDir, 'data', 'kernel-id'), 'utf8').trim();
      expect(await m.db.role()).toBe(`${rolePrefixFor(dbName(m))}greeter_rt_${kernelId}`);
      expect(await m.dbAsOwner.role()).toBe(`${rolePrefixFor(dbName(m))}greeter_own`);
      await m.dbAsOwner.query("INSERT INTO greeter_items (name) VALUES ('from a fixture')");
      expect(await (await m.api('/items', { headers: viewer.headers })).json()).toEqual([{ id: 1, name: 'from a fixture' }]);
      expect(await m.db.query('SELECT name FROM greeter_items')).toEqual([{ name: 'from a fixture' }]);
      await expect(m.db.query('SELECT v FROM base_secrets')).rejects.toThrow(/permission denied/);

      // the module's own log stream
      await waitFor(async () => (await m.logs()).length > 0, { what: 'a log entry of greeter' });
    } finally {
      await m.stop();
    }
  });

  it('setConfig restarts with the new settings on the same URL; users and rows stay; stop removes everything', async () => {
    const m = await startModule('greeter', { modulesDir });
    const viewer = await m.signIn({ grants: ['greeter.viewer'] });
    const database = dbName(m);
    const firstKernel = m.kernelPid();
    let childPid = 0;
    try {
      expect(await (await m.api('/greeting', { headers: viewer.headers })).json()).toMatchObject({ greeting: 'none' });
      await m.setConfig({ GREETING: 'changed' });
      expect(await (await m.api('/greeting', { headers: viewer.headers })).json()).toMatchObject({ greeting: 'changed', user: viewer.id });
      expect(pidAlive(firstKernel)).toBe(false);
      await m.setConfig({ GREETING: null });
      expect(await (await m.api('/greeting', { headers: viewer.headers })).json()).toMatchObject({ greeting: 'none' });
      childPid = (await m.record()).pid as number;
      expect(childPid).toBeGreaterThan(0);
    } finally {
      await m.stop();
    }
    expect(pidAlive(m.kernelPid())).toBe(false);
    await waitFor(() => !pidAlive(childPid), { what: `child ${childPid} to exit` });
    expect(existsSync(m.tempDir)).toBe(false);
    expect(await leftovers(database)).toEqual([]);
    await m.stop(); // idempotent
  });

  it('a module that fails to start is a clear error, and nothing of the attempt is left', async () => {
    const before = new Set(await onServer(async (c) => (await c.query<{ datname: string }>("SELECT datname FROM pg_database WHERE datname LIKE 'hubtest_%'")).rows.map((r) => r.datname)));
    const err = await startModule('broken', { modulesDir }).then(() => null, (e: Error) => e);
    expect(err?.message).toMatch(/module broken is failed: .*001_init\.sql/);
    // no database of ours is left (others' test databases may come and go meanwhile)
    const after = await onServer(async (c) => (await c.query<{ datname: string }>("SELECT datname FROM pg_database WHERE datname LIKE 'hubtest_%'")).rows.map((r) => r.datname));
    for (const d of after.filter((d) => !before.has(d))) expect(await leftovers(d).then((l) => l.filter((x) => x.includes('broken')))).toEqual([]);
  });

  it('runs on HUB_TEST_DATABASE_URL as given (as `hubctl test` passes it), again on the same database, and leaves it to its maker', async () => {
    const given = await createTestDatabase();
    process.env.HUB_TEST_DATABASE_URL = given.url;
    try {
      const first = await startModule('notes', { safety: { allowWrites: true } });
      expect(first.databaseUrl).toBe(given.url);
      const editor = await first.signIn({ grants: ['notes.editor'] });
      const made = await first.api('/notes', { method: 'POST', headers: { ...editor.headers, 'content-type': 'application/json' }, body: JSON.stringify({ title: 'kept' }) });
      expect(made.status).toBe(201);
      await first.stop();
      expect(await leftovers(given.name)).toContain(`database ${given.name}`);
      // a second kernel on the already migrated database: the row is still there
      const second = await startModule('notes');
      try {
        expect(await second.db.query('SELECT title FROM notes_notes')).toEqual([{ title: 'kept' }]);
      } finally {
        await second.stop();
      }
      expect(await leftovers(given.name)).toContain(`database ${given.name}`);
    } finally {
      delete process.env.HUB_TEST_DATABASE_URL;
      await given.drop();
    }
  });

  it('names a missing module folder and a missing build in one line', async () => {
    await expect(startModule('nosuch', { modulesDir })).rejects.toThrow(/no module folder .*nosuch.*pass modulesDir/);
  });

  // 'exit': the process ends normally (its exit hook cleans up); SIGKILL: no hook runs, as when
  // a test runner ends its worker or the machine kills it: the detached reaper cleans up
  it.each(['exit', 'SIGKILL'] as const)('a test process that never calls stop() leaves no kernel, child, folder or database behind (%s)', async (how) => {
    const script = `
      import { startModule } from ${JSON.stringify(join(HUB_ROOT, 'dist/shared/testing/index.js'))};
      const m = await startModule('notes');
      const rec = await m.record();
      console.log(JSON.stringify({ db: new URL(m.databaseUrl).pathname.slice(1), temp: m.tempDir, kernel: m.kernelPid(), child: rec.pid }));
      if (${JSON.stringify(how)} === 'exit') process.exit(0);
      setInterval(() => {}, 1000);`;
    const proc = spawn(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, DATABASE_URL: ADMIN_URL, HUB_TEST_DATABASE_URL: '' }, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    proc.stdout.on('data', (c: Buffer) => (out += c.toString()));
    const exited = new Promise<number | null>((r) => proc.once('exit', r));
    const line = await waitFor(() => out.split('\n').find((l) => l.startsWith('{"db"')), { timeoutMs: 60_000, what: 'the script to start notes' });
    if (how === 'SIGKILL') proc.kill('SIGKILL');
    await exited;
    const seen = JSON.parse(line) as { db: string; temp: string; kernel: number; child: number };
    expect(seen.child).toBeGreaterThan(0);
    await waitFor(() => !pidAlive(seen.kernel), { timeoutMs: 15_000, what: `kernel ${seen.kernel} to be gone` });
    await waitFor(() => !existsSync(seen.temp), { timeoutMs: 15_000, what: `${seen.temp} to be removed` });
    await waitFor(async () => (await leftovers(seen.db)).length === 0, { timeoutMs: 15_000, what: `database ${seen.db} and its roles to be dropped` });
    await waitFor(() => !pidAlive(seen.child), { timeoutMs: 15_000, what: `orphaned child ${seen.child} to exit` });
  });
});
