// Who may change the hub. Never "loopback means admin": the one credential is the admin
// token (HUB_ADMIN_TOKEN, else HUB_DATA_DIR/admin-token made at first start, mode 0600).
// On the public origin admin routes take only `Authorization: Bearer`, never a cookie; the
// admin origin also takes the session cookie /login hands out, from its own pages only.
// Also: 409 for disabling a module an enabled module needs, and two simultaneous enables
// start one child, not two.
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rawRequest } from './helpers/http.js';
import { waitFor } from './helpers/wait.js';
import { startKernel, stopAllKernels, type RunningKernel } from './helpers/kernel.js';
import { helloRouter, tempDir, writeModule } from './helpers/modules.js';

const TOKEN = 'test-admin-token-3f9a';

afterAll(stopAllKernels);

/** Signs in on the admin origin with the token and returns the session cookie (name=value). */
async function signIn(k: RunningKernel, token: string): Promise<string> {
  const res = await fetch(`${k.adminUrl}/login`, {
    method: 'POST',
    body: new URLSearchParams({ token }),
    redirect: 'manual',
    headers: { origin: k.adminUrl },
  });
  expect(res.status).toBe(303);
  const set = res.headers.get('set-cookie') ?? '';
  expect(set).toMatch(/HttpOnly/);
  expect(set).toMatch(/SameSite=Strict/);
  return set.split(';')[0]!;
}

