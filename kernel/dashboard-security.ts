// Headers for the kernel's HTML pages. Module names, errors and log lines end up on these
// pages; escaping is the first guard, and a CSP that runs only our own script files is the
// second: even an injected <script> or onerror= attribute would not run.
import type { ServerResponse } from 'node:http';

export const DASHBOARD_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

export function securityHeaders(res: ServerResponse, csp: string = DASHBOARD_CSP): void {
  res.setHeader('content-security-policy', csp);
  res.setHeader('x-content-type-options', 'nosniff');
  // same-origin, not no-referrer: with no-referrer Chromium sends `Origin: null` on the pages' own
  // form posts, which the admin origin must refuse as cross-site
  res.setHeader('referrer-policy', 'same-origin');
  res.setHeader('x-frame-options', 'DENY');
  res.setHeader('cache-control', 'no-store');
}
