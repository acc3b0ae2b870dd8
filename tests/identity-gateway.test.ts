// Issue 15 items 4 and 5: the gateway's permission wall (401 unauthenticated / 403 forbidden
// before the child, public routes and health open, client identity headers dropped), req.user
// and ctx.auth.require in the child, a child that believes only its kernel's MAC, the notes
// module's private notes enforced by PostgreSQL row-level security, and two kernels sharing
// sessions with revocation reaching both within a second.
import { cpSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HUB_ROOT } from '../shared/paths.js';
import { signUser, takeUser } from '../shared/runtime/identity-header.js';
import { createTestDatabase, type TestDatabase } from './helpers/database.js';
import { signIn, type SignedIn } from './helpers/identity.js';
import { startKernel, stopAllKernels, type RunningKernel } from './helpers/kernel.js';
import { tempDir, writeModule } from './helpers/modules.js';
import { waitFor } from './helpers/wait.js';

let db: TestDatabase;
let k: RunningKernel;
let k2: RunningKernel;
const dirs: string[] = [];
const json = { 'content-type': 'application/json' };

// probe: echoes what the child sees; counts hits on a protected route so a refusal can be shown
// never to have reached it
const probeRouter = `let hits = 0;
export default (router, ctx) => {
  const seen = (req) => ({ user: req.user, headers: req.headers });
  router.get('/whoami', ctx.auth.require('read'), (req, res) => res.json(seen(req)));
  router.get('/hit', (req, res) => { hits++; res.json({ hits }); });
  router.get('/count', (req, res) => res.json({ hits }));
  router.post('/hook', (req, res) => res.json(seen(req)));
  router.get('/audit-only', ctx.auth.require('audit'), (req, res) => res.json({ ok: true }));
};`;
const probeManifest = {
  permissions: { read: 'read things', audit: 'see the audit' },
  roles: { reader: ['read'] },
  public_routes: ['POST /api/v1/probe/hook', 'GET /api/v1/probe/count'],
};
const openRouter = `export default (router) => { router.get('/who', (req, res) => res.json({ user: req.user })); };`;

let alice: SignedIn;
let bob: SignedIn;
let nobody: SignedIn;

beforeAll(async () => {
  db = await createTestDatabase();
  const modulesDir = tempDir('modules');
  const modulesDir2 = tempDir('modules2');
  dirs.push(modulesDir, modulesDir2);
  cpSync(join(HUB_ROOT, 'modules', 'notes'), join(modulesDir, 'notes'), { recursive: true });
  writeModule(modulesDir, 'probe', { router: probeRouter, manifest: probeManifest });
  writeModule(modulesDir, 'open', { router: openRouter });
  cpSync(modulesDir, modulesDir2, { recursive: true });
  k = await startKernel({ modulesDir, databaseUrl: db.url, env: { MODULES__NOTES__READ_ONLY: 'false', MODULES__NOTES__DRY_RUN: 'false' } });
  k2 = await startKernel({ modulesDir: modulesDir2, databaseUrl: db.url, env: { MODULES__NOTES__READ_ONLY: 'false', MODULES__NOTES__DRY_RUN: 'false' } });
  dirs.push(k.dataDir, k2.dataDir);
  alice = await signIn(k, 'alice', ['notes.editor', 'probe.reader']);
  bob = await signIn(k, 'bob', ['notes.editor']);
  nobody = await signIn(k, 'nobody', []);
});

