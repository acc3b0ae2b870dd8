// Browser sessions on the admin origin. A browser presents the admin token once (the
// /login form); the kernel answers with a random session id in an HttpOnly, SameSite=Strict
// cookie, so no script (the dashboard's or anyone's) ever holds a credential. With a database
// the sessions live in hub_admin_sessions (only a SHA-256 of the id), shared by every kernel
// and ended everywhere by a sign-out (kernel/identity-cache.ts carries the revocation within
// a second); without one (HUB_DATABASE=off) they live in this kernel's memory.
// The check stays synchronous for its callers: `middleware` looks the cookie up (cached) at
// the start of every admin-origin request and marks the request; `valid` reads the mark.
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { NextFunction, Request, Response } from 'express';

/** The cookie's name. The gateway strips it from every request it proxies to a module. */
export const ADMIN_COOKIE = 'hub_admin_session';
/** How long a dashboard session lasts, in ms (12 h). */
export const SESSION_TTL_MS = 12 * 60 * 60 * 1000;
const MAX_SESSIONS = 1000;
/** What the hub issues: 32 random bytes in base64url. */
const SESSION_ID_RE = /^[A-Za-z0-9_-]{43}$/;
/** How many hub_admin_session values of one request are looked up, at most. */
const MAX_COOKIE_TRIES = 4;

/** The value of one cookie from a Cookie header, or undefined. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq !== -1 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/**
 * Every value of one cookie in a Cookie header, in the order sent. Browsers send a cookie of
 * the same name once per path (longest path first), and a page of any port of the host can
 * set one: a module page's script plants `hub_admin_session=junk; path=/api`, which the
 * browser then sends before the real one.
 */
export function cookieValues(header: string | undefined, name: string): string[] {
  if (!header || !header.includes(name)) return [];
  const out: string[] = [];
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq !== -1 && part.slice(0, eq).trim() === name) out.push(part.slice(eq + 1).trim());
  }
  return out;
}

/** A Cookie header without the admin session cookie (undefined when nothing is left). */
export function withoutAdminCookie(header: string | undefined): string | undefined {
  if (!header || !header.includes(ADMIN_COOKIE)) return header;
  const kept = header.split(';').filter((p) => p.split('=')[0]!.trim() !== ADMIN_COOKIE);
  return kept.length ? kept.join(';').trim() : undefined;
}

/** True for a Set-Cookie value that names the admin session cookie (any case, any prefix spacing). */
export function isAdminCookie(setCookie: string): boolean {
  const eq = setCookie.indexOf('=');
  return (eq === -1 ? setCookie : setCookie.slice(0, eq)).trim().toLowerCase() === ADMIN_COOKIE;
}

/** Where dashboard sessions are kept when there is a database (kernel/identity-store.ts, via the cache). */
export interface AdminSessionBackend {
  create(ttlMs: number): Promise<string>;
  /** Truthy while live; may answer from a cache synchronously. */
  live(id: string): unknown | Promise<unknown>;
  end(id: string): Promise<void>;
}

export class AdminSessions {
  private readonly sessions = new Map<string, number>();
  private readonly verified = new WeakSet<IncomingMessage>();
  private backend: AdminSessionBackend | null = null;

  /** From now on sessions live in the database (called once the kernel has one). */
  useBackend(backend: AdminSessionBackend): void {
    this.backend = backend;
  }

  /** A new session id (32 random bytes, base64url); in memory the oldest go past 1000. */
  async create(now = Date.now()): Promise<string> {
    if (this.backend) return this.backend.create(SESSION_TTL_MS);
    const id = randomBytes(32).toString('base64url');
    this.sessions.set(id, now + SESSION_TTL_MS);
    while (this.sessions.size > MAX_SESSIONS) this.sessions.delete(this.sessions.keys().next().value!);
    return id;
  }

  /**
   * express middleware for the admin origin, before any route: looks the request's session
   * cookie up and marks the request when the session is live. Never refuses anything itself.
   */
  readonly middleware = (req: Request, _res: Response, next: NextFunction): void => {
    const backend = this.backend;
    if (!backend) return next();
    // Every value is tried, not only the first: a look-alike planted by a page on another port
    // of this host (sent first for its longer path) must not sign the operator out. Only the
    // shape the hub issues is looked up (a made-up cookie costs a regex, not a query), and at
    // most MAX_COOKIE_TRIES values.
    const ids = [...new Set(cookieValues(req.headers.cookie, ADMIN_COOKIE))].filter((v) => SESSION_ID_RE.test(v)).slice(0, MAX_COOKIE_TRIES);
    const tryFrom = (i: number): void => {
      if (i >= ids.length) return next();
      const live = backend.live(ids[i]!);
      if (!(live instanceof Promise)) {
        if (!live) return tryFrom(i + 1);
        this.verified.add(req);
        return next();
      }
      live.then(
        (ok) => {
          if (!ok) return tryFrom(i + 1);
          this.verified.add(req);
          next();
        },
        () => tryFrom(i + 1),
      );
    };
    tryFrom(0);
  };

  /** True when the request carries a live session cookie. */
  valid(req: IncomingMessage, now = Date.now()): boolean {
    if (this.backend) return this.verified.has(req);
    return cookieValues(req.headers.cookie, ADMIN_COOKIE).some((id) => {
      const until = this.sessions.get(id);
      if (until === undefined) return false;
      if (until < now) {
        this.sessions.delete(id);
        return false;
      }
      return true;
    });
  }

  /** Ends the request's session (on every kernel when it lives in the database). */
  async end(req: IncomingMessage): Promise<void> {
    this.verified.delete(req);
    // every session the request carries (the real one may not be the first value)
    const ids = [...new Set(cookieValues(req.headers.cookie, ADMIN_COOKIE))].filter((v) => SESSION_ID_RE.test(v)).slice(0, MAX_COOKIE_TRIES);
    for (const id of ids) {
      this.sessions.delete(id);
      if (this.backend) await this.backend.end(id);
    }
  }

  /** The Set-Cookie value for a session id (`Secure` when the request came over TLS). */
  static setCookie(id: string, secure: boolean): string {
    return `${ADMIN_COOKIE}=${id}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${SESSION_TTL_MS / 1000}${secure ? '; Secure' : ''}`;
  }

  static clearCookie(): string {
    return `${ADMIN_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0`;
  }
}
