// The gateway's permission wall (DESIGN.md "Identity and permissions", issue 15 item 4). For
// every request routed to a module, before it is proxied:
//   1. identity headers and hub credentials a client sent are dropped (x-hub-user, the
//      session cookie, a bmc_pat_/admin bearer), so a module never sees or trusts them;
//   2. `<api_prefix>/health` and the manifest's `public_routes` pass as they are;
//   3. a module that declares no `permissions` is public: anyone may call it (req.user is
//      still set when someone is signed in); this keeps modules written before identity
//      working, and is stated in the README;
//   4. otherwise nobody signed in → 401 `unauthenticated` (a browser page load, GET asking
//      for text/html, is sent to /login?next= instead); a user with no permission of this module → 403 `forbidden`;
//   5. the user, with this module's permissions only, goes to the child in x-hub-user,
//      MAC'd with the module's kernel secret (shared/runtime/identity-header.ts).
// Refusals are audited (kernel/identity-audit.ts, batched and capped).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { HubError } from '../shared/errors.js';
import { modulePermissions } from '../shared/grants.js';
import { PUBLIC_ROUTE_RE, type Manifest } from '../shared/manifest.js';
import { signUser, USER_HEADER } from '../shared/runtime/identity-header.js';
import { tokenMatches } from './admin-auth.js';
import type { AuditTrail } from './identity-audit.js';
import type { IdentityCache } from './identity-cache.js';
import { bearerToken, resolveIdentity, SECURE_SESSION_COOKIE, SESSION_COOKIE } from './identity-resolve.js';
import { TOKEN_PREFIX, type Identity } from './identity-store.js';
import { sendError, withRequestId } from './http-errors.js';

export interface GateModule {
  readonly name: string;
  readonly entry: { readonly manifest?: Manifest | undefined | null };
}

export interface GateDeps {
  cache: IdentityCache | null;
  /** SHA-256 of the admin token. */
  adminDigest: Buffer;
  secretOf(name: string): string;
  audit: AuditTrail;
}

/** Runs before a module request is proxied; calls `go` when it may pass, else answers itself. */
export type IdentityGate = (sup: GateModule, req: IncomingMessage, res: ServerResponse, go: () => void) => void;

interface PublicRoute {
  method: string;
  path: string;
  below: boolean;
}

const compiled = new WeakMap<Manifest, PublicRoute[]>();
function publicRoutes(m: Manifest): PublicRoute[] {
  let routes = compiled.get(m);
  if (!routes) {
    routes = [{ method: '*', path: `${m.api_prefix}/health`, below: false }];
    for (const r of m.public_routes ?? []) {
      const x = PUBLIC_ROUTE_RE.exec(r);
      if (x) routes.push({ method: x[1]!, path: x[2]!, below: x[3] !== undefined });
    }
    compiled.set(m, routes);
  }
  return routes;
}

// Paths with dot segments or encoded dots/slashes/backslashes are never public: what the
// gateway compares must be what the child routes.
const TRICKY_PATH = /\/\.\.?(\/|$)|%2e|%2f|%5c|\\/i;

/** True when METHOD path is `<api_prefix>/health` or one of the manifest's public_routes. */
export function isPublicRoute(m: Manifest, method: string, url: string): boolean {
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  if (TRICKY_PATH.test(path)) return false;
  for (const r of publicRoutes(m)) {
    if (r.method !== '*' && r.method !== method && !(r.method === 'GET' && method === 'HEAD')) continue;
    if (path === r.path || (r.below && path.startsWith(`${r.path}/`))) return true;
  }
  return false;
}

function withoutSessionCookie(header: string): string | undefined {
  const kept = header.split(';').filter((p) => {
    const name = p.split('=')[0]!.trim();
    return name !== SESSION_COOKIE && name !== SECURE_SESSION_COOKIE;
  });
  return kept.length ? kept.join(';').trim() : undefined;
}

