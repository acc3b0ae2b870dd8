// Who is admin. The one credential is the admin token (kernel/admin-token.ts), shown as
// `Authorization: Bearer <token>` (compared in constant time). On the admin origin a
// browser may instead show the session cookie it got by presenting the token at /login,
// but only on requests from the admin origin's own pages. On the public origin cookies
// count for nothing. Never "loopback means admin": a module's child is a loopback client.
// Rules: DESIGN.md "Trust boundary", issue 11 items 5 and 10.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { NextFunction, Request, Response } from 'express';
import { HubError } from '../shared/errors.js';
import type { AdminSessions } from './admin-session.js';

export type Origin = 'public' | 'admin';

const digest = (s: string) => createHash('sha256').update(s).digest();

/** A constant-time check of a presented token against the expected token's SHA-256. */
export function tokenMatches(token: string, expected: Buffer): boolean {
  // hashing first makes both sides the same length, so the compare leaks nothing
  return token.length > 0 && timingSafeEqual(digest(token), expected);
}

/** A constant-time check of a bearer header against the token. */
export function bearerMatches(req: IncomingMessage, expected: Buffer): boolean {
  const auth = req.headers.authorization ?? '';
  return tokenMatches(auth.startsWith('Bearer ') ? auth.slice(7).trim() : '', expected);
}

/**
 * A session cookie counts only on requests the admin origin's own pages make: no
 * Sec-Fetch-Site (old browsers), `same-origin`, `none` (typed URL, bookmark), or a
 * top-level navigation (frame-ancestors 'none' keeps it out of frames). A module page on
 * the public port is `same-site` and gets nothing from the cookie.
 */
function cookieContextOk(req: IncomingMessage): boolean {
  const site = req.headers['sec-fetch-site'];
  if (site === undefined || site === 'same-origin' || site === 'none') return true;
  const method = (req.method ?? 'GET').toUpperCase();
  return (method === 'GET' || method === 'HEAD') && req.headers['sec-fetch-mode'] === 'navigate' && req.headers['sec-fetch-dest'] === 'document';
}

export interface AdminAuth {
  /** True when the request carries the admin credential in a form this origin accepts. */
  isAdmin(req: IncomingMessage): boolean;
  /** True when `token` is the admin token (the /login form). */
  matches(token: string): boolean;
  /** express middleware: next() for admin, else `unauthorized` (401). */
  guard(req: Request, res: Response, next: NextFunction): void;
}

/**
 * The admin check for one origin. `sessions` is given on the admin origin only; without it
 * only the bearer header counts. The refusal is HubError `unauthorized` (401) naming where
 * the token is.
 */
export function createAdminAuth(token: string, origin: Origin, sessions: AdminSessions | null): AdminAuth {
  const expected = digest(token);
  const isAdmin = (req: IncomingMessage) =>
    bearerMatches(req, expected) || (origin === 'admin' && sessions !== null && cookieContextOk(req) && sessions.valid(req));
  return {
    isAdmin,
    matches: (t) => tokenMatches(t, expected),
    guard(req, _res, next) {
      if (isAdmin(req)) return next();
      throw new HubError(
        'unauthorized',
        origin === 'admin'
          ? 'admin credential missing or wrong: send Authorization: Bearer <token from HUB_ADMIN_TOKEN or HUB_DATA_DIR/admin-token>, or sign in at /login'
          : 'admin credential missing or wrong: send Authorization: Bearer <token from HUB_ADMIN_TOKEN or HUB_DATA_DIR/admin-token>',
      );
    },
  };
}
