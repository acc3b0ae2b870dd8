// How the kernel tells a module's child who is asking (DESIGN.md "Identity and permissions"):
// the `x-hub-user` header, `<base64url JSON>.<base64url HMAC-SHA256>` keyed by that module's
// kernel secret. The gateway drops any copy a client sent and stamps its own; the child
// believes only a header whose MAC its own secret verifies, so a process that calls the
// child's port directly cannot forge a user. Cost: one HMAC per stamp (cached per identity
// and module at the gateway) and one per distinct header value in the child (verdicts cached
// by exact value); bench/identity-cost.ts measures both.
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export const USER_HEADER = 'x-hub-user';

/** What a module sees as `req.user`: that module's permissions only. */
export interface HubUser {
  id: number;
  username: string;
  permissions: string[];
}

// Headers already verified, by exact value (the value carries its MAC, so an equal string is
// an equal verdict): the same user's next requests skip the HMAC and JSON parse.
const VERIFIED_MAX = 1000;
const verified = new Map<string, { secret: string; user: HubUser }>();

const mac = (secret: string, payload: string) => createHmac('sha256', secret).update(payload).digest('base64url');

/** The header value for `user`, signed with `secret`. */
export function signUser(user: HubUser, secret: string): string {
  const payload = Buffer.from(JSON.stringify(user)).toString('base64url');
  return `${payload}.${mac(secret, payload)}`;
}

/**
 * The user in the request's USER_HEADER when `secret` vouches for it, else null. Removes the
 * header from `req.headers` and `req.rawHeaders` either way, so module code sees only req.user.
 */
export function takeUser(req: IncomingMessage, secret: string): HubUser | null {
  const value = req.headers[USER_HEADER];
  delete req.headers[USER_HEADER];
  const raw = req.rawHeaders;
  for (let i = raw.length - 2; i >= 0; i -= 2) if (raw[i]!.toLowerCase() === USER_HEADER) raw.splice(i, 2);
  if (typeof value !== 'string') return null;
  const hit = verified.get(value);
  if (hit && hit.secret === secret) return copy(hit.user);
  const user = verifyUser(value, secret);
  if (user) {
    if (verified.size >= VERIFIED_MAX) verified.delete(verified.keys().next().value!);
    verified.set(value, { secret, user });
  }
  return user && copy(user);
}

// each request gets its own object: module code changing req.user changes nothing else
const copy = (u: HubUser): HubUser => ({ id: u.id, username: u.username, permissions: [...u.permissions] });

function verifyUser(value: string, secret: string): HubUser | null {
  const dot = value.indexOf('.');
  if (dot <= 0) return null;
  const payload = value.slice(0, dot);
  const got = Buffer.from(value.slice(dot + 1));
  const want = Buffer.from(mac(secret, payload));
  if (got.length !== want.length || !timingSafeEqual(got, want)) return null;
  try {
    const u = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as HubUser;
    if (typeof u.id !== 'number' || typeof u.username !== 'string' || !Array.isArray(u.permissions)) return null;
    return { id: u.id, username: u.username, permissions: u.permissions.filter((p) => typeof p === 'string') };
  } catch {
    return null;
  }
}
