// Issue 15 item 6: HUB_AUTH=oidc against a real OpenID Connect issuer (oidc-provider on
// loopback, its development sign-in screens) in a real browser: /login goes to the issuer,
// the code flow with PKCE comes back signed in, the user is created on first sign-in with no
// grants, and a grant given by the admin survives the next sign-in. A replayed callback is
// refused with 401 unauthenticated, and so is a callback opened in a browser that did not
// start the flow (login CSRF: the state is bound to an HttpOnly flow cookie).
import { createServer, type Server } from 'node:http';
import { rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Browser, type Page } from 'playwright-core';
import { launchChromium } from './helpers/browser.js';
import Provider from 'oidc-provider';
import { createTestDatabase, type TestDatabase } from './helpers/database.js';
import { startKernel, stopAllKernels, type RunningKernel } from './helpers/kernel.js';
import { tempDir, writeModule } from './helpers/modules.js';

let k: RunningKernel;
let db: TestDatabase;
let browser: Browser;
let issuerServer: Server;
let modulesDir: string;

beforeAll(async () => {
  db = await createTestDatabase();
  modulesDir = tempDir('oidc');
  writeModule(modulesDir, 'probe', {
    manifest: { permissions: { read: 'read' }, roles: { reader: ['read'] } },
    router: `export default (router, ctx) => { router.get('/whoami', ctx.auth.require('read'), (req, res) => res.json(req.user)); };`,
  });
  // the issuer's port first, so the kernel can be told where it is; the provider, which
  // needs the kernel's callback URL, is attached once the kernel is up
  let handler: ((req: any, res: any) => void) | null = null;
  issuerServer = createServer((req, res) => (handler ? handler(req, res) : res.writeHead(503).end()));
  await new Promise<void>((r) => issuerServer.listen(0, '127.0.0.1', () => r()));
  const issuer = `http://127.0.0.1:${(issuerServer.address() as AddressInfo).port}`;
  k = await startKernel({
    modulesDir, databaseUrl: db.url,
    env: { HUB_AUTH: 'oidc', HUB_OIDC_ISSUER: issuer, HUB_OIDC_CLIENT_ID: 'hub', HUB_OIDC_CLIENT_SECRET: 'hub-client-secret' },
  });
  const provider = new Provider(issuer, {
    clients: [{ client_id: 'hub', client_secret: 'hub-client-secret', redirect_uris: [`${k.url}/api/v1/auth/oidc/callback`], grant_types: ['authorization_code'], response_types: ['code'] }],
    // the issuer sends a "groups" claim claiming admin: the hub must ignore it
    findAccount: async (_ctx: unknown, id: string) => ({ accountId: id, claims: async () => ({ sub: id, preferred_username: id, email: `${id}@example.org`, groups: ['hub.admin'] }) }),
    claims: { openid: ['sub'], profile: ['preferred_username', 'groups'], email: ['email'] },
    features: { devInteractions: { enabled: true } },
    cookies: { keys: ['test-cookie-key'] },
  } as any);
  handler = provider.callback();
  browser = await launchChromium();
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await stopAllKernels();
  await new Promise((r) => issuerServer?.close(r));
  await db?.drop();
  rmSync(modulesDir, { recursive: true, force: true });
  if (k) rmSync(k.dataDir, { recursive: true, force: true });
});

/** Signs `login` in through the issuer's development screens; returns the page, back on the hub. */
async function oidcSignIn(login: string): Promise<{ page: Page; cookie: string; callback: string }> {
  const context = await browser.newContext();
  const page = await context.newPage();
  let callback = '';
  page.on('request', (r) => {
    if (r.url().includes('/api/v1/auth/oidc/callback')) callback = r.url();
  });
  await page.goto(`${k.url}/login?next=/api/v1/auth/me`, { waitUntil: 'domcontentloaded' });
  expect(page.url().startsWith(k.url)).toBe(false);
  await page.fill('input[name="login"]', login);
  await page.fill('input[name="password"]', 'anything');
  await page.click('button[type="submit"]');
  await page.waitForSelector('button[type="submit"]:has-text("Continue"), pre, body:has-text("username")', { timeout: 20_000 });
  if (!page.url().startsWith(k.url)) await page.click('button:has-text("Continue")');
  await page.waitForURL(`${k.url}/api/v1/auth/me`, { timeout: 20_000 });
  const cookie = (await context.cookies(k.url)).find((c) => c.name === 'hub_session')!;
  return { page, cookie: `hub_session=${cookie.value}`, callback };
}

