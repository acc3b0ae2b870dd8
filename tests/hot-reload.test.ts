// MODULES_AUTO_RELOAD=true: saving a module's code, editing its module.json or dropping a
// folder in takes effect live, while requests keep succeeding.
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from './helpers/database.js';
import { startKernel, stopAllKernels, type RunningKernel } from './helpers/kernel.js';
import { helloRouter, manifestFor, tempDir, writeModule } from './helpers/modules.js';
import { waitFor } from './helpers/wait.js';

let k: RunningKernel;
let modulesDir: string;
let db: TestDatabase;

const versioned = (v: number) => `export default (router) => { router.get('/v', (req, res) => res.json({ v: ${v}, pid: process.pid })); };`;

/** Writes a file the way editors do: a temp file renamed over the original. */
function save(path: string, content: string): void {
  writeFileSync(`${path}.swp-new`, content);
  renameSync(`${path}.swp-new`, path);
}

function editManifest(name: string, change: (m: Record<string, unknown>) => void): void {
  const file = join(modulesDir, name, 'module.json');
  const m = JSON.parse(readFileSync(file, 'utf8'));
  change(m);
  save(file, JSON.stringify(m, null, 2));
}

beforeAll(async () => {
  modulesDir = tempDir('modules');
  writeModule(modulesDir, 'live', { router: versioned(1) });
  writeModule(modulesDir, 'flip', { router: helloRouter });
  db = await createTestDatabase();
  k = await startKernel({ modulesDir, databaseUrl: db.url, env: { MODULES_AUTO_RELOAD: 'true' } });
});

afterAll(async () => {
  await stopAllKernels();
  await db.drop();
});

/** Requests in a loop until stopped; counts anything but 200. */
function steadyStream(path: string) {
  let stop = false;
  const failures: number[] = [];
  let ok = 0;
  const loops = [0, 1, 2].map(async () => {
    while (!stop) {
      const res = await k.get(path);
      await res.arrayBuffer();
      if (res.status === 200) ok++;
      else failures.push(res.status);
    }
  });
  return {
    async end() {
      stop = true;
      await Promise.all(loops);
      return { ok, failures };
    },
  };
}

describe('hot reload', () => {
  it('serves new code after a save, with zero failed requests during the reload', async () => {
    const stream = steadyStream('/api/v1/live/v');
    for (const v of [2, 3, 4]) {
      save(join(modulesDir, 'live', 'backend', 'router.js'), versioned(v));
      await waitFor(async () => (await k.json('/api/v1/live/v')).v === v, { what: `version ${v} answering` });
    }
    const { ok, failures } = await stream.end();
    expect(failures).toEqual([]);
    expect(ok).toBeGreaterThan(20);
    expect(k.lines.join('\n')).toMatch(/Reloaded module live \(code changed\)/);
  });

  it('keeps the old code serving when an edit breaks the router', async () => {
    save(join(modulesDir, 'live', 'backend', 'router.js'), 'export default (router) => { this is not javascript');
    await k.waitForLog(/Reload of live failed, the running version keeps serving/);
    expect((await k.json('/api/v1/live/v')).v).toBe(4);
    expect((await k.record('live')).state).toBe('running');
    save(join(modulesDir, 'live', 'backend', 'router.js'), versioned(5));
    await waitFor(async () => (await k.json('/api/v1/live/v')).v === 5, { what: 'version 5 after the fix' });
  });

  it('applies a new migration file before the reloaded code takes traffic', async () => {
    // one save with both: the new code reads a table that only the new migration creates
    mkdirSync(join(modulesDir, 'live', 'migrations'), { recursive: true });
    writeFileSync(join(modulesDir, 'live', 'migrations', '001_extra.sql'), "CREATE TABLE live_extra (n int);\nINSERT INTO live_extra VALUES (42);\n");
    save(
      join(modulesDir, 'live', 'backend', 'router.js'),
      `export default (router, ctx) => { router.get('/v', async (req, res) => res.json({ v: 6, extra: (await ctx.db.one('SELECT n FROM live_extra')).n })); };`,
    );
    const body = await waitFor(async () => {
      const r = await k.json('/api/v1/live/v');
      return r.v === 6 ? r : undefined;
    }, { what: 'version 6 answering' });
    expect(body.extra).toBe(42);
  });

  it('applies "enabled" flips in module.json without a kernel restart', async () => {
    editManifest('flip', (m) => (m.enabled = false));
    await k.waitForState('flip', 'disabled');
    expect((await k.get('/api/v1/flip/hello')).status).toBe(503);
    editManifest('flip', (m) => (m.enabled = true));
    await k.waitForState('flip', 'running');
    expect((await k.get('/api/v1/flip/hello')).status).toBe(200);
  });

  it('rejects an invalid manifest edit and keeps the module as it was', async () => {
    save(join(modulesDir, 'flip', 'module.json'), '{ "name": "flip", "version": ');
    await k.waitForLog(/Rejected the edit of modules\/flip\/module.json/);
    expect((await k.record('flip')).state).toBe('running');
    expect((await k.get('/api/v1/flip/hello')).status).toBe(200);
    save(join(modulesDir, 'flip', 'module.json'), JSON.stringify(manifestFor('flip'), null, 2));
  });

  it('moves a module to a new api_prefix', async () => {
    editManifest('flip', (m) => (m.api_prefix = '/api/v2/flipped'));
    await waitFor(async () => (await k.get('/api/v2/flipped/hello')).status === 200, { what: 'the new prefix answering' });
    expect((await k.get('/api/v1/flip/hello')).status).toBe(404);
    expect((await k.record('flip')).api_prefix).toBe('/api/v2/flipped');
  });

  it('discovers a new module folder and stops a removed one', async () => {
    const dir = join(modulesDir, 'newcomer');
    mkdirSync(join(dir, 'backend'), { recursive: true });
    writeFileSync(join(dir, 'backend', 'router.js'), helloRouter);
    writeFileSync(join(dir, 'module.json'), JSON.stringify(manifestFor('newcomer'), null, 2));
    const rec = await k.waitForState('newcomer', 'running');
    expect((await k.get('/api/v1/newcomer/hello')).status).toBe(200);
    rmSync(dir, { recursive: true });
    await waitFor(async () => (await k.get('/api/v1/modules/newcomer')).status === 404, { what: 'newcomer to be gone' });
    await waitFor(() => {
      try {
        process.kill(rec.pid, 0);
        return false;
      } catch {
        return true;
      }
    }, { what: 'its child to exit' });
  });
});