describe('with HUB_ADMIN_TOKEN set', () => {
  let k: RunningKernel;
  beforeAll(async () => {
    const modulesDir = tempDir('modules');
    writeModule(modulesDir, 'guarded', { router: helloRouter, manifest: { enabled: false } });
    k = await startKernel({ modulesDir, env: { HUB_ADMIN_TOKEN: TOKEN } });
  });

  it('answers 401 JSON without a token or with a wrong one, on both origins, and changes nothing', async () => {
    const attempts: Record<string, string>[] = [{}, { authorization: 'Bearer wrong' }, { authorization: TOKEN }, { authorization: `Bearer ${TOKEN}x` }];
    for (const base of [k.url, k.adminUrl]) {
      for (const headers of attempts) {
        const res = await fetch(`${base}/api/v1/modules/guarded/enable`, { method: 'POST', headers });
        expect(res.status).toBe(401);
        expect(await res.json()).toMatchObject({ error: 'unauthorized', message: expect.any(String) });
      }
    }
    expect((await k.record('guarded')).state).toBe('disabled');
  });

  it('accepts the bearer token on the public origin (curl as in the README)', async () => {
    const res = await k.get('/api/v1/modules/guarded/enable', { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { state: string }).state).toBe('running');
  });

  it('keeps records open but puts logs, events and metrics behind the credential', async () => {
    expect((await k.get('/api/v1/modules')).status).toBe(200);
    for (const path of ['/api/v1/modules/guarded/logs?lines=1', '/api/v1/modules/guarded/logs?lines=1&follow=1', '/api/v1/events']) {
      expect((await k.get(path)).status, path).toBe(401);
      const sse = await fetch(`${k.adminUrl}${path}`, { headers: { accept: 'text/event-stream' } });
      expect(sse.status, path).toBe(401);
    }
    expect((await fetch(`${k.adminUrl}/metrics`)).status).toBe(401);
    const logs = await k.admin('/api/v1/modules/guarded/logs?lines=1');
    expect(logs.status).toBe(200);
    expect((await k.admin('/metrics')).status).toBe(200);
  });

  it('serves /metrics and the dashboard on the admin origin only', async () => {
    expect((await k.get('/metrics', { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(404);
    const dash = await k.get('/', { headers: { authorization: `Bearer ${TOKEN}`, accept: 'text/html' } });
    // the public `/` is the users' start page (issue 15), never the admin console
    const start = await dash.text();
    expect(start).toContain('Your modules');
    expect(start).not.toContain('/static/dashboard.js');
    expect((await k.admin('/', { headers: { accept: 'text/html' } })).status).toBe(200);
    const signedOut = await fetch(`${k.adminUrl}/`, { headers: { accept: 'text/html' }, redirect: 'manual' });
    expect(signedOut.status).toBe(303);
    expect(signedOut.headers.get('location')).toBe('/login');
  });

  it('signs a browser in with an HttpOnly cookie that counts on the admin origin and never on the public one', async () => {
    expect((await fetch(`${k.adminUrl}/login`, { method: 'POST', body: new URLSearchParams({ token: 'wrong' }), redirect: 'manual' })).headers.get('location')).toBe('/login?failed=1');
    const cookie = await signIn(k, TOKEN);
    // the public origin ignores the cookie (cookies are not port-isolated)
    const pub = await k.get('/api/v1/modules/guarded/restart', { method: 'POST', headers: { cookie } });
    expect(pub.status).toBe(401);
    expect((await k.get('/api/v1/modules/guarded/logs', { headers: { cookie } })).status).toBe(401);
    // on the admin origin it works from the admin origin's own pages
    const own = await fetch(`${k.adminUrl}/api/v1/modules/guarded/restart`, { method: 'POST', headers: { cookie, origin: k.adminUrl, 'sec-fetch-site': 'same-origin' } });
    expect(own.status).toBe(200);
    // but not from a module page on the public port (same site, other origin)
    const fromModule = await fetch(`${k.adminUrl}/api/v1/modules/guarded/disable`, { method: 'POST', headers: { cookie, origin: k.url, 'sec-fetch-site': 'same-site' } });
    expect(fromModule.status).toBe(403);
    const readFromModule = await fetch(`${k.adminUrl}/api/v1/modules/guarded/logs`, { headers: { cookie, 'sec-fetch-site': 'same-site', 'sec-fetch-mode': 'cors' } });
    expect(readFromModule.status).toBe(401);
    expect((await k.record('guarded')).state).toBe('running');
  });
});

describe('without HUB_ADMIN_TOKEN (the default)', () => {
  let k: RunningKernel;
  let modulesDir: string;
  beforeAll(async () => {
    modulesDir = tempDir('modules');
    writeModule(modulesDir, 'base', { router: helloRouter });
    writeModule(modulesDir, 'uses_base', { router: helloRouter, manifest: { dependencies: ['base'] } });
    writeModule(modulesDir, 'twice', {
      manifest: { enabled: false },
      // every process that loads the module says so in the module's log
      router: `export default (router) => {
  console.log('module loaded by ' + process.pid);
  router.get('/hello', (req, res) => res.json({ pid: process.pid }));
};`,
    });
    k = await startKernel({ modulesDir });
  });

  it('creates HUB_DATA_DIR/admin-token, random and readable by its owner only', async () => {
    const file = join(k.dataDir, 'admin-token');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const token = readFileSync(file, 'utf8').trim();
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(k.adminToken()).toBe(token);
  });

  it('refuses a loopback client without the token: 401, nothing changes', async () => {
    for (const base of [k.url, k.adminUrl]) {
      const res = await fetch(`${base}/api/v1/modules/twice/enable`, { method: 'POST' });
      expect(res.status).toBe(401);
      expect(await res.json()).toMatchObject({ error: 'unauthorized' });
      expect((await fetch(`${base}/api/v1/modules/base/logs`)).status).toBe(401);
    }
    expect((await k.record('twice')).state).toBe('disabled');
  });

  it('answers 421 to a Host that is not a loopback name (DNS rebinding), on every route of both origins', async () => {
    for (const host of ['evil.example', `evil.example:${k.port}`, 'localhost.evil.example']) {
      for (const [port, path, method] of [
        [k.port, '/health', 'GET'],
        [k.port, '/api/v1/base/hello', 'GET'],
        [k.port, '/api/v1/modules/twice/enable', 'POST'],
        [k.adminPort, '/', 'GET'],
        [k.adminPort, '/metrics', 'GET'],
      ] as const) {
        const res = await rawRequest({ method, port, path, headers: { host, authorization: `Bearer ${k.adminToken()}` } });
        expect(res.status, `${host} ${path}`).toBe(421);
        expect(res.body).toMatchObject({ error: 'misdirected_request' });
      }
    }
    for (const host of [`localhost:${k.port}`, `127.0.0.1:${k.port}`, `[::1]:${k.port}`]) {
      expect((await rawRequest({ port: k.port, path: '/health', headers: { host } })).status, host).toBe(200);
    }
    expect((await k.record('twice')).state).toBe('disabled');
  });

  it('refuses cross-site browser requests even with the credential, but not the hub own pages', async () => {
    const bearer = { authorization: `Bearer ${k.adminToken()}` };
    const publicAttempts: Record<string, string>[] = [{ origin: 'http://evil.example' }, { origin: 'null' }, { 'sec-fetch-site': 'cross-site' }, { origin: 'http://127.0.0.1:1' }];
    for (const headers of publicAttempts) {
      const res = await rawRequest({ method: 'POST', port: k.port, path: '/api/v1/modules/twice/enable', headers: { host: `127.0.0.1:${k.port}`, ...bearer, ...headers } });
      expect(res.status).toBe(403);
      expect(res.body).toMatchObject({ error: 'forbidden', message: expect.stringMatching(/cross-site/) });
    }
    // the admin origin: a page of the public origin is same-site, and still refused
    for (const headers of [...publicAttempts, { origin: k.url, 'sec-fetch-site': 'same-site' }, { 'sec-fetch-site': 'same-site' }]) {
      const res = await rawRequest({ method: 'POST', port: k.adminPort, path: '/api/v1/modules/twice/enable', headers: { host: `127.0.0.1:${k.adminPort}`, ...bearer, ...headers } });
      expect(res.status, JSON.stringify(headers)).toBe(403);
    }
    expect((await k.record('twice')).state).toBe('disabled');
    const same = await rawRequest({ method: 'POST', port: k.adminPort, path: '/api/v1/modules/base/restart', headers: { host: `127.0.0.1:${k.adminPort}`, ...bearer, origin: k.adminUrl, 'sec-fetch-site': 'same-origin' } });
    expect(same.status).toBe(200);
  });

  it('answers 409 when disabling a module an enabled module depends on', async () => {
    const res = await k.admin('/api/v1/modules/base/disable', { method: 'POST' });
    expect(res.status).toBe(409);
    expect(await res.json()).toMatchObject({ error: 'dependency_in_use', message: expect.stringMatching(/uses_base/) });
    expect((await k.record('base')).state).toBe('running');
  });

  it('starts one child for two simultaneous enables', async () => {
    const [a, b] = await Promise.all([
      k.admin('/api/v1/modules/twice/enable', { method: 'POST' }),
      k.admin('/api/v1/modules/twice/enable', { method: 'POST' }),
    ]);
    expect([a.status, b.status]).toEqual([200, 200]);
    const [ra, rb] = [(await a.json()) as { state: string; pid: number }, (await b.json()) as { state: string; pid: number }];
    expect(ra.state).toBe('running');
    expect(rb.pid).toBe(ra.pid);
    const loads = () => readFileSync(join(k.dataDir, 'logs', 'twice.log'), 'utf8').split('\n').filter((l) => l.includes('module loaded by'));
    await waitFor(() => loads().length > 0, { what: 'the load line in the module log' });
    expect(loads()).toHaveLength(1);
    expect(loads()[0]).toContain(`module loaded by ${ra.pid}`);
  });
});
