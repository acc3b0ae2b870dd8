// Who is asking: the one place a request's credential becomes an Identity (or null).
// Accepted: `Authorization: Bearer bmc_pat_…` (a personal token), `Authorization: Bearer
// <admin token>` (acts as hub.admin), and the session cookie (public origin only; the
// admin origin's browser sessions are kernel/admin-session.ts). Lookups go through the cache.
import type { IncomingMessage } from 'node:http';
import { bearerMatches } from './admin-auth.js';
import type { IdentityCache } from './identity-cache.js';
import { ADMIN_IDENTITY, TOKEN_PREFIX, type Identity } from './identity-store.js';

/** The session cookie over plain HTTP, and its `__Host-` form over TLS. */
export const SESSION_COOKIE = 'hub_session';
export const SECURE_SESSION_COOKIE = '__Host-hub_session';

export { ADMIN_IDENTITY };

/**
 * The session id in a Cookie header (either cookie name), or undefined. A header carrying
 * more than one is nobody's: a script on any page of the origin (every module's pages share
 * it) can set a second, non-HttpOnly `hub_session` for a narrower path, which the browser then
 * sends first, signing the user in as someone else on that path only (cookie tossing).
 */
export function sessionCookie(req: IncomingMessage): string | undefined {
  const h = req.headers.cookie;
  if (h === undefined || !h.includes('hub_session')) return undefined;
  let found: string | undefined;
  for (const part of h.split(';')) {
    const eq = part.indexOf('=');
    const name = eq === -1 ? '' : part.slice(0, eq).trim();
    if (name !== SESSION_COOKIE && name !== SECURE_SESSION_COOKIE) continue;
    if (found !== undefined) return undefined;
    found = part.slice(eq + 1).trim();
  }
  return found;
}

/** True when the request carries a hub credential of any kind (so it must not reach a module). */
export function bearerToken(req: IncomingMessage): string | undefined {
  const a = req.headers.authorization;
  return a !== undefined && a.startsWith('Bearer ') ? a.slice(7).trim() : undefined;
}

// What the hub issues: 32 random bytes in base64url (43 characters). Anything else is nobody,
// decided without a database read, so made-up credentials cost the kernel a regex, not a query.
const SECRET_RE = /^[A-Za-z0-9_-]{43}$/;

/**
 * The identity behind the request's credential: synchronously when cached or absent,
 * else a promise. A wrong or expired credential is null (anonymous), never an error here.
 */
export function resolveIdentity(req: IncomingMessage, cache: IdentityCache | null, adminDigest: Buffer): Identity | null | Promise<Identity | null> {
  const bearer = bearerToken(req);
  if (bearer !== undefined) {
    if (bearer.startsWith(TOKEN_PREFIX)) return cache && SECRET_RE.test(bearer.slice(TOKEN_PREFIX.length)) ? cache.token(bearer) : null;
    if (bearerMatches(req, adminDigest)) return ADMIN_IDENTITY;
  }
  const sid = sessionCookie(req);
  if (sid !== undefined && SECRET_RE.test(sid) && cache) return cache.session(sid);
  return null;
}
