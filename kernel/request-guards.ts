// Walls every request meets before any route: the Host check (DNS rebinding) and the
// cross-site check for state-changing requests. They look only at headers a page cannot
// forge (Host, Origin, Sec-Fetch-Site are set by the browser), so they hold for module
// routes and kernel routes alike. Rules: DESIGN.md "Trust boundary", issue 11 item 12.
import type { IncomingMessage } from 'node:http';
import { HubError } from '../shared/errors.js';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** GET, HEAD and OPTIONS change nothing; everything else is state-changing. */
export function isStateChanging(method: string | undefined): boolean {
  return !SAFE_METHODS.has((method ?? 'GET').toUpperCase());
}

/** 127.0.0.0/8, ::1, localhost and *.localhost (all resolve to this machine only). */
export function isLoopbackName(hostname: string): boolean {
  const h = hostname.toLowerCase().replace(/^\[|\]$/g, '');
  return h === 'localhost' || h.endsWith('.localhost') || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) || h.startsWith('::ffff:127.');
}

/** A Host header as RFC 9110 allows it: a name or IPv4 address, or a bracketed IPv6 address, then an optional port. */
const HOST_RE = /^(\[[0-9a-f:.]+\]|[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*)(?::\d{1,5})?$/i;

/**
 * The name part of a Host header: `[::1]:8000` → `[::1]`, `Example.org:80` → `example.org`;
 * '' for anything that is not a plain host[:port] (`127.0.0.1:80@evil.example`,
 * `localhost:8000,evil.example`), which no guard then accepts.
 */
export function hostName(host: string): string {
  const m = HOST_RE.exec(host.trim());
  return m ? m[1]!.toLowerCase() : '';
}

/**
 * The Host guard for one origin: `null` when the origin is not bound to loopback and no
 * HUB_ALLOWED_HOSTS is set (anyone may name it), else a check that answers a HubError
 * `misdirected_request` (421) for a Host that is neither a loopback name nor listed.
 * `allowed` may hold `*` (accept any Host).
 */
export function hostGuard(bindHost: string, allowed: string[]): ((req: IncomingMessage) => HubError | null) | null {
  if (allowed.includes('*')) return null;
  if (!isLoopbackName(bindHost) && allowed.length === 0) return null;
  const extra = new Set(allowed.map((h) => hostName(h)));
  // nearly every request names the same Host: the last accepted value is answered without the regexes
  let lastAccepted: string | undefined;
  return (req) => {
    const host = req.headers.host;
    if (host !== undefined && host === lastAccepted) return null;
    const name = host ? hostName(host) : '';
    if (name && (isLoopbackName(name) || extra.has(name))) {
      lastAccepted = host;
      return null;
    }
    return new HubError('misdirected_request', `this hub does not answer to Host "${String(host ?? '').slice(0, 100)}"; add the name to HUB_ALLOWED_HOSTS`);
  };
}

function originHost(origin: string): string | null {
  try {
    return new URL(origin).host.toLowerCase();
  } catch {
    return null;
  }
}

/**
 * The public origin's cross-site rule: a state-changing request with `Origin: null`, an
 * Origin whose host:port differs from the request's Host, or `Sec-Fetch-Site: cross-site`
 * is refused (`forbidden`, 403). A request with neither header (curl, webhooks, other
 * servers) passes. Returns null when the request may go on.
 */
export function crossSiteRefusal(req: IncomingMessage): HubError | null {
  if (!isStateChanging(req.method)) return null;
  const origin = req.headers.origin;
  const site = req.headers['sec-fetch-site'];
  const host = (req.headers.host ?? '').toLowerCase();
  const foreign = origin !== undefined && (origin === 'null' || originHost(origin) !== host);
  if (foreign || site === 'cross-site') {
    return new HubError('forbidden', `cross-site ${req.method} from ${String(origin ?? site).slice(0, 100)} refused`);
  }
  return null;
}

/**
 * The admin origin's stricter rule for state-changing requests: an Origin, when present,
 * must be exactly this origin (`http(s)://<Host>`), and `Sec-Fetch-Site` must not be
 * `cross-site` or `same-site` — a module page on the public port is same-site with the
 * admin port (cookies ignore ports), so it is refused too.
 */
export function adminOriginRefusal(req: IncomingMessage): HubError | null {
  if (!isStateChanging(req.method)) return null;
  const origin = req.headers.origin;
  const site = req.headers['sec-fetch-site'];
  const host = (req.headers.host ?? '').toLowerCase();
  const own = origin === `http://${host}` || origin === `https://${host}`;
  if ((origin !== undefined && !own) || site === 'cross-site' || site === 'same-site') {
    return new HubError('forbidden', `${req.method} from ${String(origin ?? site).slice(0, 100)} refused: the admin origin takes changes from its own pages only`);
  }
  return null;
}

const UNCLEAR_PATH = /\/\.\.?(\/|$)|%2f|%5c|%2e|\\/i;

/**
 * A browser fetching a service worker script (it sends `Service-Worker: script`) lets that
 * worker control every page under the script's folder. Every module shares the public origin
 * with /login and the other modules, so a module's worker is allowed only from inside its own
 * folders, `/<name>/…` and `<api_prefix>/…`: a script at `/<name>` or `<api_prefix>` itself
 * sits in `/` or `/api/v1/` and would see every sign-in and every module's traffic, and stay
 * registered after the module is gone. (`Service-Worker-Allowed` from a module is dropped by
 * kernel/proxy.ts, so the folder is the widest scope a module's worker can get.)
 */
export function serviceWorkerRefusal(moduleName: string, apiPrefix: string | undefined, req: IncomingMessage): HubError | null {
  if (req.headers['service-worker'] === undefined) return null;
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  const folder = path.slice(0, path.lastIndexOf('/') + 1);
  const own = [`/${moduleName}/`, ...(apiPrefix ? [`${apiPrefix}/`] : [])];
  if (!UNCLEAR_PATH.test(path) && own.some((p) => folder.startsWith(p))) return null;
  return new HubError(
    'forbidden',
    `service worker script ${path.slice(0, 200)} of module ${moduleName} would control pages outside the module: serve it under ${own.join(' or ')}`,
  );
}
