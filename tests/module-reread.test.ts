// Who keeps a prefix, and re-reading module.json on enable/restart.
// 1. Red team: with MODULES_AUTO_RELOAD=true, editing one module's api_prefix onto another
//    module's (equal or nested) must not take it over: the holder keeps serving, the edited
//    module is refused (its own reload_error, one log line naming the prefix and its owner),
//    and restoring the edit clears the refusal. A new folder claiming a held prefix is refused too.
// 2. `hubctl enable|restart <name>` re-read the module's folder first (auto reload off):
//    a fixed manifest enables, a new public route is public after a restart, and a manifest
//    that is now broken answers with the error while the old child keeps serving.
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from './helpers/database.js';
import { startKernel, stopAllKernels, type RunningKernel } from './helpers/kernel.js';
import { tempDir, writeModule } from './helpers/modules.js';
import { staysTrue, waitFor } from './helpers/wait.js';

let db: TestDatabase;
const dirs: string[] = [];

const whoRouter = `export default (router, ctx) => {
  router.get('/who', (req, res) => res.json({ module: ctx.name }));
  router.get('/open/who', (req, res) => res.json({ module: ctx.name }));
};`;

function save(path: string, content: string): void {
  writeFileSync(`${path}.swp-new`, content);
  renameSync(`${path}.swp-new`, path);
}

function editManifest(modulesDir: string, name: string, change: (m: Record<string, unknown>) => void): void {
  const file = join(modulesDir, name, 'module.json');
  const m = JSON.parse(readFileSync(file, 'utf8'));
  change(m);
  save(file, JSON.stringify(m, null, 2));
}

/** The module answering a path, or the status when none does. */
async function answerer(k: RunningKernel, path: string): Promise<string | number> {
  const res = await k.get(path);
  if (res.status !== 200) {
    await res.arrayBuffer();
    return res.status;
  }
  return ((await res.json()) as any).module;
}

beforeAll(async () => {
  db = await createTestDatabase();
});

