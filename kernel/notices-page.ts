// The notices on the admin origin (issue 18 item 4): GET /api/v1/notices (JSON, admin
// credential) and the dashboard's /notices page; the header's badge (kernel/public/notices.js)
// counts the ones newer than the browser last saw there.
import type { Express, NextFunction, Request, Response } from 'express';
import { HubError } from '../shared/errors.js';
import { publicUrlFor, renderPage } from './dashboard.js';
import type { HubView } from './hub-view.js';
import { RING_SIZE } from './notice-ring.js';

/** Mounts GET /api/v1/notices?after=<id>&limit=<n> and GET /notices on the admin origin's app. */
export function mountNotices(app: Express, kernel: HubView): void {
  const auth = kernel.adminAuth('admin');

  app.get('/api/v1/notices', auth.guard, (req: Request, res: Response) => {
    const after = Number(req.query.after ?? 0);
    const limit = Number(req.query.limit ?? RING_SIZE);
    if (!Number.isInteger(after) || after < 0) throw new HubError('bad_request', 'after must be a notice id (a whole number, 0 or more)');
    if (!Number.isInteger(limit) || limit < 1 || limit > RING_SIZE) throw new HubError('bad_request', `limit must be a whole number from 1 to ${RING_SIZE}`);
    res.setHeader('cache-control', 'no-store');
    res.json({ notices: kernel.notices.ring.list(after, limit), last_id: kernel.notices.ring.lastId, receivers: kernel.notices.sender.stats() });
  });

  const page = (req: Request, res: Response, next: NextFunction) => {
    if (auth.isAdmin(req)) return next();
    if ((req.headers.accept ?? '').includes('text/html')) return void res.redirect(303, '/login');
    throw new HubError('unauthorized', 'sign in at /login, or send Authorization: Bearer <admin token>');
  };

  app.get('/notices', page, async (req: Request, res: Response) => {
    await renderPage(res, 'notices', {
      title: 'Notices',
      page: 'notices',
      publicUrl: publicUrlFor(req, kernel.port),
      notices: kernel.notices.ring.list(),
      lastId: kernel.notices.ring.lastId,
      receivers: kernel.config.notify.urls.map((u) => new URL(u).origin),
      stats: kernel.notices.sender.stats(),
    });
  });
}
