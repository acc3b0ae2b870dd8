// Issue 15 items 1-3: the first admin's password file, sign-in over HTTP with a session cookie
// in the database, sign-out, /me, the rate limit, personal API tokens (shown once, hashed,
// expiry, last-used) and the admin API for users and grants, all against a real kernel.
import { cpSync, rmSync, statSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { HUB_ROOT } from '../shared/paths.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from './helpers/database.js';
import { hubctl } from './helpers/hubctl.js';
import { signIn, signInAs } from './helpers/identity.js';
import { startKernel, stopAllKernels, type RunningKernel } from './helpers/kernel.js';
import { tempDir } from './helpers/modules.js';
import { waitFor } from './helpers/wait.js';

let db: TestDatabase;
let k: RunningKernel;
let modulesDir: string;
const json = { 'content-type': 'application/json' };
const login = (username: string, password: string, headers: Record<string, string> = {}) =>
  k.get('/api/v1/auth/login', { method: 'POST', headers: { ...json, ...headers }, body: JSON.stringify({ username, password }) });

beforeAll(async () => {
  db = await createTestDatabase();
  modulesDir = tempDir('modules');
  // grants must name what a module declares: notes.viewer and notes.editor
  cpSync(join(HUB_ROOT, 'modules', 'notes'), join(modulesDir, 'notes'), { recursive: true });
  k = await startKernel({ modulesDir, databaseUrl: db.url });
});

afterAll(async () => {
  await stopAllKernels();
  await db.drop();
  rmSync(modulesDir, { recursive: true, force: true });
  if (k) rmSync(k.dataDir, { recursive: true, force: true });
});

describe('first start', () => {
  it('creates admin with a random password in HUB_DATA_DIR/initial-admin-password (0600) and says where', async () => {
    const file = join(k.dataDir, 'initial-admin-password');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(k.lines.some((l) => l.includes(file))).toBe(true);
    const password = readFileSync(file, 'utf8').trim();
    expect(password.length).toBeGreaterThanOrEqual(20);
    const res = await login('admin', password);
    expect(res.status).toBe(200);
    expect(((await res.json()) as any).user.grants).toEqual(['hub.admin']);
  });
});

describe('sign-in', () => {
  it('sets an HttpOnly SameSite=Lax session cookie; /me shows user and grants; logout ends it', async () => {
    const alice = await signIn(k, 'alice', ['notes.editor']);
    const res = await login('alice', alice.password);
    const cookie = res.headers.get('set-cookie')!;
    expect(cookie).toMatch(/^hub_session=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Lax; Max-Age=43200$/);
    const me = await alice.get('/api/v1/auth/me');
    expect(me.status).toBe(200);
    expect((await me.json()) as any).toEqual({ id: alice.id, username: 'alice', grants: ['notes.editor'], via: 'session' });
    // the session is stored as a hash only
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    const { rows } = await c.query('SELECT id_hash FROM hub_sessions');
    await c.end();
    const sid = alice.cookie.split('=')[1]!;
    expect(rows.some((r) => r.id_hash === sid)).toBe(false);
    expect((await alice.get('/api/v1/auth/logout', { method: 'POST' })).status).toBe(200);
    const after = await alice.get('/api/v1/auth/me');
    expect(after.status).toBe(401);
    expect(((await after.json()) as any).error).toBe('unauthenticated');
  });

  it('answers 401 unauthenticated for a wrong password or unknown user, and nobody for no cookie', async () => {
    for (const [u, p] of [['alice', 'wrong-password-1'], ['nobody', 'whatever-123']]) {
      const res = await login(u!, p!, { 'x-forwarded-for': '10.0.0.1' });
      expect(res.status).toBe(401);
      expect(((await res.json()) as any).error).toBe('unauthenticated');
    }
    const me = await k.get('/api/v1/auth/me');
    expect(me.status).toBe(401);
    expect(((await me.json()) as any).error).toBe('unauthenticated');
  });

  it('rate-limits sign-in per username and address: the 6th failure in a row is 429 rate_limited, even with the right password', async () => {
    const carol = await signIn(k, 'carol', []);
    for (let i = 0; i < 5; i++) expect((await login('carol', `wrong-${i}-password`)).status).toBe(401);
    const limited = await login('carol', carol.password);
    expect(limited.status).toBe(429);
    const body = (await limited.json()) as any;
    expect(body.error).toBe('rate_limited');
    expect(body.details.retry_after_s).toBeGreaterThan(0);
  });

  it('serves a /login page with a form that posts to the sign-in route', async () => {
    const res = await k.get('/login?next=/api/v1/notes');
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain('action="/api/v1/auth/login"');
    expect(html).toContain('value="/api/v1/notes"');
    // a foreign next is never echoed as a redirect target
    expect(await (await k.get('/login?next=//evil.example')).text()).toContain('name="next" value="/"');
  });
});

describe('personal API tokens', () => {
  it('are shown once as bmc_pat_…, stored hashed, work as Bearer, record last use, and stop working when revoked', async () => {
    const dave = await signIn(k, 'dave', ['notes.viewer']);
    const res = await dave.get('/api/v1/auth/tokens', { method: 'POST', headers: json, body: JSON.stringify({ name: 'ci', expires_in_days: 7, password: dave.password }) });
    expect(res.status).toBe(201);
    const created = (await res.json()) as any;
    expect(created.token).toMatch(/^bmc_pat_[A-Za-z0-9_-]{43}$/);
    expect(Date.parse(created.expires_at) - Date.now()).toBeGreaterThan(6.9 * 86_400_000);
    const bearer = { authorization: `Bearer ${created.token}` };
    const me = await k.get('/api/v1/auth/me', { headers: bearer });
    expect((await me.json()) as any).toMatchObject({ username: 'dave', grants: ['notes.viewer'], via: 'token' });
    const listed = await waitFor(async () => {
      const l = ((await (await dave.get('/api/v1/auth/tokens')).json()) as any);
      return l[0]?.last_used_at ? l : undefined;
    }, { what: 'last_used_at' });
    expect(listed[0]).toMatchObject({ name: 'ci', revoked: false });
    expect(JSON.stringify(listed)).not.toContain(created.token);
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    const { rows } = await c.query('SELECT token_hash FROM hub_api_tokens');
    await c.end();
    expect(JSON.stringify(rows)).not.toContain(created.token);
    expect((await dave.get(`/api/v1/auth/tokens/${created.id}`, { method: 'DELETE' })).status).toBe(200);
    const gone = await k.get('/api/v1/auth/me', { headers: bearer });
    expect(gone.status).toBe(401);
  });

  it('from a session cookie, needs the password: a module page riding the cookie cannot mint one, in any browser', async () => {
    const hana = await signIn(k, 'hana', ['notes.viewer']);
    const browserish = { ...json, 'sec-fetch-site': 'same-origin' };
    const refused = await hana.get('/api/v1/auth/tokens', { method: 'POST', headers: browserish, body: JSON.stringify({ name: 'stolen', expires_in_days: 366 }) });
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as any).error).toBe('forbidden');
    // a browser that sends no Sec-Fetch-Site (Safari before 16.4) is refused the same way
    const oldBrowser = await hana.get('/api/v1/auth/tokens', { method: 'POST', headers: { ...json, origin: k.url }, body: JSON.stringify({ name: 'stolen', expires_in_days: 366 }) });
    expect(oldBrowser.status).toBe(403);
    // nor one that names the page it came from (Referer) and nothing else
    const referred = await hana.get('/api/v1/auth/tokens', { method: 'POST', headers: { ...json, referer: `${k.url}/evilui` }, body: JSON.stringify({ name: 'stolen', expires_in_days: 366 }) });
    expect(referred.status).toBe(403);
    const wrong = await hana.get('/api/v1/auth/tokens', { method: 'POST', headers: browserish, body: JSON.stringify({ name: 'stolen', password: 'guess-guess-guess' }) });
    expect(wrong.status).toBe(403);
    const ok = await hana.get('/api/v1/auth/tokens', { method: 'POST', headers: browserish, body: JSON.stringify({ name: 'mine', password: hana.password }) });
    expect(ok.status).toBe(201);
    expect(((await (await hana.get('/api/v1/auth/tokens')).json()) as any[]).map((t) => t.name)).toEqual(['mine']);
  });

  it('from a script holding the cookie its own sign-in set, is created with {"name","expires_in_days"} as DESIGN.md says', async () => {
    const juno = await signIn(k, 'juno', ['notes.viewer']);
    const res = await juno.get('/api/v1/auth/tokens', { method: 'POST', headers: json, body: JSON.stringify({ name: 'script', expires_in_days: 2 }) });
    expect(res.status).toBe(201);
    expect(((await res.json()) as any).token).toMatch(/^bmc_pat_/);
  });

  it('cannot be minted by a token: a leaked token gets 403 forbidden, so revoking it ends that access', async () => {
    const ivy = await signIn(k, 'ivy', ['notes.viewer']);
    const token = await ivy.token();
    const bearer = { ...json, authorization: `Bearer ${token}` };
    const heir = await k.get('/api/v1/auth/tokens', { method: 'POST', headers: bearer, body: JSON.stringify({ name: 'heir', expires_in_days: 366 }) });
    expect(heir.status).toBe(403);
    expect(((await heir.json()) as any).error).toBe('forbidden');
    const mine = (await (await ivy.get('/api/v1/auth/tokens')).json()) as any[];
    expect(mine.map((t) => t.name)).toEqual(['test']);
  });

  it('refuses an expiry outside 1..366 days with bad_request', async () => {
    const erin = await signIn(k, 'erin', []);
    const res = await erin.get('/api/v1/auth/tokens', { method: 'POST', headers: json, body: JSON.stringify({ name: 'x', expires_in_days: 10_000 }) });
    expect(res.status).toBe(400);
    expect(((await res.json()) as any).error).toBe('bad_request');
  });
});

