// The dashboard in a real browser (Debian's Chromium driven by playwright-core), on the admin
// origin: sign-in with the token gives an HttpOnly cookie and nothing script-readable;
// modules are listed and running, a click disables one and its badge changes without a
// reload, a log line shows up live on the module page, /api/docs (public origin) shows the
// modules' tags, markup inside errors and log lines is shown as text, never run; and a
// module's page on the public origin (/evilui) can neither read a credential nor drive the
// admin API on either origin (issue 11 item 10).
import { cpSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Browser, type Page } from 'playwright-core';
import { launchChromium } from './helpers/browser.js';
import { HUB_ROOT } from '../shared/paths.js';
import { createTestDatabase, type TestDatabase } from './helpers/database.js';
import { startKernel, stopAllKernels, type RunningKernel } from './helpers/kernel.js';
import { helloRouter, tempDir, writeModule } from './helpers/modules.js';


// Page functions run in the browser; the project's tsconfig has no DOM types, so they see it as this.
interface BrowserGlobal {
  __pwned?: number;
  __loot?: { session: string; local: string; cookie: string; results: Record<string, unknown>; done: boolean };
  __sameDocument?: boolean;
  document: { querySelectorAll(selector: string): ArrayLike<{ textContent: string | null }> };
}
const HOSTILE = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">';

let k: RunningKernel;
let db: TestDatabase;
let browser: Browser;
let page: Page;
const problems: string[] = [];

// A module page that tries everything a page on the public origin can: read storage and
// cookies, POST disable to the public origin (riding cookies) and to the admin origin (fetch
// and a plain form post, which needs no CORS).
const evilViews = `const seen = [];
export default (router) => {
  router.get('/seen', (req, res) => res.json(seen));
  router.get('/', (req, res) => {
    seen.push(req.headers.cookie ?? '');
    const pub = JSON.stringify('http://' + req.headers.host);
    const adm = JSON.stringify(String(req.query.adm));
    res.type('html').send(\`<!doctype html><title>evil</title>
<iframe name="sink" style="display:none"></iframe>
<form id="f" method="post" target="sink"></form>
<script>
const loot = window.__loot = { session: JSON.stringify(sessionStorage), local: JSON.stringify(localStorage), cookie: document.cookie, results: {}, done: false };
const pub = \${pub}, adm = \${adm};
const f = document.getElementById('f');
f.action = adm + '/api/v1/modules/victim/disable';
f.submit();
Promise.all([
  fetch(pub + '/api/v1/modules/victim/disable', { method: 'POST', credentials: 'include' }).then((r) => (loot.results.publicDisable = r.status), (e) => (loot.results.publicDisable = String(e))),
  fetch(adm + '/api/v1/modules/victim/disable', { method: 'POST', credentials: 'include' }).then((r) => (loot.results.adminDisable = r.status), (e) => (loot.results.adminDisable = 'blocked')),
  fetch(adm + '/api/v1/modules/victim/disable', { method: 'POST', credentials: 'include', mode: 'no-cors' }).then((r) => (loot.results.adminNoCors = r.type), (e) => (loot.results.adminNoCors = 'blocked')),
  fetch(adm + '/api/v1/modules/victim/logs', { credentials: 'include' }).then((r) => r.text()).then((t) => (loot.results.adminLogs = t), (e) => (loot.results.adminLogs = 'blocked')),
]).then(() => setTimeout(() => (loot.done = true), 500));
</script>\`);
  });
};`;

beforeAll(async () => {
  db = await createTestDatabase();
  const modulesDir = tempDir('dashboard');
  // the shipped module, copied so the clicks below do not rewrite the project's module.json
  cpSync(join(HUB_ROOT, 'modules', 'notes'), join(modulesDir, 'notes'), { recursive: true });
  writeModule(modulesDir, 'loud', {
    manifest: { description: 'Logs whatever it is told', tags: ['Loud'] },
    router: `export default (router, ctx) => {
  router.get('/say', (req, res) => { ctx.log.info(String(req.query.msg)); res.json({ ok: true }); });
};`,
  });
  // fails at import every time: a crash loop whose last error carries markup
  writeModule(modulesDir, 'broken', {
    manifest: { description: 'Cannot start' },
    router: `throw new Error(${JSON.stringify(HOSTILE)});\nexport default () => {};`,
  });
  writeModule(modulesDir, 'victim', { router: helloRouter });
  writeModule(modulesDir, 'evilui', { views: evilViews });
  k = await startKernel({ modulesDir, databaseUrl: db.url, env: { HUB_BACKOFF_BASE_MS: '20', HUB_CRASH_LIMIT: '2' } });
  await k.waitForState('broken', 'failed');
  browser = await launchChromium();
  // launch() gives a fresh temporary profile: no cookies, no storage from earlier runs
  // one context for the operator's pages, so a module page opened later shares its cookies
  page = await (await browser.newContext({ viewport: { width: 1280, height: 720 } })).newPage();
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(m.text());
  });
  page.on('pageerror', (e) => problems.push(String(e)));
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await stopAllKernels();
  await db?.drop();
});

