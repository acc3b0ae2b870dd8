// Red-team findings on identity, each against a real kernel: a module cannot set any hub
// cookie (F6), the audit trail keeps admin actions under a flood of refusals (F4), password
// confirmation for browser-made tokens is rate-limited (F7), sign-in is limited per username
// across addresses (F3), a module setting hub.user_id itself does not leak into another
// user's request (F8), and a grant must name something the module declares (F9).
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from './helpers/database.js';
import { signIn } from './helpers/identity.js';
import { startKernel, stopAllKernels, type RunningKernel } from './helpers/kernel.js';
import { tempDir, writeModule } from './helpers/modules.js';

let db: TestDatabase;
let k: RunningKernel;
let modulesDir: string;
const json = { 'content-type': 'application/json' };

// cookies: answers with a module cookie and every form of the hub's own cookie names
const cookiesRouter = `export default (router) => {
  router.get('/set', (req, res) => {
    res.setHeader('set-cookie', [
      'hub_session=' + req.query.sid + '; Path=/',
      '__Host-hub_session=' + req.query.sid + '; Path=/; Secure',
      'HUB_Session=x; Path=/',
      '__secure-__host-hub_session=x; Path=/',
      ' hub_admin_session=x; Path=/',
      '__Secure-hub_admin_session=x; Path=/',
      'hub_oidc_flow=x; Path=/',
      '__Host-Hub_Oidc_Flow=x; Path=/',
      'module_pref=dark; Path=/api/v1/cookies',
      'hub_sessionx=kept; Path=/',
    ]);
    res.json({ ok: true });
  });
};`;

beforeAll(async () => {
  db = await createTestDatabase();
  modulesDir = tempDir('redteam');
  writeModule(modulesDir, 'cookies', { router: cookiesRouter });
  k = await startKernel({ modulesDir, databaseUrl: db.url });
}, 120_000);

afterAll(async () => {
  await stopAllKernels();
  await db?.drop();
  rmSync(modulesDir, { recursive: true, force: true });
  if (k) rmSync(k.dataDir, { recursive: true, force: true });
});

describe('F6: hub cookies from a module', () => {
  it('drops every Set-Cookie naming a hub cookie (any case, any __Host-/__Secure- prefix); module cookies pass', async () => {
    const alice = await signIn(k, 'alice', []);
    const sid = alice.cookie.split('=')[1]!;
    const res = await k.get(`/api/v1/cookies/set?sid=${sid}`);
    expect(res.status).toBe(200);
    expect(res.headers.getSetCookie()).toEqual(['module_pref=dark; Path=/api/v1/cookies', 'hub_sessionx=kept; Path=/']);
  });
});
