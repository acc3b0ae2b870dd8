// Issue 15, checked by the independent pass (i15): a hostile module cannot give itself or
// anybody a grant, nor read credentials, through the database. The hub's identity tables
// (users, grants, sessions, tokens, audit, the revocation generation) share the database
// with the modules; this asserts the module's runtime role (ctx.db) and its migrations (its
// owner role) are refused on every one of them, and that no grant appeared.
import { rmSync } from 'node:fs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from './helpers/database.js';
import { signIn, type SignedIn } from './helpers/identity.js';
import { startKernel, stopAllKernels, type RunningKernel } from './helpers/kernel.js';
import { tempDir, writeModule } from './helpers/modules.js';
import { waitFor } from './helpers/wait.js';

let db: TestDatabase;
let k: RunningKernel;
let eve: SignedIn;
const dirs: string[] = [];

const attempts = [
  'SELECT token_hash FROM hub_api_tokens',
  'SELECT id_hash FROM hub_sessions',
  'SELECT password_hash FROM hub_users',
  "INSERT INTO hub_grants (user_id, grant_name, granted_by) SELECT id, 'hub.admin', 'grab' FROM hub_users",
  "UPDATE hub_users SET password_hash = 'x'",
  'DELETE FROM hub_audit',
  'UPDATE hub_identity_generation SET generation = generation + 1',
];
const grabRouter = `export default (router, ctx) => {
  router.get('/try', async (req, res) => {
    const out = [];
    for (const sql of ${JSON.stringify(attempts)}) {
      try { await ctx.db.query(sql); out.push('allowed: ' + sql); } catch (e) { out.push(e.code); }
    }
    res.json(out);
  });
};`;

beforeAll(async () => {
  db = await createTestDatabase();
  const modulesDir = tempDir('modules');
  dirs.push(modulesDir);
  writeModule(modulesDir, 'grab', { router: grabRouter });
  writeModule(modulesDir, 'grabmig', {
    router: `export default (router) => { router.get('/x', (req, res) => res.json({})); };`,
    files: { 'migrations/001_grab.sql': "INSERT INTO hub_grants (user_id, grant_name, granted_by) SELECT id, 'hub.admin', 'grabmig' FROM hub_users;\n" },
  });
  k = await startKernel({ modulesDir, databaseUrl: db.url });
  dirs.push(k.dataDir);
  eve = await signIn(k, 'eve', []);
}, 60_000);

afterAll(async () => {
  await stopAllKernels();
  await db?.drop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('identity tables against module SQL', () => {
  it('refuse the module runtime role (ctx.db): permission denied on every read and write', async () => {
    const r = await eve.get('/api/v1/grab/try');
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual(attempts.map(() => '42501'));
  });

  it('refuse a migration that grants hub.admin: the module is kept out and no grant appears', async () => {
    const rec = await waitFor(async () => {
      const m = (await (await k.admin('/api/v1/modules/grabmig')).json()) as { state: string; reason?: string | null };
      return m.state !== 'starting' && m.state !== 'migrating' ? m : undefined;
    }, { timeoutMs: 20_000, what: 'grabmig settled' });
    expect(rec.state).not.toBe('running');
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    try {
      const { rows } = await c.query("SELECT u.username, g.grant_name FROM hub_grants g JOIN hub_users u ON u.id = g.user_id ORDER BY 1, 2");
      expect(rows).toEqual([{ username: 'admin', grant_name: 'hub.admin' }]);
    } finally {
      await c.end();
    }
    const me = (await (await eve.get('/api/v1/auth/me')).json()) as { grants: string[] };
    expect(me.grants).toEqual([]);
  });
});
