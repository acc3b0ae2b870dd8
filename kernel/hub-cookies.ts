// The cookies the hub itself sets on its origins. Cookies ignore ports, so the admin origin's
// cookie is within reach of the public origin's answers too: an answer from a module must
// never set (overwrite, fixate, or clear) any of them. kernel/proxy.ts drops every Set-Cookie
// from a module that names one, whatever its case and with or without a `__Host-`/`__Secure-`
// prefix (browsers treat names case-sensitively, but nothing is gained by letting a near-copy
// through).
import { ADMIN_COOKIE } from './admin-session.js';

/** The public origin's user session cookie (`__Host-hub_session` with HUB_SECURE_COOKIES). */
export const SESSION_COOKIE_NAME = 'hub_session';
/** The OpenID Connect flow cookie: binds a sign-in's `state` to the browser that started it. */
export const OIDC_FLOW_COOKIE = 'hub_oidc_flow';

const HUB_COOKIES = new Set([SESSION_COOKIE_NAME, ADMIN_COOKIE, OIDC_FLOW_COOKIE]);

/** A cookie name without a `__Host-`/`__Secure-` prefix (any case, repeated), lower-cased. */
function baseName(name: string): string {
  let n = name.trim().replace(/^"|"$/g, '').toLowerCase();
  for (;;) {
    const m = /^__(host|secure)-/.exec(n);
    if (!m) return n;
    n = n.slice(m[0].length);
  }
}

/** True for a Set-Cookie value naming one of the hub's own cookies (see the top). */
export function isHubCookie(setCookie: string): boolean {
  const eq = setCookie.indexOf('=');
  const semi = setCookie.indexOf(';');
  // `Set-Cookie: hub_session` with no `=` is a cookie with an empty name and that value: drop it too
  const end = eq === -1 ? (semi === -1 ? setCookie.length : semi) : semi !== -1 && semi < eq ? semi : eq;
  const name = baseName(setCookie.slice(0, end));
  // `Set-Cookie: =hub_session=x` is a cookie with an empty name and the value `hub_session=x`;
  // a browser sends a nameless cookie as its bare value, which the hub reads as hub_session=x
  if (name === '' && eq !== -1 && end === eq) return isHubCookie(setCookie.slice(eq + 1));
  return HUB_COOKIES.has(name);
}
