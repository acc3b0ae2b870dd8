// Issue 18 items 3 and 5 in a real browser (Debian's Chromium via playwright-core).
// Module pages inside the hub's layout (ctx.page): /notes shows the hub's header, the signed-in
// user's name, the hub's stylesheet, and a link back to the user's modules that works; a module
// page whose script asks the admin API (with the browser signed in to the dashboard) gets no data,
// while the same browser reading the same URL as a page of its own does.
// The dashboard: Disable and Restart ask first in a <dialog> (Cancel sends nothing, confirming
// acts), at 420 px wide every row's buttons are on screen and work, and the state badge's dot
// is drawn by CSS, not a character; the Notices page lists who switched a module, and the
// header badge counts notices not seen yet.
import { cpSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Browser, type BrowserContext, type Page } from 'playwright-core';
import { launchChromium } from './helpers/browser.js';
import { HUB_ROOT } from '../shared/paths.js';
import { createTestDatabase, type TestDatabase } from './helpers/database.js';
import { signIn as signInUser } from './helpers/identity.js';
import { startKernel, stopAllKernels, type RunningKernel } from './helpers/kernel.js';
import { helloRouter, tempDir, writeModule } from './helpers/modules.js';
import { waitFor } from './helpers/wait.js';


interface BrowserGlobal {
  document: { getElementById(id: string): { textContent: string | null } | null };
  getComputedStyle(e: unknown, pseudo?: string): { content: string; backgroundColor: string };
}

// A module page in the hub's layout whose script tries to read the admin API (URL from ?adm=).
const probeViews = `export default (router, ctx) => {
  router.get('/', async (req, res) => {
    await ctx.page(res, 'probe', { adm: String(req.query.adm ?? '') }, { title: 'Probe' });
  });
};`;
const probeTemplate = `<h1>Probe</h1>
<p id="probe">pending</p>
<script>
const adm = <%- JSON.stringify(adm) %>;
const out = document.getElementById('probe');
fetch(adm + '/api/v1/modules', { credentials: 'include' })
  .then((r) => r.text())
  .then((t) => (out.textContent = 'got:' + t), () => (out.textContent = 'blocked'));
</script>`;

let k: RunningKernel;
let db: TestDatabase;
let browser: Browser;

beforeAll(async () => {
  db = await createTestDatabase();
  const modulesDir = tempDir('operator-pages');
  cpSync(join(HUB_ROOT, 'modules', 'notes'), join(modulesDir, 'notes'), { recursive: true });
  writeModule(modulesDir, 'probe', { views: probeViews, files: { 'templates/probe.ejs': probeTemplate } });
  writeModule(modulesDir, 'victim', { router: helloRouter });
  k = await startKernel({ modulesDir, databaseUrl: db.url });
  browser = await launchChromium();
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await stopAllKernels();
  await db?.drop();
});

/** Signs `p` in to the dashboard with the admin token (the HttpOnly session cookie). */
async function signInAdmin(p: Page): Promise<void> {
  await p.goto(`${k.adminUrl}/`);
  await p.fill('#token', k.adminToken()!);
  await p.locator('form.login-form button[type="submit"]').click();
  await p.waitForURL(`${k.adminUrl}/`);
}

/** Signs `p` in on the public origin as a user who may read notes. */
async function signInReader(p: Page, username: string): Promise<void> {
  const user = await signInUser(k, username, ['notes.viewer']);
  await p.goto(`${k.url}/login`);
  await p.fill('#username', username);
  await p.fill('#password', user.password);
  await p.click('button[type="submit"]');
  await p.waitForURL(`${k.url}/`);
}

