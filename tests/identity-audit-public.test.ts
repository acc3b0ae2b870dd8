// Issue 15 item 7, checked by the independent pass (i15): "every admin action and every
// refused request is in an audit trail". The admin routes also answer on the public origin
// to the admin bearer (the README's `curl -X POST … :8000/api/v1/modules/notes/restart`), but
// only the admin origin was audited: a restart through port 8000 left no row, nor did a
// refused admin request there, nor a sign-in refused 429 by the throttle.
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from './helpers/database.js';
import { signIn } from './helpers/identity.js';
import { startKernel, stopAllKernels, type RunningKernel } from './helpers/kernel.js';
import { tempDir, writeModule } from './helpers/modules.js';
import { waitFor } from './helpers/wait.js';

let db: TestDatabase;
let k: RunningKernel;
const dirs: string[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  const modulesDir = tempDir('modules');
  dirs.push(modulesDir);
  writeModule(modulesDir, 'echo', { router: `export default (router) => { router.get('/x', (req, res) => res.json({ ok: true })); };` });
  k = await startKernel({ modulesDir, databaseUrl: db.url });
  dirs.push(k.dataDir);
}, 60_000);

afterAll(async () => {
  await stopAllKernels();
  await db?.drop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

interface Row { actor: string; action: string; target: string | null; result: string }
const audit = async (): Promise<Row[]> => (await (await k.admin('/api/v1/audit?limit=200')).json()) as Row[];

describe('audit trail on the public origin', () => {
  it('records an admin action made with the admin bearer on port 8000, and a refused one', async () => {
    const ok = await k.get('/api/v1/modules/echo/restart', { method: 'POST', headers: { authorization: `Bearer ${k.adminToken()}` } });
    expect(ok.status).toBe(200);
    const refused = await k.get('/api/v1/modules/echo/disable', { method: 'POST', headers: { authorization: 'Bearer not-the-token' } });
    expect(refused.status).toBe(401);
    await waitFor(async () => {
      const rows = await audit();
      return rows.some((r) => r.actor === 'admin-token' && r.action === 'public POST /api/v1/modules/echo/restart' && r.result === 'ok') &&
        rows.some((r) => r.actor.startsWith('anonymous@') && r.action === 'public POST /api/v1/modules/echo/disable' && r.result === 'refused') || undefined;
    }, { timeoutMs: 5000, what: 'public-origin admin action and refusal in /api/v1/audit' });
  });

  it('records sign-ins the throttle refuses (429), naming the username', async () => {
    await signIn(k, 'kim', []);
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) {
      const r = await k.get('/api/v1/auth/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'kim', password: `wrong-${i}-xxxx` }) });
      statuses.push(r.status);
    }
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429, 429]);
    await waitFor(async () => (await audit()).filter((r) => r.action === 'public POST /api/v1/auth/login' && r.result === 'rate_limited' && r.target === 'kim').length === 2 || undefined,
      { timeoutMs: 5000, what: 'two rate_limited sign-ins of kim in /api/v1/audit' });
    // the refusals the route records itself are not recorded twice
    expect((await audit()).filter((r) => r.action === 'auth.login' && r.result === 'refused').length).toBe(5);
    expect((await audit()).filter((r) => r.action === 'public POST /api/v1/auth/login' && r.result === 'refused').length).toBe(0);
  });
});
