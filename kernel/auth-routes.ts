// The public origin's sign-in routes (DESIGN.md "Identity and permissions"):
//   POST /api/v1/auth/login   {"username","password"} (JSON or a form) → session cookie
//   POST /api/v1/auth/logout  ends the session on every kernel
//   GET  /api/v1/auth/me      {"id","username","grants","via"} or 401 unauthenticated
//   POST /api/v1/auth/tokens  {"name","expires_in_days"} → {"token":"bmc_pat_…"} once (from a
//                             browser session, also "password": module pages share the origin)
//   GET  /api/v1/auth/tokens, DELETE /api/v1/auth/tokens/:id
//   GET  /login               the sign-in page
// The cookie is HttpOnly, SameSite=Lax, Path=/, and `__Host-`-prefixed with Secure when
// HUB_SECURE_COOKIES=true (the hub behind a TLS proxy). Cross-site posts never get here
// (kernel/request-guards.ts), which also rules out login CSRF.
import express, { type Express, type Request, type Response } from 'express';
import { HubError } from '../shared/errors.js';
import type { IdentityService } from './identity.js';
import { resolveIdentity, SECURE_SESSION_COOKIE, SESSION_COOKIE, sessionCookie } from './identity-resolve.js';
import { MAX_TOKEN_DAYS, SESSION_TTL_MS, type Identity } from './identity-store.js';
import { loginPage } from './login-page.js';
import { mountOidc } from './auth-oidc.js';
import type { OidcSettings } from './config.js';

/** The sign-in settings, checked in kernel/config.ts: Secure cookies (HUB_SECURE_COOKIES) and OIDC (HUB_AUTH=oidc). */
export interface AuthRouteOptions {
  secureCookies: boolean;
  oidc: OidcSettings | null;
}

function setSessionCookie(res: Response, id: string, secure: boolean): void {
  const attrs = `Path=/; HttpOnly; SameSite=Lax; Max-Age=${SESSION_TTL_MS / 1000}`;
  res.append('set-cookie', secure ? `${SECURE_SESSION_COOKIE}=${id}; ${attrs}; Secure` : `${SESSION_COOKIE}=${id}; ${attrs}`);
}

function clearSessionCookie(res: Response, secure: boolean): void {
  res.append('set-cookie', `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0`);
  if (secure) res.append('set-cookie', `${SECURE_SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0; Secure`);
}

/** Only a same-site path may be a redirect target: `/x`, never `//host` or `/\host`. */
export function safeNext(next: unknown): string {
  return typeof next === 'string' && /^\/(?![/\\])[\x21-\x7e]*$/.test(next) ? next : '/';
}

/** The identity of a request on the public origin, or HubError `unauthenticated`. */
export async function requireIdentity(identity: IdentityService, req: Request): Promise<Identity> {
  const who = await resolveIdentity(req, identity.cache, identity.adminDigest);
  if (!who) throw new HubError('unauthenticated', 'nobody is signed in: sign in at /login or send Authorization: Bearer <bmc_pat_ token>');
  return who;
}

