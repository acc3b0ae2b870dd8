// HUB_AUTH=oidc: sign-in through an OpenID Connect issuer (issue 15 item 6), code flow with
// PKCE via `openid-client`. GET /login sends the browser to the issuer; the issuer sends it
// back to GET /api/v1/auth/oidc/callback, where the code is exchanged, the ID token checked
// (state, nonce, PKCE) and the user found by `<issuer> <sub>`, or created with no grants on
// first sign-in. Grants live only in the hub's tables: nothing the issuer sends (groups,
// roles, any claim) changes them, so a sign-in never resets them. Passwords keep working
// for local users (the first admin), so a broken issuer does not lock the operator out.
// Login CSRF: the `state` alone would let an attacker's callback URL, opened in a victim's
// browser, sign the victim in as the attacker. So /login also sets a flow cookie (HttpOnly,
// SameSite=Lax, 10 minutes, Path = the callback) holding a random value whose SHA-256 is the
// `state`; the callback answers 401 unless the browser presents the cookie that hashes to
// the state it brings, so only the browser that started a flow can finish it.
// Settings: HUB_OIDC_ISSUER, HUB_OIDC_CLIENT_ID, HUB_OIDC_CLIENT_SECRET (empty = public
// client), HUB_OIDC_REDIRECT_URL (default <this origin>/api/v1/auth/oidc/callback).
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Express, Request, Response } from 'express';
import * as client from 'openid-client';
import { HubError } from '../shared/errors.js';
import { cookieValue } from './admin-session.js';
import { OIDC_FLOW_COOKIE } from './hub-cookies.js';
import type { OidcSettings } from './config.js';
import type { IdentityService } from './identity.js';
import { isLoopbackName } from './request-guards.js';

export const OIDC_CALLBACK = '/api/v1/auth/oidc/callback';
const FLOW_TTL_MS = 10 * 60 * 1000;
/** The flow cookie's name: `__Secure-`-prefixed with HUB_SECURE_COOKIES=true (`__Host-` would need Path=/). */
const flowCookieName = (secure: boolean) => (secure ? `__Secure-${OIDC_FLOW_COOKIE}` : OIDC_FLOW_COOKIE);
const flowCookieAttrs = (maxAgeS: number, secure: boolean) => `Path=${OIDC_CALLBACK}; HttpOnly; SameSite=Lax; Max-Age=${maxAgeS}${secure ? '; Secure' : ''}`;
const stateOf = (binding: string) => createHash('sha256').update(binding).digest('base64url');

/** True when the request carries the flow cookie that `state` was made from. */
function boundToBrowser(req: Request, state: string, secure: boolean): boolean {
  const binding = cookieValue(req.headers.cookie, flowCookieName(secure));
  if (!binding || !state) return false;
  const want = Buffer.from(stateOf(binding));
  const got = Buffer.from(state);
  return want.length === got.length && timingSafeEqual(want, got);
}

/**
 * Mounts GET /login (to the issuer) and the callback on the public origin. `setSession`
 * sets the session cookie on the answer (kernel/auth-routes.ts).
 */
export function mountOidc(app: Express, identity: IdentityService, settings: OidcSettings, secure: boolean,
  setSession: (res: Response, id: string) => void, safeNext: (n: unknown) => string): void {
  let config: Promise<client.Configuration> | null = null;
  const configuration = () => {
    config ??= (async () => {
      const url = new URL(settings.issuer);
      // plain http only for an issuer on this machine (tests, a local dev issuer)
      const insecure = url.protocol === 'http:' && isLoopbackName(url.hostname);
      return client.discovery(url, settings.clientId, settings.clientSecret, settings.clientSecret ? undefined : client.None(), insecure ? { execute: [client.allowInsecureRequests] } : undefined);
    })();
    config.catch(() => { config = null; });
    return config;
  };
  const store = () => {
    if (!identity.store) throw new HubError('database_unavailable', 'OpenID Connect sign-in needs the database');
    return identity.store;
  };
  const redirectUri = (req: Request) => settings.redirectUrl ?? `${req.protocol}://${req.headers.host}${OIDC_CALLBACK}`;

  app.get('/login', async (req: Request, res: Response) => {
    const cfg = await configuration();
    const verifier = client.randomPKCECodeVerifier();
    // the state is the hash of a random value only this browser holds (see the top)
    const binding = randomBytes(32).toString('base64url');
    const state = stateOf(binding);
    const nonce = client.randomNonce();
    await store().startOidcFlow(state, verifier, nonce, safeNext(req.query.next), FLOW_TTL_MS);
    const url = client.buildAuthorizationUrl(cfg, {
      redirect_uri: redirectUri(req),
      scope: 'openid profile email',
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    });
    res.append('set-cookie', `${flowCookieName(secure)}=${binding}; ${flowCookieAttrs(FLOW_TTL_MS / 1000, secure)}`);
    res.redirect(303, url.href);
  });

  app.get(OIDC_CALLBACK, async (req: Request, res: Response) => {
    const state = typeof req.query.state === 'string' ? req.query.state : '';
    if (!boundToBrowser(req, state, secure)) {
      identity.audit.record({ actor: `oidc@${req.socket.remoteAddress ?? '?'}`, action: 'auth.oidc', result: 'refused', detail: { reason: 'no flow cookie for this state' } });
      throw new HubError('unauthenticated', 'this sign-in was not started in this browser: start again at /login');
    }
    res.append('set-cookie', `${flowCookieName(secure)}=; ${flowCookieAttrs(0, secure)}`);
    const flow = await store().takeOidcFlow(state);
    if (!flow) throw new HubError('unauthenticated', 'this sign-in expired or was already used: start again at /login');
    const cfg = await configuration();
    const current = new URL(req.originalUrl, redirectUri(req));
    let claims: client.IDToken | undefined;
    let profile: Record<string, unknown> = {};
    try {
      const tokens = await client.authorizationCodeGrant(cfg, current, { pkceCodeVerifier: flow.verifier, expectedState: state, expectedNonce: flow.nonce, idTokenExpected: true });
      claims = tokens.claims();
      // a conforming issuer keeps profile claims out of the ID token: ask userinfo for the name
      if (claims && claims.preferred_username === undefined && claims.email === undefined) {
        profile = await client.fetchUserInfo(cfg, tokens.access_token, claims.sub).catch(() => ({}));
      }
    } catch (e) {
      identity.audit.record({ actor: `oidc@${req.socket.remoteAddress ?? '?'}`, action: 'auth.oidc', result: 'refused', detail: { reason: (e as Error).message.slice(0, 200) } });
      throw new HubError('unauthenticated', `the identity provider's answer was refused: ${(e as Error).message}`);
    }
    if (!claims?.sub) throw new HubError('unauthenticated', 'the identity provider sent no subject');
    // the name is only a label for the user; identity is `<issuer> <sub>`, and claims never touch grants
    const named = { ...profile, ...claims } as Record<string, unknown>;
    const email = typeof named.email === 'string' ? named.email.split('@')[0]! : '';
    const name = (typeof named.preferred_username === 'string' ? named.preferred_username : email) || `user${randomBytes(3).toString('hex')}`;
    const userId = await store().userForSubject(`${claims.iss} ${claims.sub}`, name);
    const session = await store().createSession(userId);
    identity.audit.record({ actor: name, action: 'auth.oidc', result: 'ok', detail: { sub: claims.sub } });
    setSession(res, session.id);
    res.redirect(303, flow.next);
  });
}