describe('module pages in the hub layout', () => {
  let context: BrowserContext;
  let page: Page;
  beforeAll(async () => {
    context = await browser.newContext({ viewport: { width: 1100, height: 760 } });
    page = await context.newPage();
  });
  afterAll(() => context?.close());

  it('shows the header, the signed-in user, the hub stylesheet, and a working link back', async () => {
    await signInReader(page, 'nora');
    await page.goto(`${k.url}/notes`);
    expect(await page.title()).toBe('Notes · BMC Hub');
    expect(await page.locator('.hub-brand').textContent()).toContain('BMC Hub');
    expect(await page.locator('#hub-user').textContent()).toContain('Signed in as nora');
    expect(await page.locator('.hub-main h1').textContent()).toBe('Notes');
    // the stylesheet came from /_hub/hub.css and applies: the header has the hub's dark brand colour
    const bar = await page.locator('.hub-bar').evaluate((e) => (globalThis as unknown as BrowserGlobal).getComputedStyle(e).backgroundColor);
    expect(bar).toBe('rgb(20, 35, 60)');
    // the dashboard link is a plain link to the admin origin, no token in it
    expect(await page.locator('#hub-dashboard').getAttribute('href')).toBe(`${k.adminUrl}/`);

    if (process.env.UPDATE_SCREENSHOT === '1') await page.screenshot({ path: join(HUB_ROOT, 'docs', 'module-page.png') });
    else {
      const shot = join(tempDir('shot'), 'module-page.png');
      await page.screenshot({ path: shot });
      expect(statSync(shot).size).toBeGreaterThan(5_000);
    }

    await page.click('#hub-home');
    await page.waitForURL(`${k.url}/`);
    expect(await page.locator('#who').textContent()).toContain('Signed in as nora');
    expect(await page.locator('li[data-module="notes"] a').getAttribute('href')).toBe('/notes');
  });

  it('shows "Sign in" to a visitor who is not signed in', async () => {
    const visitor = await browser.newContext();
    try {
      const p = await visitor.newPage();
      await p.goto(`${k.url}/probe?adm=${encodeURIComponent(k.adminUrl)}`);
      expect(await p.locator('#hub-user').textContent()).toBe('Sign in');
      // the stylesheet needs no sign-in either
      const bar = await p.locator('.hub-bar').evaluate((e) => (globalThis as unknown as BrowserGlobal).getComputedStyle(e).backgroundColor);
      expect(bar).toBe('rgb(20, 35, 60)');
      expect(await p.locator('#hub-user').getAttribute('href')).toBe('/login?next=%2Fprobe');
    } finally {
      await visitor.close();
    }
  });

  it('gives a module page no reach into the admin API, even with the dashboard signed in', async () => {
    await signInAdmin(page);
    // control: this browser's own page on the admin origin reads the API with its cookie
    await page.goto(`${k.adminUrl}/api/v1/modules`);
    expect(await page.locator('body').textContent()).toContain('"name":"probe"');

    await page.goto(`${k.url}/probe?adm=${encodeURIComponent(k.adminUrl)}`);
    expect(await page.locator('.hub-bar').count()).toBe(1);
    await page.waitForFunction(() => (globalThis as unknown as BrowserGlobal).document.getElementById('probe')?.textContent !== 'pending', null, { timeout: 15_000 });
    expect(await page.locator('#probe').textContent()).toBe('blocked');
  });
});