/** Mounts the sign-in routes and /login page on the public origin's app. */
export function mountAuthRoutes(app: Express, identity: IdentityService, opts: AuthRouteOptions): void {
  const setSession = (res: Response, id: string): void => setSessionCookie(res, id, opts.secureCookies);
  const body = [express.json({ limit: '8kb' }), express.urlencoded({ extended: false, limit: '8kb' })];
  const store = () => {
    if (!identity.store) throw new HubError('database_unavailable', 'users need the database (HUB_DATABASE=off): only the admin token works');
    return identity.store;
  };

  // HUB_AUTH=oidc: /login goes to the issuer (kernel/auth-oidc.ts); the password route stays
  if (opts.oidc) mountOidc(app, identity, opts.oidc, opts.secureCookies, setSession, safeNext);

  app.get('/login', (req: Request, res: Response) => {
    res.setHeader('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'");
    res.type('html').send(loginPage(safeNext(req.query.next), typeof req.query.error === 'string'));
  });

  app.post('/api/v1/auth/login', ...body, async (req: Request, res: Response) => {
    const form = typeof req.is('application/x-www-form-urlencoded') === 'string';
    const { username, password } = (req.body ?? {}) as { username?: unknown; password?: unknown };
    if (typeof username !== 'string' || typeof password !== 'string' || username.length > 100) {
      throw new HubError('bad_request', 'send {"username": "...", "password": "..."}');
    }
    const name = username.trim().toLowerCase();
    const ip = req.socket.remoteAddress ?? '?';
    // counted before argon2 runs, so guesses sent at once cannot all pass (kernel/auth-rate-limit.ts)
    identity.limiter.begin(name, ip);
    const userId = await store().checkPassword(name, password);
    if (userId === null) {
      identity.audit.record({ actor: `${name.slice(0, 60)}@${ip}`, action: 'auth.login', result: 'refused' });
      if (form) return res.redirect(303, `/login?error=1&next=${encodeURIComponent(safeNext(req.body?.next))}`);
      throw new HubError('unauthenticated', 'wrong username or password');
    }
    identity.limiter.succeed(name, ip);
    const session = await store().createSession(userId);
    identity.audit.record({ actor: name, action: 'auth.login', result: 'ok', detail: { ip } });
    setSession(res, session.id);
    if (form) return res.redirect(303, safeNext(req.body?.next));
    const me = await store().userIdentity(userId, 'session');
    res.json({ user: { id: userId, username: name, grants: me?.grants ?? [] }, expires_at: session.expires.toISOString() });
  });

  app.post('/api/v1/auth/logout', async (req: Request, res: Response) => {
    const sid = sessionCookie(req);
    if (sid && identity.store) {
      await identity.store.endSession(sid);
      identity.cache?.clear();
    }
    clearSessionCookie(res, opts.secureCookies);
    if (req.is('application/x-www-form-urlencoded')) return res.redirect(303, '/login');
    res.json({ signed_out: true });
  });

  app.get('/api/v1/auth/me', async (req: Request, res: Response) => {
    const who = await requireIdentity(identity, req);
    res.json({ id: who.id, username: who.username, grants: who.grants, via: who.via });
  });

  app.post('/api/v1/auth/tokens', ...body, async (req: Request, res: Response) => {
    const who = await requireIdentity(identity, req);
    if (who.via === 'admin') throw new HubError('bad_request', 'the admin token is not a user: sign in as a user to create personal tokens');
    // A token must not mint tokens: one that leaked would make itself a 366-day heir in one
    // request, and revoking the leaked one would leave the heir working.
    if (who.via === 'token') throw new HubError('forbidden', 'a personal token cannot create tokens: sign in (POST /api/v1/auth/login) and create it with the session, or ask an admin: hubctl token create <user>');
    const { name, expires_in_days } = (req.body ?? {}) as { name?: unknown; expires_in_days?: unknown };
    const days = expires_in_days === undefined ? 30 : expires_in_days;
    if (typeof name !== 'string' || name.length < 1 || name.length > 100) throw new HubError('bad_request', 'send {"name": "what it is for", "expires_in_days": 30}');
    if (typeof days !== 'number' || !Number.isInteger(days) || days < 1 || days > MAX_TOKEN_DAYS) {
      throw new HubError('bad_request', `expires_in_days must be a whole number from 1 to ${MAX_TOKEN_DAYS}`);
    }
    // A page on this origin (any module's) rides the user's cookie; a token minted from it would
    // outlive the session and leave the browser. So a cookie-signed request that a browser sent
    // must confirm with the password. A browser is known by headers page script cannot remove:
    // every browser sends Origin on a POST (fetch, XHR or form; Firefox since 70, Chromium and
    // Safari long before), Sec-Fetch-Site since 2020-2023, and Referer unless told not to: any
    // one of them asks for the password. A script client (curl, a test) sending the cookie it
    // got from POST /api/v1/auth/login sends none of them and needs none (DESIGN.md: tokens are
    // created "signed in" with {"name","expires_in_days"}). Token holders need not (a module
    // never sees a hub bearer token: the gateway drops them).
    // The confirmation is a password guess like a sign-in: the same limiter (per username and
    // address, and per username across addresses) throttles it, and each failure is audited.
    if (who.via === 'session' && fromBrowser(req)) {
      const password = (req.body ?? {}).password;
      const ip = req.socket.remoteAddress ?? '?';
      if (typeof password === 'string') identity.limiter.begin(who.username, ip);
      else identity.limiter.check(who.username, ip);
      if (typeof password !== 'string' || (await store().checkPassword(who.username, password)) !== who.id) {
        identity.audit.record({ actor: who.username, action: 'token.create', target: name, result: 'refused', detail: { reason: 'password not confirmed', ip } });
        throw new HubError('forbidden', 'creating a token from a session cookie needs your password: send {"name", "expires_in_days", "password"}');
      }
      identity.limiter.succeed(who.username, ip);
    }
    const t = await store().createToken(who.id, name, days);
    identity.audit.record({ actor: who.username, action: 'token.create', target: name, result: 'ok', detail: { id: t.id } });
    res.status(201).json({ ...t, name, note: 'shown once: only a hash is kept' });
  });

  app.get('/api/v1/auth/tokens', async (req: Request, res: Response) => {
    const who = await requireIdentity(identity, req);
    res.json(who.via === 'admin' ? [] : await store().listTokens(who.id));
  });

  app.delete('/api/v1/auth/tokens/:id', async (req: Request, res: Response) => {
    const who = await requireIdentity(identity, req);
    const id = Number(req.params.id);
    if (!Number.isSafeInteger(id)) throw new HubError('bad_request', 'token id must be a number');
    if (!(await store().revokeToken(who.id, id))) throw new HubError('not_found', `no live token ${id} of yours`);
    identity.cache?.clear();
    identity.audit.record({ actor: who.username, action: 'token.revoke', target: String(id), result: 'ok' });
    res.json({ revoked: id });
  });
}

/**
 * Whether a request carries a header only browsers add and page script cannot remove (Origin,
 * Sec-Fetch-Site, Referer). Used where a cookie-signed request must prove it is the user, not
 * a module page riding the cookie (token creation).
 */
export function fromBrowser(req: Request): boolean {
  return req.headers.origin !== undefined || req.headers['sec-fetch-site'] !== undefined || req.headers.referer !== undefined;
}
