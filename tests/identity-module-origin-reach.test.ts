// Issue 15, checked by the independent pass (i15), as a hostile module with a browser page:
// every module shares the public origin with the hub's /login page and session cookie. The
// hub already drops a module's Set-Cookie naming a hub cookie; two other response headers
// reached the same things. `Service-Worker-Allowed: /` let a module's script register a
// service worker for the whole origin (it would see the password posted by /login and every
// other module's traffic, and stay after the module is removed); `Clear-Site-Data: "cookies"`
// cleared the hub's session cookies. And with no header at all, a script served at the
// module's bare page path (/evil) or API prefix (/api/v1/evil) sits in the folder above the
// module's, so its worker controlled / or /api/v1/ (every module's API and /api/v1/auth/login).
// A script on a module page could also set a second hub_session for a narrower path, which
// the hub read first: the user was someone else there (cookie tossing). Real Chromium, real kernel.
import { rmSync } from 'node:fs';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from './helpers/browser.js';
import { createTestDatabase, type TestDatabase } from './helpers/database.js';
import { signIn } from './helpers/identity.js';
import { startKernel, stopAllKernels, type RunningKernel } from './helpers/kernel.js';
import { tempDir, writeModule } from './helpers/modules.js';

let db: TestDatabase;
let k: RunningKernel;
let browser: Browser;
const dirs: string[] = [];

const evilRouter = `export default (router) => {
  router.get('/page', (req, res) => res.type('html').send('<!doctype html><title>evil</title><p>hi</p>'));
  router.get('/sw.js', (req, res) => {
    res.set('service-worker-allowed', '/');
    res.type('application/javascript').send('self.addEventListener("fetch", () => {});');
  });
  router.get('/', (req, res) => res.type('application/javascript').send('self.addEventListener("fetch", () => {});'));
  router.get('/clear', (req, res) => { res.set('clear-site-data', '"cookies", "storage"'); res.type('html').send('<p>cleared</p>'); });
};`;

beforeAll(async () => {
  db = await createTestDatabase();
  const modulesDir = tempDir('modules');
  dirs.push(modulesDir);
  writeModule(modulesDir, 'evil', {
    router: evilRouter,
    views: `export default (router) => { router.get('/', (req, res) => res.type('application/javascript').send('self.addEventListener("fetch", () => {});')); };`,
  });
  k = await startKernel({ modulesDir, databaseUrl: db.url });
  dirs.push(k.dataDir);
  browser = await launchChromium();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await stopAllKernels();
  await db?.drop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('a module page cannot sign the user in as someone else on some paths', () => {
  it('a second hub_session set by script for a narrower path (cookie tossing) makes the request nobody\'s, not the tosser\'s', async () => {
    const victim = await signIn(k, 'vic', []);
    const tosser = await signIn(k, 'tosser', []);
    const context = await browser.newContext();
    await context.addCookies([{ name: 'hub_session', value: victim.cookie.split('=')[1]!, url: k.url, httpOnly: true, sameSite: 'Lax' }]);
    const page = await context.newPage();
    await page.goto(`${k.url}/api/v1/evil/page`);
    await page.evaluate((sid: string) => {
      (globalThis as any).document.cookie = `hub_session=${sid}; path=/api/v1/auth`;
    }, tosser.cookie.split('=')[1]!);
    const me = await page.goto(`${k.url}/api/v1/auth/me`);
    expect(me!.status()).toBe(401);
    expect(JSON.parse(await me!.text()).error).toBe('unauthenticated');
    // elsewhere the browser sends only the hub's own cookie: still the victim
    const start = await page.goto(`${k.url}/`);
    expect(await start!.text()).toContain('Signed in as <strong>vic</strong>');
    await context.close();
  });
});

describe('a module answer cannot reach past its own paths', () => {
  it('cannot register a service worker above its own folders (Service-Worker-Allowed dropped, scripts at /evil and /api/v1/evil refused 403)', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${k.url}/api/v1/evil/page`);
    const whole = await page.evaluate(async () => {
      const nav = (globalThis as any).navigator;
      try {
        const r = await nav.serviceWorker.register('/api/v1/evil/sw.js', { scope: '/' });
        return `registered ${r.scope}`;
      } catch (e) {
        return `refused ${(e as Error).name}`;
      }
    });
    expect(whole).toBe('refused SecurityError');
    // a script at the module's bare page path (/evil) or API prefix (/api/v1/evil) sits in the
    // folder above the module's own, so its default scope is / or /api/v1/: every module's API
    // and the sign-in route
    const above = await page.evaluate(async () => {
      const out: string[] = [];
      for (const [url, scope] of [['/evil', '/'], ['/api/v1/evil', '/api/v1/']]) {
        try {
          const r = await (globalThis as any).navigator.serviceWorker.register(url, { scope });
          out.push(`registered ${new URL(r.scope).pathname}`);
        } catch (e) {
          out.push(`refused ${(e as Error).name}`);
        }
      }
      return out;
    });
    expect(above).toEqual(['refused TypeError', 'refused TypeError']);
    // its own folder is still fine: the wall is the scope, not service workers
    const own = await page.evaluate(async () => {
      const r = await (globalThis as any).navigator.serviceWorker.register('/api/v1/evil/sw.js');
      return r.scope as string;
    });
    expect(own).toBe(`${k.url}/api/v1/evil/`);
    await context.close();
  });

  it('cannot clear the hub session cookie (Clear-Site-Data is dropped)', async () => {
    const zed = await signIn(k, 'zed', []);
    const context = await browser.newContext();
    await context.addCookies([{ name: 'hub_session', value: zed.cookie.split('=')[1]!, url: k.url, httpOnly: true, sameSite: 'Lax' }]);
    const page = await context.newPage();
    const answer = await page.goto(`${k.url}/api/v1/evil/clear`);
    expect(answer!.headers()['clear-site-data']).toBeUndefined();
    expect((await context.cookies(k.url)).some((c) => c.name === 'hub_session')).toBe(true);
    const me = await page.goto(`${k.url}/api/v1/auth/me`);
    expect(JSON.parse(await me!.text())).toMatchObject({ username: 'zed' });
    await context.close();
  });
});
