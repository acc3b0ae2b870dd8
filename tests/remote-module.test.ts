// A module served by `hubctl serve-module` in its own process (as in its own container)
// and used by a kernel as a remote module: migrated by the kernel, proxied, health-checked,
// marked unreachable when it dies and running again when it comes back. It answers only
// requests carrying the kernel secret configured on both sides (MODULES__FARAWAY__SECRET).
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { HUB_ROOT } from '../shared/paths.js';
import { createTestDatabase, type TestDatabase } from './helpers/database.js';
import { startKernel, stopAllKernels, type RunningKernel } from './helpers/kernel.js';
import { tempDir, writeModule } from './helpers/modules.js';
import { waitFor } from './helpers/wait.js';
import { freePort } from './helpers/ports.js';

let db: TestDatabase;
let k: RunningKernel;
let modulesDir: string;
let port: number;
let runner: ChildProcess | null = null;
const SECRET = 'remote-secret-5d1c';

function serveModule(): ChildProcess {
  const proc = spawn(process.execPath, [join(HUB_ROOT, 'dist/cli/hubctl.js'), 'serve-module', 'faraway', '--port', String(port)], {
    env: {
      PATH: process.env.PATH,
      HUB_MODULES_DIR: modulesDir,
      HUB_DATA_DIR: tempDir('remote-data'),
      MODULES__FARAWAY__DATABASE_URL: db.url,
      MODULES__FARAWAY__GREETING: 'hello from afar',
      MODULES__FARAWAY__SECRET: SECRET,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return proc;
}

beforeAll(async () => {
  db = await createTestDatabase();
  modulesDir = tempDir('modules');
  port = await freePort();
  writeModule(modulesDir, 'faraway', {
    manifest: { table_prefix: 'far_' },
    router: `export default (router, ctx) => {
  router.get('/hello', async (req, res) => res.json({ greeting: ctx.config.get('GREETING'), pid: process.pid, rows: await ctx.db.query('SELECT count(*)::int AS n FROM far_things') }));
};`,
    files: { 'migrations/001_init.sql': 'CREATE TABLE far_things (id serial primary key);\n' },
  });
  writeModule(modulesDir, 'local', { router: `export default (router) => router.get('/hello', (req, res) => res.json({ ok: true }));` });
  runner = serveModule();
  k = await startKernel({
    modulesDir,
    databaseUrl: db.url,
    env: { MODULES__FARAWAY__URL: `http://127.0.0.1:${port}`, HUB_REMOTE_CHECK_MS: '300', MODULES__FARAWAY__SECRET: SECRET },
  });
});

afterAll(async () => {
  runner?.kill('SIGKILL');
  await stopAllKernels();
  await db.drop();
});

describe('remote module', () => {
  it('is migrated by the kernel, proxied, and shown as remote with no pid of ours', async () => {
    const rec = await k.waitForState('faraway', 'running');
    expect(rec).toMatchObject({ remote: true, pid: null, api_prefix: '/api/v1/faraway' });
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    expect((await c.query("SELECT to_regclass('public.far_things') AS t")).rows[0].t).toBe('far_things');
    await c.end();
    const body = await k.json('/api/v1/faraway/hello');
    expect(body).toMatchObject({ greeting: 'hello from afar', rows: [{ n: 0 }] });
    expect(body.pid).toBe(runner!.pid);
    // its memory is scraped from the runner and shows in the record and /metrics
    const withStats = await waitFor(async () => {
      const r = await k.record('faraway');
      return r.memory_rss_bytes > 0 ? r : undefined;
    }, { what: 'remote stats' });
    expect(withStats.memory_rss_bytes).toBeGreaterThan(10 * 1024 * 1024);
    expect(await (await k.admin('/metrics')).text()).toMatch(/hub_module_memory_rss_bytes\{module="faraway"\} \d+/);
  });

  it('answers 403 to anyone but its kernel, on every route, and never shows module code the secret', async () => {
    await k.waitForState('faraway', 'running');
    for (const path of ['/api/v1/faraway/hello', '/api/v1/faraway/health', '/_hub/stats', '/_hub/openapi.json']) {
      const direct = await fetch(`http://127.0.0.1:${port}${path}`);
      expect(direct.status, path).toBe(403);
      expect(await direct.json()).toMatchObject({ error: 'forbidden' });
      const wrong = await fetch(`http://127.0.0.1:${port}${path}`, { headers: { 'x-hub-secret': 'guess' } });
      expect(wrong.status, path).toBe(403);
    }
    // a client's copy of the header is replaced by the kernel's, so a wrong one does no harm
    expect((await k.get('/api/v1/faraway/hello', { headers: { 'x-hub-secret': 'guess' } })).status).toBe(200);
  });

  it('refuses to start without a secret', async () => {
    const lonely = spawn(process.execPath, [join(HUB_ROOT, 'dist/cli/hubctl.js'), 'serve-module', 'faraway', '--port', String(await freePort())], {
      env: { PATH: process.env.PATH, HUB_MODULES_DIR: modulesDir, HUB_DATA_DIR: tempDir('remote-data') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    lonely.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((resolve) => lonely.once('exit', resolve));
    expect(code).not.toBe(0);
    expect(err).toMatch(/MODULES__FARAWAY__SECRET/);
  });

  it('is marked unreachable when its process dies, answering 503 with Retry-After', async () => {
    runner!.kill('SIGKILL');
    const rec = await k.waitForState('faraway', 'unreachable');
    expect(rec.last_error).toMatch(/unreachable/);
    const res = await k.get('/api/v1/faraway/hello');
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBeTruthy();
    expect((await k.json('/health')).status).toBe('degraded');
    expect((await k.get('/api/v1/local/hello')).status).toBe(200);
  });

  it('is running again once the process is back', async () => {
    runner = serveModule();
    await k.waitForState('faraway', 'running');
    await waitFor(async () => (await k.get('/api/v1/faraway/hello')).status === 200, { what: 'proxying again' });
    expect((await k.json('/api/v1/faraway/hello')).pid).toBe(runner.pid);
  });

  it('drains and exits 0 on SIGTERM', async () => {
    const exited = new Promise<number | null>((resolve) => runner!.once('exit', (code) => resolve(code)));
    runner!.kill('SIGTERM');
    expect(await exited).toBe(0);
    runner = null;
  });
});