afterAll(async () => {
  await stopAllKernels();
  await db.drop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('the gateway wall', () => {
  it('answers 401 unauthenticated to nobody signed in, and sends a browser page load to /login', async () => {
    const res = await k.get('/api/v1/notes/notes');
    expect(res.status).toBe(401);
    expect(((await res.json()) as any).error).toBe('unauthenticated');
    const page = await k.get('/notes', { redirect: 'manual', headers: { accept: 'text/html,application/xhtml+xml' } });
    expect(page.status).toBe(303);
    expect(page.headers.get('location')).toBe('/login?next=%2Fnotes');
  });

  it('answers 403 forbidden to a user with no grant of the module, before the child', async () => {
    const res = await nobody.get('/api/v1/probe/hit');
    expect(res.status).toBe(403);
    expect(((await res.json()) as any).error).toBe('forbidden');
    const bearer = await bob.token();
    const byToken = await k.get('/api/v1/probe/hit', { headers: { authorization: `Bearer ${bearer}` } });
    expect(byToken.status).toBe(403);
    expect(((await byToken.json()) as any).error).toBe('forbidden');
    expect(((await (await k.get('/api/v1/probe/count')).json()) as any)).toEqual({ hits: 0 });
  });

  it('keeps <api_prefix>/health and public_routes open; a path that only looks public is not', async () => {
    expect((await k.get('/api/v1/notes/health')).status).toBe(200);
    const hook = await k.get('/api/v1/probe/hook', { method: 'POST' });
    expect(hook.status).toBe(200);
    expect(((await hook.json()) as any).user).toBeNull();
    for (const p of ['/api/v1/probe/count/../hit', '/api/v1/probe/count%2f..%2fhit', '/api/v1/probe/hook']) {
      expect((await k.get(p)).status, p).toBe(401);
    }
  });

  it('drops identity headers and hub credentials a client sends; the child sees only the user the kernel vouched for', async () => {
    const forged = signUser({ id: 1, username: 'admin', permissions: ['read', 'audit'] }, 'guessed-secret');
    const anon = ((await (await k.get('/api/v1/probe/hook', { method: 'POST', headers: { 'x-hub-user': forged } })).json()) as any);
    expect(anon.user).toBeNull();
    expect(anon.headers['x-hub-user']).toBeUndefined();
    const seen = ((await (await alice.get('/api/v1/probe/hook', { method: 'POST', headers: { 'x-hub-user': forged, cookie: 'theme=dark' } })).json()) as any);
    expect(seen.user).toEqual({ id: alice.id, username: 'alice', permissions: ['read'] });
    expect(seen.headers.cookie).toBe('theme=dark');
    expect(seen.headers['x-hub-user']).toBeUndefined();
    expect(seen.headers['x-hub-secret']).toBeUndefined();
    const token = await alice.token();
    const byToken = ((await (await k.get('/api/v1/probe/whoami', { headers: { authorization: `Bearer ${token}` } })).json()) as any);
    expect(byToken.user.username).toBe('alice');
    expect(byToken.headers.authorization).toBeUndefined();
  });

  it('a child called directly on its port refuses, whatever identity header is sent', async () => {
    const port = (await k.record('probe')).port;
    const forged = signUser({ id: 1, username: 'admin', permissions: ['read'] }, 'guessed-secret');
    const res = await fetch(`http://127.0.0.1:${port}/api/v1/probe/whoami`, { headers: { 'x-hub-user': forged } });
    expect(res.status).toBe(403);
    expect(((await res.json()) as any).error).toBe('forbidden');
  });

  it('takeUser believes only a MAC made with the module secret', () => {
    const user = { id: 7, username: 'alice', permissions: ['read'] };
    const req = (value: string) => ({ headers: { 'x-hub-user': value }, rawHeaders: ['x-hub-user', value] }) as never;
    expect(takeUser(req(signUser(user, 'secret-a')), 'secret-a')).toEqual(user);
    expect(takeUser(req(signUser(user, 'secret-b')), 'secret-a')).toBeNull();
    const [payload, mac] = signUser(user, 'secret-a').split('.');
    const tampered = Buffer.from(JSON.stringify({ ...user, permissions: ['read', 'write'] })).toString('base64url');
    expect(takeUser(req(`${tampered}.${mac}`), 'secret-a')).toBeNull();
    expect(takeUser(req(`${payload}`), 'secret-a')).toBeNull();
  });

  it('gives req.user only that module\'s permissions; ctx.auth.require answers 403 forbidden for a missing one', async () => {
    const who = ((await (await alice.get('/api/v1/probe/whoami')).json()) as any);
    expect(who.user.permissions).toEqual(['read']);
    const res = await alice.get('/api/v1/probe/audit-only');
    expect(res.status).toBe(403);
    expect(((await res.json()) as any).error).toBe('forbidden');
    // the admin credential acts as hub.admin: every permission of every module
    const admin = ((await (await k.get('/api/v1/probe/audit-only', { headers: { authorization: `Bearer ${k.adminToken()}` } })).json()) as any);
    expect(admin).toEqual({ ok: true });
  });

  it('leaves a module that declares no permissions open, with req.user when someone is signed in', async () => {
    expect(((await (await k.get('/api/v1/open/who')).json()) as any)).toEqual({ user: null });
    expect(((await (await nobody.get('/api/v1/open/who')).json()) as any)).toEqual({ user: { id: nobody.id, username: 'nobody', permissions: [] } });
  });

  it('notes: a viewer may read but not write (403 forbidden from ctx.auth.require)', async () => {
    const viewer = await signIn(k, 'vera', ['notes.viewer']);
    expect((await viewer.get('/api/v1/notes/notes')).status).toBe(200);
    const res = await viewer.get('/api/v1/notes/notes', { method: 'POST', headers: json, body: JSON.stringify({ title: 'nope' }) });
    expect(res.status).toBe(403);
    expect(((await res.json()) as any).error).toBe('forbidden');
  });

  it('audits refused requests', async () => {
    const audit = ((await (await k.admin('/api/v1/audit?limit=200')).json()) as any);
    const refused = audit.filter((a: any) => a.action === 'request.refused');
    expect(refused.some((a: any) => a.actor === 'nobody' && a.result === 'forbidden' && a.target === 'probe GET /api/v1/probe/hit')).toBe(true);
    expect(refused.some((a: any) => a.actor.startsWith('anonymous@') && a.result === 'unauthenticated')).toBe(true);
  });
});

describe('row-level security in notes', () => {
  it('a private note is invisible to another user, even to the module\'s own unfiltered SELECT', async () => {
    const mine = await alice.get('/api/v1/notes/notes', { method: 'POST', headers: json, body: JSON.stringify({ title: 'alice private', private: true }) });
    expect(mine.status).toBe(201);
    const { id } = (await mine.json()) as any;
    const shared = await alice.get('/api/v1/notes/notes', { method: 'POST', headers: json, body: JSON.stringify({ title: 'alice shared' }) });
    expect(shared.status).toBe(201);
    // GET /notes is `SELECT … FROM notes_notes ORDER BY …`: no author filter in the module
    const bobs = (((await (await bob.get('/api/v1/notes/notes')).json()) as any)).map((n: any) => n.title);
    expect(bobs).toContain('alice shared');
    expect(bobs).not.toContain('alice private');
    expect((await bob.get(`/api/v1/notes/notes/${id}`)).status).toBe(404);
    expect((await bob.get(`/api/v1/notes/notes?q=private`)).status).toBe(200);
    expect(((await (await bob.get(`/api/v1/notes/notes?q=private`)).json()) as any)).toEqual([]);
    const own = ((await (await alice.get(`/api/v1/notes/notes/${id}`)).json()) as any);
    expect(own).toMatchObject({ title: 'alice private', private: true, author_id: alice.id });
    // bob cannot change it either: the policy hides the row from UPDATE
    expect((await bob.get(`/api/v1/notes/notes/${id}`, { method: 'PATCH', headers: json, body: JSON.stringify({ title: 'mine now' }) })).status).toBe(404);
    // nor write a private note in alice's name
    expect((((await (await alice.get(`/api/v1/notes/notes/${id}`)).json()) as any)).title).toBe('alice private');
  });
});

describe('two kernels on one database', () => {
  it('share sessions, and a revoked grant and a sign-out take effect on both within a second', async () => {
    const carl = await signIn(k, 'carl', ['notes.editor']);
    const onK2 = (path: string) => k2.get(path, { headers: { cookie: carl.cookie } });
    expect((await onK2('/api/v1/notes/notes')).status).toBe(200);
    expect((await onK2('/api/v1/auth/me')).status).toBe(200);
    // the grant goes on k1; k2 had the identity cached
    expect((await k.admin('/api/v1/users/carl/grants/notes.editor', { method: 'DELETE' })).status).toBe(200);
    const t0 = Date.now();
    await waitFor(async () => (await onK2('/api/v1/notes/notes')).status === 403, { timeoutMs: 1000, intervalMs: 25, what: 'k2 to refuse carl' });
    expect(Date.now() - t0).toBeLessThan(1000);
    expect((await carl.get('/api/v1/notes/notes')).status).toBe(403);
    // sign-out on k1 ends the session on k2
    expect((await carl.get('/api/v1/auth/logout', { method: 'POST' })).status).toBe(200);
    const t1 = Date.now();
    await waitFor(async () => (await onK2('/api/v1/auth/me')).status === 401, { timeoutMs: 1000, intervalMs: 25, what: 'k2 to forget the session' });
    expect(Date.now() - t1).toBeLessThan(1000);
  });

  it('share dashboard sessions (admin origin), and a dashboard sign-out ends it on both within a second', async () => {
    const login = await fetch(`${k.adminUrl}/login`, {
      method: 'POST', redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `token=${encodeURIComponent(k.adminToken()!)}`,
    });
    expect(login.status).toBe(303);
    const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
    expect(cookie).toMatch(/^hub_admin_session=/);
    const onK2 = () => fetch(`${k2.adminUrl}/api/v1/users`, { headers: { cookie } });
    expect((await onK2()).status).toBe(200);
    const out = await fetch(`${k.adminUrl}/logout`, { method: 'POST', redirect: 'manual', headers: { cookie } });
    expect(out.status).toBe(303);
    const t0 = Date.now();
    await waitFor(async () => (await onK2()).status === 401, { timeoutMs: 1000, intervalMs: 25, what: 'k2 to end the dashboard session' });
    expect(Date.now() - t0).toBeLessThan(1000);
    expect((await fetch(`${k.adminUrl}/api/v1/users`, { headers: { cookie } })).status).toBe(401);
  });
});