describe('admin API for users and grants', () => {
  it('needs the admin credential (401 unauthorized without it)', async () => {
    const res = await fetch(`${k.adminUrl}/api/v1/users`);
    expect(res.status).toBe(401);
    expect(((await res.json()) as any).error).toBe('unauthorized');
  });

  it('answers on the public origin too, to the admin bearer only (DESIGN.md: users and audit are admin routes there), never to a session cookie', async () => {
    const bearer = { authorization: `Bearer ${k.adminToken()}` };
    expect((await fetch(`${k.url}/api/v1/users`)).status).toBe(401);
    const listed = await fetch(`${k.url}/api/v1/users`, { headers: bearer });
    expect(listed.status).toBe(200);
    expect(((await listed.json()) as any[]).some((u) => u.username === 'admin')).toBe(true);
    const made = await fetch(`${k.url}/api/v1/users`, { method: 'POST', headers: { ...bearer, ...json }, body: JSON.stringify({ username: 'pubmade', password: 'a-long-enough-password-2', grants: ['notes.viewer'] }) });
    expect(made.status).toBe(201);
    expect((await fetch(`${k.url}/api/v1/audit?limit=5`, { headers: bearer })).status).toBe(200);
    // a hub.admin user's session cookie opens the dashboard's door, not this one
    const boss = await signIn(k, 'pubboss', ['hub.admin']);
    const withCookie = await boss.get('/api/v1/users');
    expect(withCookie.status).toBe(401);
    expect(((await withCookie.json()) as any).error).toBe('unauthorized');
  });

  it('lists users, adds and removes grants, changes passwords (ending sessions), and audits each action', async () => {
    const frank = await signIn(k, 'frank', []);
    expect((await k.admin('/api/v1/users/frank/grants', { method: 'POST', headers: json, body: JSON.stringify({ grant: 'notes.editor' }) })).status).toBe(201);
    const bad = await k.admin('/api/v1/users/frank/grants', { method: 'POST', headers: json, body: JSON.stringify({ grant: 'not a grant' }) });
    expect(bad.status).toBe(400);
    const users = ((await (await k.admin('/api/v1/users')).json()) as any);
    expect(users.find((u: any) => u.username === 'frank').grants).toEqual(['notes.editor']);
    expect((await k.admin('/api/v1/users/frank/grants/notes.editor', { method: 'DELETE' })).status).toBe(200);
    expect((((await (await frank.get('/api/v1/auth/me')).json()) as any)).grants).toEqual([]);
    const dup = await k.admin('/api/v1/users', { method: 'POST', headers: json, body: JSON.stringify({ username: 'frank', password: 'another-password' }) });
    expect(dup.status).toBe(409);
    expect((await k.admin('/api/v1/users/frank/password', { method: 'POST', headers: json, body: JSON.stringify({ password: 'new-password-123' }) })).status).toBe(200);
    expect((await frank.get('/api/v1/auth/me')).status).toBe(401);
    expect((await signInAs(k, 'frank', 'new-password-123')).id).toBe(frank.id);
    const audit = ((await (await k.admin('/api/v1/audit?limit=50')).json()) as any);
    const actions = audit.map((a: any) => `${a.action} ${a.result}`);
    expect(actions).toContain('admin POST /api/v1/users/frank/grants ok');
    expect(actions).toContain('admin DELETE /api/v1/users/frank/grants/notes.editor ok');
    expect(actions).toContain('admin POST /api/v1/users/frank/grants failed 400');
    expect(actions).toContain('admin GET /api/v1/users refused');
    expect(audit[0]).toHaveProperty('at');
    expect(audit[0]).toHaveProperty('actor');
  });
});