const badge = (name: string) => page.locator(`tr[data-module="${name}"] [data-field="state"]`);

async function waitText(selector: string, text: string, timeout = 20_000): Promise<void> {
  await page.waitForFunction(
    ([sel, t]) => Array.from((globalThis as unknown as BrowserGlobal).document.querySelectorAll(sel!)).some((n) => (n.textContent ?? '').includes(t!)),
    [selector, text] as const,
    { timeout },
  );
}

/** The sign-in form: a signed-out browser is sent to /login and comes back to the dashboard. */
async function signIn(p: Page, kernel: RunningKernel): Promise<void> {
  await p.goto(`${kernel.adminUrl}/`);
  expect(new URL(p.url()).pathname).toBe('/login');
  await p.fill('#token', kernel.adminToken()!);
  await p.locator('form.login-form button[type="submit"]').click();
  await p.waitForURL(`${kernel.adminUrl}/`);
}

describe('dashboard in Chromium', () => {
  it('lists the modules with their states, live', async () => {
    await signIn(page, k);
    expect(await page.title()).toContain('BMC Hub');
    await page.locator('#live[data-state="open"]').waitFor({ timeout: 15_000 });
    expect(await badge('notes').textContent()).toBe('running');
    expect(await badge('loud').textContent()).toBe('running');
    expect(await badge('broken').textContent()).toBe('failed');
    expect(await page.locator('[data-stat="running"]').textContent()).toBe('4');
    expect(await page.locator('tr[data-module="notes"] code').textContent()).toBe('/api/v1/notes');
  });

  it('shows markup in a last error as text', async () => {
    const err = page.locator('tr[data-module="broken"] .row-error');
    expect(await err.textContent()).toContain('<script>window.__pwned = 1</script>');
    expect(await page.evaluate(() => (globalThis as unknown as BrowserGlobal).__pwned)).toBeUndefined();
    expect(await page.locator('tr[data-module="broken"] script, tr[data-module="broken"] img').count()).toBe(0);
  });

  it('disables a module with a click and shows the new state without reloading', async () => {
    await page.evaluate(() => ((globalThis as unknown as BrowserGlobal).__sameDocument = true));
    await page.locator('tr[data-module="loud"] button[data-action="disable"]').click();
    await page.locator('dialog#confirm #confirm-ok').click(); // Disable asks first (kernel/public/confirm.js)
    await waitText('tr[data-module="loud"] [data-field="state"]', 'disabled');
    expect(await page.evaluate(() => (globalThis as unknown as BrowserGlobal).__sameDocument)).toBe(true);
    expect((await k.record('loud')).state).toBe('disabled');
    await page.locator('tr[data-module="loud"] button[data-action="enable"]').waitFor();
    expect(await page.locator('[data-stat="running"]').textContent()).toBe('3');


    // the README's dashboard picture comes from tests/dashboard-charts.test.ts (it has the charts); this one stays in a temp dir
    const shot = join(tempDir('shot'), 'dashboard.png');
    await page.screenshot({ path: shot });
    expect(statSync(shot).size).toBeGreaterThan(10_000);

    await page.locator('tr[data-module="loud"] button[data-action="enable"]').click();
    await waitText('tr[data-module="loud"] [data-field="state"]', 'running');
    expect((await k.record('loud')).state).toBe('running');
  });

  it('follows a module log live on its page, markup shown as text', async () => {
    await page.goto(`${k.adminUrl}/modules/loud`);
    await page.locator('#live[data-state="open"]').waitFor({ timeout: 15_000 });
    // a line written after the tail connected can only arrive through the live stream
    await page.locator('#log-lines[data-following="true"]').waitFor({ timeout: 15_000 });
    const line = `hello from the test ${Date.now()} ${HOSTILE}`;
    expect((await k.get(`/api/v1/loud/say?msg=${encodeURIComponent(line)}`)).status).toBe(200);
    await waitText('#log-lines .log-line .msg', line);
    expect(await page.evaluate(() => (globalThis as unknown as BrowserGlobal).__pwned)).toBeUndefined();
    expect(await page.locator('#log-lines script, #log-lines img').count()).toBe(0);
  });

  it('shows a failed module page with its last error as text', async () => {
    await page.goto(`${k.adminUrl}/modules/broken`);
    expect(await page.locator('[data-field="state"]').first().textContent()).toBe('failed');
    expect(await page.locator('#last-error').isVisible()).toBe(true);
    expect(await page.locator('#last-error pre').textContent()).toContain(HOSTILE);
    expect(await page.evaluate(() => (globalThis as unknown as BrowserGlobal).__pwned)).toBeUndefined();
  });

  it('opens /api/docs and finds the modules grouped by their tags', async () => {
    await page.goto(`${k.url}/api/docs`);
    await page.locator('.opblock-tag', { hasText: 'Loud' }).first().waitFor({ timeout: 30_000 });
    await page.locator('.opblock-tag', { hasText: 'Notes' }).first().waitFor();
    expect(await page.locator('.opblock-summary-path', { hasText: '/api/v1/loud/say' }).count()).toBeGreaterThan(0);
  });

  it('keeps the credential only in an HttpOnly SameSite=Strict cookie: nothing a script can read', async () => {
    await page.goto(`${k.adminUrl}/`);
    const visible = await page.evaluate(() => {
      const g = globalThis as unknown as { sessionStorage: { length: number }; localStorage: { length: number }; document: { cookie: string } };
      return { session: g.sessionStorage.length, local: g.localStorage.length, cookie: g.document.cookie };
    });
    expect(visible).toEqual({ session: 0, local: 0, cookie: '' });
    const cookies = await page.context().cookies();
    expect(cookies).toHaveLength(1);
    expect(cookies[0]).toMatchObject({ name: 'hub_admin_session', httpOnly: true, sameSite: 'Strict' });
    expect(cookies[0]!.value).not.toContain(k.adminToken()!);
    // the dashboard refuses to be framed by anyone, a module page included
    expect((await k.admin('/', { headers: { accept: 'text/html' } })).headers.get('content-security-policy')).toMatch(/frame-ancestors 'none'/);
  });

  it('a module page on the public origin (/evilui) reads no credential and cannot drive the admin API on either origin', async () => {
    // the operator is signed in on the admin origin in this very browser
    expect((await page.context().cookies()).map((c) => c.name)).toContain('hub_admin_session');
    const victim = await k.record('victim');
    const evil = await page.context().newPage();
    try {
      await evil.goto(`${k.url}/evilui?adm=${encodeURIComponent(k.adminUrl)}`);
      await evil.waitForFunction(() => (globalThis as unknown as BrowserGlobal).__loot?.done === true, undefined, { timeout: 20_000 });
      const loot = (await evil.evaluate(() => (globalThis as unknown as BrowserGlobal).__loot))!;
      expect(loot.session).toBe('{}');
      expect(loot.local).toBe('{}');
      expect(loot.cookie).toBe('');
      expect(loot.results.publicDisable).toBe(401);
      expect(loot.results.adminDisable).toBe('blocked'); // no CORS: the answer is unreadable
      expect(loot.results.adminLogs).toBe('blocked');
      // the module never received the hub's cookie, though the browser sent it to the public port
      for (const c of (await k.json('/evilui/seen')) as string[]) expect(c).not.toContain('hub_admin_session');
    } finally {
      await evil.close();
    }
    expect(await k.record('victim')).toMatchObject({ state: 'running', enabled: true, pid: victim.pid });
  });

  it('reads fine without JavaScript: server-rendered, escaped, behind a strict CSP', async () => {
    const res = await k.admin('/', { headers: { accept: 'text/html' } });
    expect(res.headers.get('content-security-policy')).toMatch(/script-src 'self'(;|$)/);
    const html = await res.text();
    expect(html).toMatch(/data-module="notes"[\s\S]*?data-field="state">running</);
    expect(html).not.toContain('<script>window.__pwned');
    expect(html).toContain('&lt;script&gt;window.__pwned');
    const broken = await (await k.admin('/modules/broken', { headers: { accept: 'text/html' } })).text();
    expect(broken).not.toContain('<script>window.__pwned');
    expect(broken).toContain('&lt;script&gt;window.__pwned');

    const context = await browser.newContext({ javaScriptEnabled: false });
    const p = await context.newPage();
    try {
      await signIn(p, k); // the sign-in form is plain HTML

      expect(await p.locator('tr[data-module="notes"] [data-field="state"]').textContent()).toBe('running');
      expect(await p.locator('tr[data-module="notes"] [data-field="memory"]').textContent()).toMatch(/MB$/);
      // buttons need the script: without it they are not offered
      expect(await p.locator('button[data-action="disable"]').first().isVisible()).toBe(false);
    } finally {
      await context.close();
    }
  });

  it('ran without script errors or CSP violations', () => {
    expect(problems).toEqual([]);
  });
});
