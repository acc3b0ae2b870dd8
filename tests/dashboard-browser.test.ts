// The dashboard in a real browser (Debian's Chromium driven by playwright-core): modules are
// listed and running, a click disables one and its badge changes without a reload, a log
// line shows up live on the module page, /api/docs shows the modules' tags, and markup
// inside errors and log lines is shown as text, never run.
import { cpSync, existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { HUB_ROOT } from '../shared/paths.js';
import { createTestDatabase, type TestDatabase } from './helpers/database.js';
import { startKernel, stopAllKernels, type RunningKernel } from './helpers/kernel.js';
import { helloRouter, tempDir, writeModule } from './helpers/modules.js';

const CHROMIUM = '/usr/bin/chromium';

// Page functions run in the browser; the project's tsconfig has no DOM types, so they see it as this.
interface BrowserGlobal {
  __pwned?: number;
  __sameDocument?: boolean;
  document: { querySelectorAll(selector: string): ArrayLike<{ textContent: string | null }> };
}
const HOSTILE = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">';

let k: RunningKernel;
let db: TestDatabase;
let browser: Browser;
let page: Page;
const problems: string[] = [];

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium (.ci/run does this)`);
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
  k = await startKernel({ modulesDir, databaseUrl: db.url, env: { HUB_BACKOFF_BASE_MS: '20', HUB_CRASH_LIMIT: '2' } });
  await k.waitForState('broken', 'failed');
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  // launch() gives a fresh temporary profile: no cookies, no storage from earlier runs
  page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
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

describe('dashboard in Chromium', () => {
  it('lists the modules with their states, live', async () => {
    await page.goto(`${k.url}/`);
    expect(await page.title()).toContain('BMC Hub');
    await page.locator('#live[data-state="open"]').waitFor({ timeout: 15_000 });
    expect(await badge('notes').textContent()).toBe('running');
    expect(await badge('loud').textContent()).toBe('running');
    expect(await badge('broken').textContent()).toBe('failed');
    expect(await page.locator('[data-stat="running"]').textContent()).toBe('2');
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
    await waitText('tr[data-module="loud"] [data-field="state"]', 'disabled');
    expect(await page.evaluate(() => (globalThis as unknown as BrowserGlobal).__sameDocument)).toBe(true);
    expect((await k.record('loud')).state).toBe('disabled');
    await page.locator('tr[data-module="loud"] button[data-action="enable"]').waitFor();
    expect(await page.locator('[data-stat="running"]').textContent()).toBe('1');


    // the README's picture is refreshed on request (UPDATE_SCREENSHOT=1), so test runs leave the tree clean
    const shot = process.env.UPDATE_SCREENSHOT === '1' ? join(HUB_ROOT, 'docs', 'dashboard.png') : join(tempDir('shot'), 'dashboard.png');
    await page.screenshot({ path: shot });
    expect(statSync(shot).size).toBeGreaterThan(10_000);

    await page.locator('tr[data-module="loud"] button[data-action="enable"]').click();
    await waitText('tr[data-module="loud"] [data-field="state"]', 'running');
    expect((await k.record('loud')).state).toBe('running');
  });

  it('follows a module log live on its page, markup shown as text', async () => {
    await page.goto(`${k.url}/modules/loud`);
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
    await page.goto(`${k.url}/modules/broken`);
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

  it('asks for the admin token once, keeps it in session storage and never in a cookie', async () => {
    const modulesDir = tempDir('dashboard-token');
    writeModule(modulesDir, 'quiet', { router: helloRouter });
    const guarded = await startKernel({ modulesDir, env: { HUB_ADMIN_TOKEN: 'sesame-123' } });
    const context = await browser.newContext();
    const p = await context.newPage();
    try {
      await p.goto(`${guarded.url}/`);
      await p.locator('#live[data-state="open"]').waitFor({ timeout: 15_000 });
      // a token is configured: the field is offered before any click
      await p.locator('#token-form').waitFor();
      await p.locator('tr[data-module="quiet"] button[data-action="restart"]').click();
      await p.locator('#toast[data-kind="error"]').waitFor();
      expect(await p.locator('#toast').textContent()).toContain('admin token');
      await p.fill('#token-input', 'sesame-123');
      await p.locator('#token-form button[type="submit"]').click();
      await p.locator('#token-set').waitFor();
      await p.locator('tr[data-module="quiet"] button[data-action="disable"]').click();
      await p.waitForFunction(() =>
        Array.from((globalThis as unknown as BrowserGlobal).document.querySelectorAll('tr[data-module="quiet"] [data-field="state"]')).some((n) => n.textContent === 'disabled'));
      expect((await guarded.record('quiet')).state).toBe('disabled');
      expect(await p.evaluate(() => (globalThis as unknown as { sessionStorage: { getItem(k: string): string | null } }).sessionStorage.getItem('bmc-hub-admin-token'))).toBe('sesame-123');
      expect(await context.cookies()).toEqual([]);
    } finally {
      await context.close();
      await guarded.stop();
    }
  });

  it('reads fine without JavaScript: server-rendered, escaped, behind a strict CSP', async () => {
    const res = await k.get('/');
    expect(res.headers.get('content-security-policy')).toMatch(/script-src 'self'(;|$)/);
    const html = await res.text();
    expect(html).toMatch(/data-module="notes"[\s\S]*?data-field="state">running</);
    expect(html).not.toContain('<script>window.__pwned');
    expect(html).toContain('&lt;script&gt;window.__pwned');
    const broken = await (await k.get('/modules/broken')).text();
    expect(broken).not.toContain('<script>window.__pwned');
    expect(broken).toContain('&lt;script&gt;window.__pwned');

    const context = await browser.newContext({ javaScriptEnabled: false });
    const p = await context.newPage();
    try {
      await p.goto(`${k.url}/`);
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