afterAll(async () => {
  await stopAllKernels();
  await db.drop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('a prefix stays with the module that holds it (hot reload)', () => {
  let k: RunningKernel;
  let modulesDir: string;
  const publicWho = (name: string) => ({ public_routes: [`GET /api/v1/${name}/who`, `GET /api/v1/${name}/open/who`] });

  beforeAll(async () => {
    modulesDir = tempDir('modules');
    dirs.push(modulesDir);
    writeModule(modulesDir, 'lure', { router: whoRouter, manifest: publicWho('lure') });
    writeModule(modulesDir, 'notes2', { router: whoRouter, manifest: publicWho('notes2') });
    k = await startKernel({ modulesDir, databaseUrl: db.url, env: { MODULES_AUTO_RELOAD: 'true' } });
    dirs.push(k.dataDir);
    await k.waitForState('lure', 'running');
    await k.waitForState('notes2', 'running');
  });

  for (const claimed of ['/api/v1/notes2', '/api/v1/notes2/open']) {
    it(`refuses lure's edit onto ${claimed}: notes2 keeps serving, lure carries the refusal`, async () => {
      const before = k.lines.length;
      editManifest(modulesDir, 'lure', (m) => {
        m.api_prefix = claimed;
        m.public_routes = [`GET ${claimed}/who`];
      });
      const rec = await waitFor(async () => {
        const r = await k.record('lure');
        return r.reload_error ? r : null;
      }, { what: 'the refusal on lure' });
      expect(rec.state).toBe('running');
      expect(rec.reload_error).toMatch(/Rejected the edit of modules\/lure\/module\.json/);
      expect(rec.reload_error).toContain(claimed);
      expect(rec.reload_error).toMatch(/module notes2 holds/);
      const notes2 = await k.record('notes2');
      expect(notes2.reload_error ?? null).toBeNull();
      expect(notes2.state).toBe('running');
      // the holder answers on its whole prefix, the edited module still on its own
      await staysTrue(async () => (await answerer(k, '/api/v1/notes2/who')) === 'notes2' && (await answerer(k, '/api/v1/notes2/open/who')) === 'notes2', { ms: 1500, what: 'notes2 serving its prefix' });
      expect(await answerer(k, '/api/v1/lure/who')).toBe('lure');
      const fresh = k.lines.slice(before).join('\n');
      expect(fresh).not.toMatch(/modules\/notes2\/module\.json/);
      expect(fresh.match(/Rejected the edit of modules\/lure/g)?.length).toBe(1);

      editManifest(modulesDir, 'lure', (m) => {
        m.api_prefix = '/api/v1/lure';
        m.public_routes = publicWho('lure').public_routes;
      });
      await waitFor(async () => (await k.record('lure')).reload_error === null, { what: 'the refusal cleared' });
      expect(await answerer(k, '/api/v1/notes2/who')).toBe('notes2');
      expect(await answerer(k, '/api/v1/lure/who')).toBe('lure');
    });
  }

  it('refuses a new module folder on a held table_prefix or api_prefix, naming the owner', async () => {
    writeModule(modulesDir, 'squat', { router: whoRouter, manifest: { table_prefix: 'notes2_', ...publicWho('squat') } });
    const rec = await waitFor(async () => {
      const r = await k.record('squat').catch(() => null);
      return r?.state === 'failed' ? r : null;
    }, { what: 'squat refused' });
    expect(rec.last_error).toMatch(/table_prefix.*notes2_.*module notes2 holds/);
    expect((await k.record('notes2')).state).toBe('running');
    editManifest(modulesDir, 'squat', (m) => {
      m.table_prefix = 'squat_';
      m.api_prefix = '/api/v1/notes2';
      m.public_routes = ['GET /api/v1/notes2/who'];
    });
    await waitFor(async () => /api_prefix.*\/api\/v1\/notes2.*module notes2 holds/.test((await k.record('squat')).last_error ?? ''), { what: 'squat refused on the api prefix' });
    expect(await answerer(k, '/api/v1/notes2/who')).toBe('notes2');
    editManifest(modulesDir, 'squat', (m) => {
      m.api_prefix = '/api/v1/squat';
      m.public_routes = ['GET /api/v1/squat/who'];
    });
    await waitFor(async () => (await answerer(k, '/api/v1/squat/who')) === 'squat', { what: 'squat running on its own prefix' });
    expect(await answerer(k, '/api/v1/notes2/who')).toBe('notes2');
  });
});

describe('enable and restart re-read module.json (auto reload off)', () => {
  let k: RunningKernel;
  let modulesDir: string;

  beforeAll(async () => {
    modulesDir = tempDir('modules');
    dirs.push(modulesDir);
    writeModule(modulesDir, 'fixme', { router: whoRouter, manifest: { api_prefix: 'not-a-path' } });
    writeModule(modulesDir, 'pub', { router: whoRouter, manifest: { permissions: { read: 'read things' } } });
    k = await startKernel({ modulesDir, databaseUrl: db.url });
    dirs.push(k.dataDir);
    await k.waitForState('pub', 'running');
    await k.waitForState('fixme', 'failed');
  });

  it('enable after fixing a broken manifest runs the module', async () => {
    expect((await k.record('fixme')).last_error).toMatch(/api_prefix/);
    editManifest(modulesDir, 'fixme', (m) => (m.api_prefix = '/api/v1/fixme'));
    const res = await k.admin('/api/v1/modules/fixme/enable', { method: 'POST' });
    const body = (await res.json()) as any;
    expect(res.status, JSON.stringify(body)).toBe(200);
    expect(body.state).toBe('running');
    expect(body.last_error ?? null).toBeNull();
  });

  it('restart after adding a public route makes it public without signing in', async () => {
    expect((await k.get('/api/v1/pub/who')).status).toBe(401);
    editManifest(modulesDir, 'pub', (m) => (m.public_routes = ['GET /api/v1/pub/who']));
    const res = await k.admin('/api/v1/modules/pub/restart', { method: 'POST' });
    expect([200, 202]).toContain(res.status);
    await res.arrayBuffer();
    await waitFor(async () => (await answerer(k, '/api/v1/pub/who')) === 'pub', { what: 'the public route open' });
  });

  it('restart with a manifest broken since answers with the error, and the old child keeps serving', async () => {
    const pid = (await k.record('pub')).pid;
    editManifest(modulesDir, 'pub', (m) => (m.table_prefix = 'Bad'));
    const res = await k.admin('/api/v1/modules/pub/restart', { method: 'POST' });
    const body = (await res.json()) as any;
    expect(res.status).toBe(422);
    expect(body.message).toMatch(/table_prefix/);
    const rec = await k.record('pub');
    expect(rec.state).toBe('running');
    expect(rec.pid).toBe(pid);
    expect(rec.reload_error).toMatch(/table_prefix/);
    expect(await answerer(k, '/api/v1/pub/who')).toBe('pub');
    editManifest(modulesDir, 'pub', (m) => (m.table_prefix = 'pub_'));
    const again = await k.admin('/api/v1/modules/pub/restart', { method: 'POST' });
    expect([200, 202]).toContain(again.status);
    await again.arrayBuffer();
    expect((await k.record('pub')).reload_error).toBeNull();
  });
});