/** Drops every identity header and hub credential from a request bound for a module. */
export function dropIdentityHeaders(req: IncomingMessage, adminDigest: Buffer): void {
  delete req.headers[USER_HEADER];
  const cookie = req.headers.cookie;
  if (cookie !== undefined && cookie.includes('hub_session')) {
    const kept = withoutSessionCookie(cookie);
    if (kept === undefined) delete req.headers.cookie;
    else req.headers.cookie = kept;
  }
  const bearer = bearerToken(req);
  if (bearer !== undefined && (bearer.startsWith(TOKEN_PREFIX) || tokenMatches(bearer, adminDigest))) delete req.headers.authorization;
}

const stamps = new WeakMap<Identity, Map<string, { manifest: Manifest; header: string; permissions: string[] }>>();
/** This identity's x-hub-user value for one module (cached per identity, module secret and manifest). */
function stampFor(identity: Identity, name: string, m: Manifest, secret: string): { header: string; permissions: string[] } {
  let perModule = stamps.get(identity);
  if (!perModule) stamps.set(identity, (perModule = new Map()));
  const hit = perModule.get(secret);
  if (hit && hit.manifest === m) return hit;
  const permissions = modulePermissions(identity.grants, name, { permissions: m.permissions ?? {}, roles: m.roles ?? {} });
  const stamp = { manifest: m, permissions, header: signUser({ id: identity.id, username: identity.username, permissions }, secret) };
  perModule.set(secret, stamp);
  return stamp;
}

export function createIdentityGate(deps: GateDeps): IdentityGate {
  const refuse = (sup: GateModule, req: IncomingMessage, res: ServerResponse, identity: Identity | null) => {
    const method = req.method ?? 'GET';
    deps.audit.record({
      actor: identity ? identity.username : `anonymous@${req.socket.remoteAddress ?? '?'}`,
      action: 'request.refused',
      target: `${sup.name} ${method} ${(req.url ?? '').slice(0, 200)}`,
      result: identity ? 'forbidden' : 'unauthenticated',
    });
    // a page load (browsers ask for text/html; fetch and API clients do not) goes to /login
    if (!identity && method === 'GET' && (req.headers['sec-fetch-dest'] === 'document' || (req.headers.accept ?? '').startsWith('text/html'))) {
      res.writeHead(303, withRequestId(res, { location: `/login?next=${encodeURIComponent(req.url ?? '/')}` }));
      return void res.end();
    }
    sendError(
      res,
      identity
        ? new HubError('forbidden', `${identity.username} holds no grant of module ${sup.name}; an admin can run: hubctl grant ${identity.username} ${sup.name}.<role>`)
        : new HubError('unauthenticated', `module ${sup.name} needs a signed-in user: sign in at /login, or send Authorization: Bearer <bmc_pat_ token>`),
    );
  };

  const decide = (sup: GateModule, m: Manifest, req: IncomingMessage, res: ServerResponse, go: () => void, identity: Identity | null, open: boolean) => {
    if (res.destroyed) return;
    if (identity) {
      const { header, permissions } = stampFor(identity, sup.name, m, deps.secretOf(sup.name));
      if (!open && permissions.length === 0) return refuse(sup, req, res, identity);
      req.headers[USER_HEADER] = header;
    } else if (!open) {
      return refuse(sup, req, res, null);
    }
    go();
  };

  return (sup, req, res, go) => {
    const m = sup.entry.manifest;
    const found = resolveIdentity(req, deps.cache, deps.adminDigest);
    dropIdentityHeaders(req, deps.adminDigest);
    if (!m) return go();
    const open = Object.keys(m.permissions ?? {}).length === 0 || isPublicRoute(m, (req.method ?? 'GET').toUpperCase(), req.url ?? '/');
    if (found === null || !(found instanceof Promise)) return decide(sup, m, req, res, go, found, open);
    found.then(
      (identity) => decide(sup, m, req, res, go, identity, open),
      (e: unknown) => sendError(res, new HubError('database_unavailable', `cannot check who is signed in: ${(e as Error).message}`)),
    );
  };
}
