// ctx.page (issue 18 item 3): a module's view rendered inside the hub's layout — a header
// with the hub's name, links to the user's modules (the public origin's `/`) and to the admin
// dashboard, the signed-in user, and the hub's stylesheet (/_hub/hub.css on the public origin).
// The layout is rendered here, in the module's child, from what the child already has: its
// spec (module name, the admin port as a number) and req.user, which the runtime believes only
// when the kernel's MAC verifies (./identity-header.ts). The dashboard link is a plain link:
// it carries no token, and a page on the public origin still cannot read or drive the admin
// origin (another port: no CORS, and admin cookies count only on the admin origin's own
// requests, kernel/admin-auth.ts). Every value is escaped by EJS.
import { compileTemplate } from './templates.js';
import type { Request, Response } from 'express';
import type { HubUser } from './identity-header.js';

/** Where the public origin serves the hub's stylesheet for module pages (kernel/hub-assets.ts). */
export const HUB_STYLESHEET_PATH = '/_hub/hub.css';

/** Options of ctx.page. */
export interface HubPageOptions {
  /** The page's title (shown in the browser tab, after it the hub's name); default: the module's name. */
  title?: string;
  /** HTTP status; default: the status already set on `res` (200 unless changed). */
  status?: number;
}

/** What the layout shows around a module's view; all of it is escaped. */
export interface HubLayoutInput {
  hubName: string;
  module: string;
  title: string;
  user: Pick<HubUser, 'username'> | null;
  /** The admin dashboard's URL, or null when unknown (a module served on its own). */
  dashboardUrl: string | null;
  /** The module's rendered view: HTML the module made (it is the page's body). */
  body: string;
}

const LAYOUT = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title><%= title %> · <%= hubName %></title>
<link rel="stylesheet" href="<%= stylesheet %>">
</head>
<body class="hub-page" data-module="<%= module %>">
<header class="hub-bar">
  <a class="hub-brand" href="/"><span class="hub-mark" aria-hidden="true"></span><%= hubName %></a>
  <nav class="hub-nav" aria-label="Hub">
    <a href="/" id="hub-home">Modules</a>
    <a href="/<%= module %>" aria-current="page"><%= module %></a>
    <a href="/api/docs">API docs</a>
    <% if (dashboardUrl) { %><a href="<%= dashboardUrl %>" id="hub-dashboard" rel="noopener noreferrer">Dashboard</a><% } %>
  </nav>
  <div class="hub-user">
    <% if (user) { %><span id="hub-user">Signed in as <strong><%= user.username %></strong></span>
    <form method="post" action="/api/v1/auth/logout"><button type="submit" class="hub-btn">Sign out</button></form>
    <% } else { %><a href="/login?next=<%= encodeURIComponent('/' + module) %>" id="hub-user">Sign in</a><% } %>
  </div>
</header>
<main class="hub-main">
<%- body %>
</main>
</body>
</html>
`;

// compiled on the first page (ejs loads on first use: issue 17)
let template: Promise<(data: object) => string> | undefined;

/** The whole HTML page: the hub's layout around `input.body`. */
export async function hubLayout(input: HubLayoutInput): Promise<string> {
  template ??= compileTemplate(LAYOUT);
  return (await template)({ ...input, stylesheet: HUB_STYLESHEET_PATH });
}

/**
 * The admin dashboard as a link from a page on the public origin: the host name the browser
 * used, the admin port. Null when the port is unknown. The admin origin listens on loopback by
 * default (HUB_ADMIN_HOST), so the link works from the hub's machine (or a tunnel to it).
 */
export function dashboardUrlFor(req: Request, adminPort: number | null | undefined): string | null {
  if (!adminPort) return null;
  const host = req.headers.host ?? '127.0.0.1';
  const name = host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.replace(/:\d+$/, '');
  if (!/^[A-Za-z0-9.\-[\]:]+$/.test(name)) return null;
  return `${req.protocol}://${name}:${adminPort}/`;
}

/** Sends `body` wrapped in the hub's layout as the answer to `res` (text/html). */
export async function sendHubPage(res: Response, opts: { hubName: string; module: string; adminPort: number | null | undefined; body: string } & HubPageOptions): Promise<void> {
  const req = res.req as Request;
  const html = await hubLayout({
    hubName: opts.hubName,
    module: opts.module,
    title: opts.title ?? opts.module,
    user: req.user ? { username: req.user.username } : null,
    dashboardUrl: dashboardUrlFor(req, opts.adminPort),
    body: opts.body,
  });
  if (opts.status !== undefined) res.status(opts.status);
  res.type('html').send(html);
}
