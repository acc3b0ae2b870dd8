// Browser sessions on the admin origin. A browser presents the admin token once (the
// /login form); the kernel answers with a random session id in an HttpOnly, SameSite=Strict
// cookie, so no script (the dashboard's or anyone's) ever holds a credential. Sessions live
// in this kernel's memory only: a kernel restart signs browsers out.
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** The cookie's name. The gateway strips it from every request it proxies to a module. */
export const ADMIN_COOKIE = 'hub_admin_session';
/** How long a dashboard session lasts, in ms (12 h). */
export const SESSION_TTL_MS = 12 * 60 * 60 * 1000;
const MAX_SESSIONS = 1000;

/** The value of one cookie from a Cookie header, or undefined. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq !== -1 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
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

export class AdminSessions {
  private readonly sessions = new Map<string, number>();

  /** A new session id (32 random bytes, base64url); the oldest sessions go past 1000. */
  create(now = Date.now()): string {
    const id = randomBytes(32).toString('base64url');
    this.sessions.set(id, now + SESSION_TTL_MS);
    while (this.sessions.size > MAX_SESSIONS) this.sessions.delete(this.sessions.keys().next().value!);
    return id;
  }

  /** True when the request carries a live session cookie. */
  valid(req: IncomingMessage, now = Date.now()): boolean {
    const id = cookieValue(req.headers.cookie, ADMIN_COOKIE);
    if (!id) return false;
    const until = this.sessions.get(id);
    if (until === undefined) return false;
    if (until < now) {
      this.sessions.delete(id);
      return false;
    }
    return true;
  }

  end(req: IncomingMessage): void {
    const id = cookieValue(req.headers.cookie, ADMIN_COOKIE);
    if (id) this.sessions.delete(id);
  }

  /** The Set-Cookie value for a session id (`Secure` when the request came over TLS). */
  static setCookie(id: string, secure: boolean): string {
    return `${ADMIN_COOKIE}=${id}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${SESSION_TTL_MS / 1000}${secure ? '; Secure' : ''}`;
  }

  static clearCookie(): string {
    return `${ADMIN_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0`;
  }
}