describe('HUB_AUTH=oidc', () => {
  it('signs in through the issuer with PKCE, creates the user with no grants, ignores the issuer\'s claims about grants', async () => {
    const { page, cookie, callback } = await oidcSignIn('olivia');
    const me = JSON.parse(await page.locator('body').innerText());
    expect(me).toMatchObject({ username: 'olivia', grants: [], via: 'session' });
    expect(new URL(callback).searchParams.get('code')).toBeTruthy();
    // no grant of probe yet: 403 before the child
    const refused = await k.get('/api/v1/probe/whoami', { headers: { cookie } });
    expect(refused.status).toBe(403);
    // the callback cannot be replayed
    const replay = await fetch(callback, { redirect: 'manual' });
    expect(replay.status).toBe(401);
    expect(((await replay.json()) as any).error).toBe('unauthenticated');
    await page.context().close();
  });

  it('keeps grants across sign-ins: the issuer never resets them', async () => {
    expect((await k.admin('/api/v1/users/olivia/grants', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ grant: 'probe.reader' }) })).status).toBe(201);
    const { page, cookie } = await oidcSignIn('olivia');
    const me = JSON.parse(await page.locator('body').innerText());
    expect(me.grants).toEqual(['probe.reader']);
    const who = (await (await k.get('/api/v1/probe/whoami', { headers: { cookie } })).json()) as any;
    expect(who).toEqual({ id: me.id, username: 'olivia', permissions: ['read'] });
    const users = (await (await k.admin('/api/v1/users')).json()) as any[];
    expect(users.filter((u) => u.username.startsWith('olivia'))).toHaveLength(1);
    await page.context().close();
  });

  it('an issuer account named like a local user (admin, with hub.admin) gets a user of its own, with no grants', async () => {
    const { page } = await oidcSignIn('admin');
    const me = JSON.parse(await page.locator('body').innerText());
    expect(me.username).toMatch(/^admin-[0-9a-f]{4}$/);
    expect(me.grants).toEqual([]);
    expect(me.id).not.toBe(1);
    const users = (await (await k.admin('/api/v1/users')).json()) as any[];
    expect(users.find((u) => u.username === 'admin')).toMatchObject({ grants: ['hub.admin'], sso: false });
    expect(users.find((u) => u.username === me.username)).toMatchObject({ grants: [], sso: true });
    await page.context().close();
  });

  it('refuses a callback opened in another browser (login CSRF): the state is bound to the browser that started the flow', async () => {
    // the attacker goes through the issuer in their own browser and keeps the callback URL
    const attacker = await browser.newContext();
    const page = await attacker.newPage();
    let callback = '';
    // a route sees only the first request of a navigation, not the redirects after it: the
    // issuer's redirects are followed here, and the one to the callback is kept and stopped
    const toIssuer = (url: URL) => url.hostname === '127.0.0.1' && !url.href.startsWith(k.url);
    await page.route(toIssuer, async (route) => {
      let res = await route.fetch({ maxRedirects: 0 });
      let at = route.request().url();
      for (let hops = 0; hops < 10; hops++) {
        const location = res.headers().location;
        if (!location) break;
        const next = new URL(location, at).href;
        if (next.includes('/api/v1/auth/oidc/callback')) {
          callback = next;
          return route.abort();
        }
        if (!next.startsWith(new URL(at).origin)) break;
        res = await attacker.request.get(next, { maxRedirects: 0 });
        at = next;
      }
      return route.fulfill({ response: res });
    });
    await page.goto(`${k.url}/login?next=/api/v1/auth/me`, { waitUntil: 'domcontentloaded' });
    const flowCookie = (await attacker.cookies(`${k.url}/api/v1/auth/oidc/callback`)).find((c) => c.name === 'hub_oidc_flow')!;
    expect(flowCookie).toMatchObject({ httpOnly: true, sameSite: 'Lax', path: '/api/v1/auth/oidc/callback' });
    await page.fill('input[name="login"]', 'mallory');
    await page.fill('input[name="password"]', 'anything');
    await page.click('button[type="submit"]');
    await page.waitForSelector('button[type="submit"]:has-text("Continue")', { timeout: 20_000 }).then(() => page.click('button:has-text("Continue")')).catch(() => undefined);
    await expect.poll(() => callback, { timeout: 20_000 }).not.toBe('');
    // the victim's browser opens it: 401, and no session
    const victim = await browser.newContext();
    const vpage = await victim.newPage();
    const answer = await vpage.goto(callback);
    expect(answer!.status()).toBe(401);
    expect(JSON.parse(await vpage.locator('body').innerText()).error).toBe('unauthenticated');
    expect((await victim.cookies(k.url)).some((c) => c.name === 'hub_session')).toBe(false);
    // the same URL in the browser that started the flow signs in (the binding, not the URL, decides)
    await page.unroute(toIssuer);
    await page.goto(callback);
    expect(page.url()).toBe(`${k.url}/api/v1/auth/me`);
    expect(JSON.parse(await page.locator('body').innerText())).toMatchObject({ username: 'mallory', via: 'session' });
    await attacker.close();
    await victim.close();
  });
});