describe('hubctl user, grant, revoke, token', () => {
  it('adds a user with a printed password, grants, lists, revokes and makes a token that signs in', async () => {
    const env = { HUB_URL: k.adminUrl, HUB_DATA_DIR: k.dataDir };
    const add = await hubctl(['user', 'add', 'gina', '--grant', 'notes.viewer'], env);
    expect(add.stderr).toBe('');
    expect(add.code).toBe(0);
    const password = /password \(shown once\): (\S+)/.exec(add.stdout)![1]!;
    expect((await signInAs(k, 'gina', password)).username).toBe('gina');
    const grant = await hubctl(['grant', 'gina', 'notes.editor'], env);
    expect(grant.stdout).toBe('gina now holds notes.editor\n');
    const list = await hubctl(['user', 'list', '--json'], env);
    expect(JSON.parse(list.stdout).find((u: any) => u.username === 'gina').grants).toEqual(['notes.editor', 'notes.viewer']);
    expect((await hubctl(['revoke', 'gina', 'notes.viewer'], env)).code).toBe(0);
    const missing = await hubctl(['revoke', 'gina', 'notes.viewer'], env);
    expect(missing.code).toBe(5);
    const token = await hubctl(['token', 'create', 'gina', '--name', 'ci', '--days', '2'], env);
    expect(token.code).toBe(0);
    expect(token.stdout).toMatch(/^bmc_pat_[A-Za-z0-9_-]{43}\n$/);
    const me = (await (await k.get('/api/v1/auth/me', { headers: { authorization: `Bearer ${token.stdout.trim()}` } })).json()) as any;
    expect(me).toMatchObject({ username: 'gina', grants: ['notes.editor'] });
    const bad = await hubctl(['user', 'add', 'Not Valid'], env);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^hubctl: username must match/);
  });
});

describe('API docs', () => {
  it('document sign-in and tokens, and the user routes with the admin bearer on the admin origin', async () => {
    const pub = (await (await k.get('/api/docs/openapi.json')).json()) as any;
    expect(pub.paths['/api/v1/auth/login'].post.operationId).toBe('hub__login');
    expect(pub.paths['/api/v1/auth/tokens'].post.requestBody.content['application/json'].schema.required).toEqual(['name']);
    const adm = (await (await k.admin('/api/docs/openapi.json')).json()) as any;
    expect(adm.paths['/api/v1/users/{username}/grants'].post.security).toEqual([{ adminToken: [] }]);
    expect(adm.paths['/api/v1/audit'].get.security).toEqual([{ adminToken: [] }]);
  });
});
