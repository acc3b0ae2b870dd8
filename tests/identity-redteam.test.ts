// Red-team findings on identity, each against a real kernel: a module cannot set any hub
// cookie (F6), the audit trail keeps admin actions under a flood of refusals (F4), password
// confirmation for browser-made tokens is rate-limited (F7), sign-in is limited per username
// across addresses (F3), a module setting hub.user_id itself does not leak into another
// user's request (F8), and a grant must name something the module declares (F9).
import { rmSync } from 'node:fs';
import { request } from 'node:http';
import pg from 'pg';
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

// leaky: a table private to each row's owner by row-level security on hub.user_id, and a route
// whose code sets hub.user_id itself on every pooled connection (5, the pool's size)
const leakyMigration = `CREATE TABLE leaky_items (
  id SERIAL PRIMARY KEY,
  owner_id bigint DEFAULT nullif(current_setting('hub.user_id', true), '')::bigint,
  title text NOT NULL
);
ALTER TABLE leaky_items ENABLE ROW LEVEL SECURITY;
ALTER TABLE leaky_items FORCE ROW LEVEL SECURITY;
CREATE POLICY leaky_own ON leaky_items
  USING (owner_id = nullif(current_setting('hub.user_id', true), '')::bigint)
  WITH CHECK (owner_id = nullif(current_setting('hub.user_id', true), '')::bigint);

-- migrate:down
DROP TABLE leaky_items;
`;
const leakyRouter = `export default (router, ctx) => {
  router.post('/items', async (req, res) => {
    await ctx.db.query('INSERT INTO leaky_items (title) VALUES ($1)', [String(req.query.title)]);
    res.status(201).json({ ok: true });
  });
  router.get('/items', async (req, res) => res.json((await ctx.db.query('SELECT title FROM leaky_items ORDER BY id')).map((r) => r.title)));
  router.get('/hijack', async (req, res) => {
    await Promise.all(Array.from({ length: 5 }, () => ctx.db.query("SELECT set_config('hub.user_id', $1, false), pg_sleep(0.1)", [String(req.query.as)])));
    res.json({ ok: true });
  });
};`;

