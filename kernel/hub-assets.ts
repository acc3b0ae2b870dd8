// The hub's stylesheet for module pages (ctx.page, shared/runtime/hub-layout.ts), on the
// public origin at /_hub/hub.css. A file of ours on the page's own origin, so a module page
// with any `style-src 'self'` CSP can use it; it holds no script and no data.
import { join } from 'node:path';
import type { Express, Request, Response } from 'express';
import { HUB_ROOT } from '../shared/paths.js';
import { HUB_STYLESHEET_PATH } from '../shared/runtime/hub-layout.js';

const FILE = join(HUB_ROOT, 'kernel', 'public', 'hub.css');

/** Mounts GET /_hub/hub.css (cached 10 minutes) on the public origin's app. */
export function mountHubAssets(app: Express): void {
  app.get(HUB_STYLESHEET_PATH, (_req: Request, res: Response) => {
    res.setHeader('x-content-type-options', 'nosniff');
    res.sendFile(FILE, { maxAge: '10m', headers: { 'content-type': 'text/css; charset=utf-8' } });
  });
}