describe('dashboard confirmations at phone width', () => {
  let context: BrowserContext;
  let page: Page;
  const posts: string[] = [];
  beforeAll(async () => {
    context = await browser.newContext({ viewport: { width: 420, height: 860 }, isMobile: true, hasTouch: true });
    page = await context.newPage();
    page.on('request', (r) => {
      if (r.method() === 'POST' && r.url().includes('/api/v1/modules/')) posts.push(new URL(r.url()).pathname);
    });
    await signInAdmin(page);
    await page.locator('#live[data-state="open"]').waitFor({ timeout: 15_000 });
  });
  afterAll(() => context?.close());

  const row = (name: string) => page.locator(`tr[data-module="${name}"]`);

  it('keeps every row\'s buttons on screen at 420 px', async () => {
    expect(await page.evaluate(() => (globalThis as unknown as { innerWidth: number }).innerWidth)).toBe(420);
    for (const name of ['notes', 'probe', 'victim']) {
      for (const action of ['disable', 'restart']) {
        const btn = row(name).locator(`button[data-action="${action}"]`);
        await btn.scrollIntoViewIfNeeded();
        expect(await btn.isVisible()).toBe(true);
        const box = (await btn.boundingBox())!;
        expect(box.x).toBeGreaterThanOrEqual(0);
        expect(box.x + box.width).toBeLessThanOrEqual(420);
        expect(box.height).toBeGreaterThanOrEqual(28); // a finger can hit it
      }
    }
    // nothing wider than the screen: no sideways scrolling to reach a button
    const scrollWidth = await page.evaluate(() => (globalThis as unknown as { document: { documentElement: { scrollWidth: number } } }).document.documentElement.scrollWidth);
    expect(scrollWidth).toBeLessThanOrEqual(420);
    // the README's picture is refreshed on request (UPDATE_SCREENSHOT=1), so test runs leave the tree clean
    const shot = process.env.UPDATE_SCREENSHOT === '1' ? join(HUB_ROOT, 'docs', 'dashboard-phone.png') : join(tempDir('shot'), 'dashboard-phone.png');
    await page.evaluate(() => (globalThis as unknown as { scrollTo(x: number, y: number): void }).scrollTo(0, 0));
    await page.screenshot({ path: shot, fullPage: true });
    expect(statSync(shot).size).toBeGreaterThan(5_000);
  });

  it('draws the state dot with CSS, no character a font may lack', async () => {
    const content = await row('victim').locator('[data-field="state"]').evaluate((e) => (globalThis as unknown as BrowserGlobal).getComputedStyle(e, '::before').content);
    expect(content).toBe('""');
    expect(await row('victim').locator('[data-field="state"]').textContent()).toBe('running');
  });

  it('asks before Disable: Cancel sends nothing, confirming disables', async () => {
    await row('victim').locator('button[data-action="disable"]').click();
    const dialog = page.locator('dialog#confirm');
    await dialog.waitFor({ state: 'visible' });
    expect(await dialog.locator('#confirm-title').textContent()).toBe('Disable victim?');
    await dialog.locator('button[value="cancel"]').click();
    await dialog.waitFor({ state: 'hidden' });
    expect(posts).toEqual([]);
    expect((await k.record('victim')).state).toBe('running');

    await row('victim').locator('button[data-action="disable"]').click();
    await dialog.waitFor({ state: 'visible' });
    await dialog.locator('#confirm-ok').click();
    await page.locator('tr[data-module="victim"] button[data-action="enable"]').waitFor({ timeout: 20_000 });
    expect(posts).toEqual(['/api/v1/modules/victim/disable']);
    expect((await k.record('victim')).state).toBe('disabled');

    // Enable does not ask
    await row('victim').locator('button[data-action="enable"]').click();
    await waitFor(async () => (await k.record('victim')).state === 'running', { what: 'victim running again' });
    expect(await dialog.isVisible()).toBe(false);
  });

  it('asks before Restart, and restarts once confirmed', async () => {
    const before = (await k.record('victim')).pid;
    await waitFor(async () => !(await row('victim').locator('button[data-action="restart"]').isDisabled()), { what: 'restart button enabled' });
    await row('victim').locator('button[data-action="restart"]').click();
    const dialog = page.locator('dialog#confirm');
    await dialog.waitFor({ state: 'visible' });
    expect(await dialog.locator('#confirm-title').textContent()).toBe('Restart victim?');
    await page.keyboard.press('Escape'); // the dialog's own cancel
    await dialog.waitFor({ state: 'hidden' });
    expect(posts.filter((p) => p.endsWith('/restart'))).toEqual([]);

    await row('victim').locator('button[data-action="restart"]').click();
    await dialog.waitFor({ state: 'visible' });
    await dialog.locator('#confirm-ok').click();
    await waitFor(async () => {
      const r = await k.record('victim');
      return r.state === 'running' && r.pid !== before;
    }, { what: 'victim restarted', timeoutMs: 30_000 });
    expect(posts.filter((p) => p.endsWith('/restart'))).toEqual(['/api/v1/modules/victim/restart']);
  });

  it('lists notices with who switched a module, and badges the ones not seen yet', async () => {
    // the disable above (and the enable, and the restart's nothing) made notices since the page loaded
    await page.goto(`${k.adminUrl}/`);
    const badge = page.locator('#notice-badge');
    await badge.waitFor({ state: 'visible', timeout: 15_000 });
    expect(Number(await badge.textContent())).toBeGreaterThanOrEqual(2);
    await page.click('#notices-link');
    await page.waitForURL(`${k.adminUrl}/notices`);
    const rows = page.locator('#notices tbody tr[data-notice]');
    expect(await rows.count()).toBeGreaterThanOrEqual(2);
    const texts = await rows.locator('.notice-msg').allTextContents();
    expect(texts).toContain('victim disabled by admin-token');
    expect(texts).toContain('victim enabled by admin-token');
    // seen now: back on the dashboard the badge is gone until something new happens
    await page.goto(`${k.adminUrl}/`);
    await page.waitForFunction(() => (globalThis as unknown as { document: { getElementById(id: string): { dataset: Record<string, string> } | null } }).document.getElementById('notice-badge')?.dataset.count === '0', null, { timeout: 15_000 });
    expect(await badge.isVisible()).toBe(false);
    await k.admin('/api/v1/modules/probe/disable', { method: 'POST' });
    await badge.waitFor({ state: 'visible', timeout: 15_000 });
    expect(await badge.textContent()).toBe('1');
    await k.admin('/api/v1/modules/probe/enable', { method: 'POST' });
  });
});