beforeAll(async () => {
  db = await createTestDatabase();
  modulesDir = tempDir('redteam');
  writeModule(modulesDir, 'cookies', { router: cookiesRouter });
  writeModule(modulesDir, 'leaky', {
    router: leakyRouter,
    files: { 'migrations/001_init.sql': leakyMigration },
  });
  writeModule(modulesDir, 'walled', {
    manifest: { permissions: { read: 'read' }, roles: { reader: ['read'] } },
    router: `export default (router) => { router.get('/x', (req, res) => res.json({ ok: true })); };`,
  });
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

/** Rows of hub_audit matching `where` (read straight from the table: the flood makes the list long). */
async function auditRows(where: string, params: unknown[]): Promise<Record<string, unknown>[]> {
  const c = new pg.Client({ connectionString: db.url });
  await c.connect();
  try {
    return (await c.query(`SELECT actor, action, target, result FROM hub_audit WHERE ${where}`, params)).rows;
  } finally {
    await c.end();
  }
}

describe('F4: the audit trail under a flood of refusals', () => {
  it('keeps an admin grant and a token creation made during 6000+ refused requests', async () => {
    const dora = await signIn(k, 'dora', []);
    let refused = 0;
    let stop = false;
    const flood = async () => {
      while (!stop || refused < 6000) {
        const r = await k.get('/api/v1/walled/x');
        await r.arrayBuffer();
        if (r.status === 401) refused++;
        else throw new Error(`expected 401, got ${r.status}`);
      }
    };
    const floods = Array.from({ length: 24 }, flood);
    // the two events happen in the middle of the flood
    while (refused < 2000) await new Promise((r) => setTimeout(r, 20));
    const grant = await k.admin('/api/v1/users/dora/grants', { method: 'POST', headers: json, body: JSON.stringify({ grant: 'walled.reader' }) });
    expect(grant.status).toBe(201);
    const token = await dora.get('/api/v1/auth/tokens', { method: 'POST', headers: json, body: JSON.stringify({ name: 'during-flood', expires_in_days: 1, password: dora.password }) });
    expect(token.status).toBe(201);
    stop = true;
    await Promise.all(floods);
    expect(refused).toBeGreaterThanOrEqual(6000);
    await k.admin('/api/v1/audit?limit=1'); // flushes what is queued
    expect(await auditRows("action = 'admin POST /api/v1/users/dora/grants'", [])).toEqual([{ actor: 'admin-token', action: 'admin POST /api/v1/users/dora/grants', target: '', result: 'ok' }]);
    expect(await auditRows("action = 'token.create' AND target = 'during-flood'", [])).toEqual([{ actor: 'dora', action: 'token.create', target: 'during-flood', result: 'ok' }]);
    // the refusals themselves were capped and summarised
    expect((await auditRows("action = 'audit.overflow'", [])).length).toBeGreaterThan(0);
  }, 120_000);
});

describe('F7: password confirmation for a browser-made token', () => {
  it('is throttled like sign-in: 40 wrong passwords, then the right one is 429 rate_limited; failures are audited', async () => {
    const erin = await signIn(k, 'erin', []);
    const attempt = (password: string) => erin.get('/api/v1/auth/tokens', {
      method: 'POST', headers: { ...json, 'sec-fetch-site': 'same-origin' }, body: JSON.stringify({ name: 'from-page', expires_in_days: 1, password }),
    });
    const statuses: number[] = [];
    for (let i = 0; i < 40; i++) statuses.push((await attempt(`wrong-${i}`)).status);
    expect(statuses.slice(0, 5)).toEqual([403, 403, 403, 403, 403]);
    expect(statuses.slice(5).every((s) => s === 429)).toBe(true);
    const right = await attempt(erin.password);
    expect(right.status).toBe(429);
    expect(((await right.json()) as any).error).toBe('rate_limited');
    expect(right.headers.get('retry-after')).toMatch(/^\d+$/);
    await k.admin('/api/v1/audit?limit=1');
    expect((await auditRows("actor = 'erin' AND action = 'token.create' AND result = 'refused'", [])).length).toBe(5);
  });
});

/** POST /api/v1/auth/login from a chosen loopback source address. */
function loginFrom(localAddress: string, username: string, password: string): Promise<{ status: number; retryAfter: string | undefined }> {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify({ username, password });
    const req = request({ host: '127.0.0.1', port: k.port, path: '/api/v1/auth/login', method: 'POST', localAddress, headers: { ...json, 'content-length': Buffer.byteLength(body) } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode!, retryAfter: res.headers['retry-after'] as string | undefined }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('F3: sign-in guesses from many addresses', () => {
  it('counts 200 loopback addresses as one client: of 1000 guesses at one name only 5 are checked, the rest 429 with Retry-After', async () => {
    const fred = await signIn(k, 'fred', []);
    const statuses = new Map<number, number>();
    let retryAfter: string | undefined;
    for (let i = 0; i < 1000; i++) {
      const r = await loginFrom(`127.0.0.${2 + (i % 200)}`, 'fred', `guess-${i}`);
      statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
      if (r.status === 429) retryAfter = r.retryAfter;
    }
    expect(Object.fromEntries(statuses)).toEqual({ 401: 5, 429: 995 });
    expect(Number(retryAfter)).toBeGreaterThan(0);
    expect(Number(retryAfter)).toBeLessThanOrEqual(15 * 60);
    // the right password from yet another loopback address is refused too, unchecked
    expect((await loginFrom('127.0.0.250', 'fred', fred.password)).status).toBe(429);
  }, 120_000);
});

describe('F8: hub.user_id set by module code', () => {
  it('does not leak into the next request of another user (nor of nobody): set on every checkout, reset on release', async () => {
    const gina = await signIn(k, 'gina', []);
    const hank = await signIn(k, 'hank', []);
    expect((await gina.get('/api/v1/leaky/items?title=gina-secret', { method: 'POST' })).status).toBe(201);
    expect((await hank.get('/api/v1/leaky/items?title=hank-own', { method: 'POST' })).status).toBe(201);
    expect(await (await gina.get('/api/v1/leaky/items')).json()).toEqual(['gina-secret']);
    for (const before of [hank, null]) {
      // module code, in a request of hank (or of nobody), points every pooled connection at gina
      const hijack = await (before ? before.get(`/api/v1/leaky/hijack?as=${gina.id}`) : k.get(`/api/v1/leaky/hijack?as=${gina.id}`));
      expect(hijack.status).toBe(200);
      // hank's next requests (each query on some pooled connection) see only hank's rows
      for (let i = 0; i < 10; i++) expect(await (await hank.get('/api/v1/leaky/items')).json()).toEqual(['hank-own']);
      const anon = await k.get('/api/v1/leaky/items');
      expect(await anon.json()).toEqual([]);
    }
  });
});

describe('F9: grants of undeclared roles and permissions', () => {
  it('answers 400 naming the module\'s declared roles and permissions; an unknown module is 400 too; hub.admin is fine', async () => {
    await signIn(k, 'ivan', []);
    const grant = (g: string) => k.admin('/api/v1/users/ivan/grants', { method: 'POST', headers: json, body: JSON.stringify({ grant: g }) });
    const bad = await grant('walled.constructor');
    expect(bad.status).toBe(400);
    const body = (await bad.json()) as any;
    expect(body.error).toBe('bad_request');
    expect(body.message).toContain('walled');
    expect(body.message).toContain('reader');
    expect(body.message).toContain('read');
    expect(body.details).toMatchObject({ module: 'walled', roles: ['reader'], permissions: ['read'] });
    const unknown = await grant('nosuch.reader');
    expect(unknown.status).toBe(400);
    expect(((await unknown.json()) as any).message).toContain('no module named nosuch');
    expect((await grant('walled.reader')).status).toBe(201);
    expect((await grant('walled.read')).status).toBe(201);
    expect((await grant('hub.admin')).status).toBe(201);
    // at user creation too, and nothing is created then
    const created = await k.admin('/api/v1/users', { method: 'POST', headers: json, body: JSON.stringify({ username: 'judy', password: 'a-long-enough-password-1', grants: ['walled.constructor'] }) });
    expect(created.status).toBe(400);
    const users = (await (await k.admin('/api/v1/users')).json()) as any[];
    expect(users.some((u) => u.username === 'judy')).toBe(false);
    const ivan = users.find((u) => u.username === 'ivan');
    expect([...ivan.grants].sort()).toEqual(['hub.admin', 'walled.read', 'walled.reader']);
  });
});
