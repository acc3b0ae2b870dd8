// Issue 15 in a real browser (Debian's Chromium via playwright-core): the public origin's
// /login page signs a user in (a wrong password shows an error), the session cookie is
// HttpOnly (no script sees it), a signed-out page load of a protected module lands on /login
// and returns there after sign-in, `/` is the user's start page (who is signed in, the
// modules they may open, sign-out); on the admin origin the dashboard's user screens add a
// user, grant and revoke, and the audit screen shows those actions.
import { cpSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Browser, type Page } from 'playwright-core';
import { launchChromium } from './helpers/browser.js';
import { HUB_ROOT } from '../shared/paths.js';
import { createTestDatabase, type TestDatabase } from './helpers/database.js';
import { signIn, signInAs } from './helpers/identity.js';
import { startKernel, stopAllKernels, type RunningKernel } from './helpers/kernel.js';
import { tempDir, writeModule } from './helpers/modules.js';


interface BrowserGlobal {
  document: { cookie: string };
}

let k: RunningKernel;
let db: TestDatabase;
let browser: Browser;
let modulesDir: string;

beforeAll(async () => {
  db = await createTestDatabase();
  modulesDir = tempDir('identity-browser');
  cpSync(join(HUB_ROOT, 'modules', 'notes'), join(modulesDir, 'notes'), { recursive: true });
  // a module with a page that declares permissions nobody here holds: never on zoe's start page
  writeModule(modulesDir, 'secretui', {
    manifest: { permissions: { read: 'read' } },
    views: `export default (router) => { router.get('/', (req, res) => res.send('secret')); };`,
  });
  k = await startKernel({ modulesDir, databaseUrl: db.url });
  browser = await launchChromium();
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await stopAllKernels();
  await db?.drop();
  rmSync(modulesDir, { recursive: true, force: true });
  if (k) rmSync(k.dataDir, { recursive: true, force: true });
});

describe('signing in on the public origin', () => {
  it('sends a signed-out page load to /login, signs in there, returns, and keeps the cookie from scripts', async () => {
    const zoe = await signIn(k, 'zoe', ['notes.viewer']);
    const context = await browser.newContext();
    const page: Page = await context.newPage();
    await page.goto(`${k.url}/notes`);
    expect(new URL(page.url()).pathname).toBe('/login');
    expect(new URL(page.url()).searchParams.get('next')).toBe('/notes');
    await page.fill('#username', 'zoe');
    await page.fill('#password', 'not-her-password');
    await page.click('button[type="submit"]');
    await page.waitForURL(/\/login\?error=1/);
    expect(await page.locator('[role="alert"]').textContent()).toContain('Wrong username or password');
    await page.fill('#username', 'zoe');
    await page.fill('#password', zoe.password);
    await page.click('button[type="submit"]');
    await page.waitForURL(`${k.url}/notes`);
    expect(await page.content()).toContain('Notes');
    const cookies = await context.cookies(k.url);
    const session = cookies.find((c) => c.name === 'hub_session')!;
    expect(session).toMatchObject({ httpOnly: true, sameSite: 'Lax', path: '/' });
    expect(await page.evaluate(() => (globalThis as unknown as BrowserGlobal).document.cookie)).not.toContain('hub_session');

    // the start page: who, the modules zoe may open (notes, not secretui), sign-out
    await page.goto(`${k.url}/`);
    expect(await page.locator('#who').textContent()).toContain('Signed in as zoe');
    expect(await page.locator('li[data-module="notes"] a').getAttribute('href')).toBe('/notes');
    expect(await page.locator('li[data-module="secretui"]').count()).toBe(0);
    await page.click('text=Sign out');
    await page.waitForURL(`${k.url}/login`);
    await page.goto(`${k.url}/`);
    expect(await page.locator('#who').textContent()).toContain('Not signed in');
    await context.close();
  });
});

describe('the dashboard\'s user screens on the admin origin', () => {
  it('adds a user, grants and revokes, and shows those actions in the audit screen', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${k.adminUrl}/users`);
    expect(new URL(page.url()).pathname).toBe('/login');
    await page.fill('#token', k.adminToken()!);
    await page.locator('form.login-form button[type="submit"]').click();
    await page.waitForURL(`${k.adminUrl}/`);
    await page.click('nav >> text=Users');
    await page.waitForURL(`${k.adminUrl}/users`);
    expect(await page.locator('tr[data-user="admin"] code').first().textContent()).toBe('hub.admin');

    await page.fill('#new-username', 'yara');
    await page.fill('#new-password', 'yara-password-1');
    await page.click('#add-user button[type="submit"]');
    await page.waitForURL(/\/users\?ok=/);
    expect(await page.locator('#users-message').textContent()).toContain('user yara added');

    const row = page.locator('tr[data-user="yara"]');
    await row.locator('.grant-form input[name="grant"]').fill('notes.editor');
    await row.locator('.grant-form button').click();
    await page.waitForURL(/\/users\?ok=/);
    expect(await page.locator('tr[data-user="yara"] form[data-grant="notes.editor"] code').textContent()).toBe('notes.editor');
    const me = (await (await (await signInAs(k, 'yara', 'yara-password-1')).get('/api/v1/auth/me')).json()) as any;
    expect(me.grants).toEqual(['notes.editor']);

    await page.locator('tr[data-user="yara"] form[data-grant="notes.editor"] button').click();
    await page.waitForURL(/\/users\?ok=/);
    expect(await page.locator('tr[data-user="yara"] form[data-grant]').count()).toBe(0);

    // a bad grant comes back as a message, not an error page
    await page.locator('tr[data-user="yara"] .grant-form input[name="grant"]').fill('NOT-A-GRANT');
    await page.locator('tr[data-user="yara"] .grant-form button').click();
    await page.waitForURL(/\/users\?error=/);
    expect(await page.locator('#users-message').textContent()).toContain('a grant is');

    await page.click('nav >> text=Audit');
    await page.waitForURL(`${k.adminUrl}/audit`);
    const actions = await page.locator('#audit tbody tr td:nth-child(3)').allTextContents();
    expect(actions).toContain('admin POST /users/add');
    expect(actions).toContain('admin POST /users/grant');
    expect(actions).toContain('admin POST /users/revoke');
    await context.close();
  });
});

