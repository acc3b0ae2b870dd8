// The public origin's `/` (issue 15 item 9): for a browser, the users' start page: who is
// signed in, the modules this user may open (links to their pages), sign-out or sign-in.
// API clients (no text/html in Accept) get the hub's JSON summary as before, plus `user`.
// The admin console stays on the admin origin.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Express, Request, Response } from 'express';
import { modulePermissions } from '../shared/grants.js';
import { HUB_VERSION } from '../shared/paths.js';
import type { IdentityService } from './identity.js';
import { resolveIdentity } from './identity-resolve.js';
import type { Identity } from './identity-store.js';
import type { HubView } from './hub-view.js';
import { takesTraffic } from '../shared/module-states.js';

const escape = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

interface Openable {
  name: string;
  description: string;
  href: string;
  permissions: string[];
}

/** The running modules with a page (/<name>) that `who` may open: open modules, or those they hold a permission of. */
export function openableModules(kernel: HubView, who: Identity | null): Openable[] {
  const out: Openable[] = [];
  for (const s of kernel.supervisors()) {
    const m = s.entry.manifest;
    if (!m || !takesTraffic(s.state) || !existsSync(join(s.entry.dir, 'frontend'))) continue;
    const declared = Object.keys(m.permissions ?? {}).length > 0;
    const permissions = who ? modulePermissions(who.grants, s.name, { permissions: m.permissions ?? {}, roles: m.roles ?? {} }) : [];
    if (declared && permissions.length === 0) continue;
    out.push({ name: s.name, description: m.description, href: `/${s.name}`, permissions });
  }
  return out;
}

function startPage(who: Identity | null, modules: Openable[]): string {
  const list = modules.length
    ? `<ul class="modules">${modules.map((m) => `<li data-module="${escape(m.name)}"><a href="${escape(m.href)}">${escape(m.name)}</a> <span>${escape(m.description)}</span></li>`).join('')}</ul>`
    : `<p>${who ? 'No module is open to you yet: ask an admin for a grant.' : 'Sign in to see your modules.'}</p>`;
  const account = who
    ? `<p id="who">Signed in as <strong>${escape(who.username)}</strong></p><form method="post" action="/api/v1/auth/logout"><button type="submit">Sign out</button></form>`
    : `<p id="who">Not signed in. <a href="/login">Sign in</a></p>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>BMC Hub</title>
<style>body{font-family:system-ui,sans-serif;max-width:48rem;margin:2rem auto;padding:0 1rem}ul.modules{padding:0;list-style:none}
ul.modules li{padding:.6rem 0;border-bottom:1px solid #ddd}ul.modules span{color:#555;margin-left:.5rem}header{display:flex;justify-content:space-between;align-items:center}</style></head>
<body><header><h1>BMC Hub</h1><div>${account}</div></header>
<h2>Your modules</h2>${list}
<p><a href="/api/docs">API docs</a></p>
</body></html>`;
}

/** Mounts GET / on the public origin's app. */
export function mountStartPage(app: Express, kernel: HubView, identity: IdentityService): void {
  app.get('/', async (req: Request, res: Response) => {
    const who = await resolveIdentity(req, identity.cache, identity.adminDigest);
    if ((req.headers.accept ?? '').includes('text/html')) {
      res.setHeader('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'");
      res.setHeader('cache-control', 'no-store');
      return void res.type('html').send(startPage(who, openableModules(kernel, who)));
    }
    res.json({
      name: 'BMC Hub', version: HUB_VERSION, health: '/health', modules: '/api/v1/modules', docs: '/api/docs',
      dashboard: 'on the admin origin (HUB_ADMIN_PORT, default 8001)', login: '/login',
      user: who ? { id: who.id, username: who.username } : null,
    });
  });
}
