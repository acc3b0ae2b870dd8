// The charting library for the dashboard, served from node_modules on the admin origin like
// Swagger UI is (no CDN, nothing fetched at run time): uPlot's minified script and its
// stylesheet, at /static/vendor/uplot.js and /static/vendor/uplot.css. The dashboard's CSP
// (kernel/dashboard-security.ts) stays strict: uPlot sets element styles through the CSSOM,
// which style-src 'self' allows, and needs no eval.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Express, Request, Response } from 'express';

/** Folder of the installed uplot package's dist files. */
function uplotDist(): string {
  return dirname(createRequire(import.meta.url).resolve('uplot'));
}

/** Mounts the two uPlot files under /static/vendor/ (served to anyone, like the rest of /static). */
export function mountChartAssets(app: Express): void {
  const dist = uplotDist();
  const send = (file: string) => (_req: Request, res: Response) => {
    res.setHeader('x-content-type-options', 'nosniff');
    res.sendFile(join(dist, file), { maxAge: '1h' });
  };
  app.get('/static/vendor/uplot.js', send('uPlot.iife.min.js'));
  app.get('/static/vendor/uplot.css', send('uPlot.min.css'));
}
