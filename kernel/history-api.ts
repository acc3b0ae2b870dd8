// The chart history on the admin origin, behind the admin credential like the rest of the
// admin API: GET /api/v1/history (every module) and GET /api/v1/modules/:name/history.
// Query: window=1h|24h (default 1h); since=<ms since the epoch> for only the newer points
// (the dashboard's live polling); last=<N> for only the last N points (`hubctl top`).
import type { Express, NextFunction, Request, Response } from 'express';
import { HubError } from '../shared/errors.js';
import type { HubView } from './hub-view.js';
import { WINDOWS, type HistoryWindow, type MetricsHistory } from './metrics-history.js';

interface HistoryQuery {
  window: HistoryWindow;
  since?: number;
  last?: number;
}

/** Reads window/since/last; a bad value is a 400 bad_request naming the parameter. */
export function historyQuery(q: Request['query']): HistoryQuery {
  const one = (k: string): string | undefined => (typeof q[k] === 'string' ? (q[k] as string) : undefined);
  const window = one('window') ?? '1h';
  if (!(WINDOWS as readonly string[]).includes(window)) {
    throw new HubError('bad_request', `window must be one of ${WINDOWS.join(', ')}, got ${JSON.stringify(window).slice(0, 40)}`);
  }
  const out: HistoryQuery = { window: window as HistoryWindow };
  const since = one('since');
  if (since !== undefined) {
    if (!/^\d{1,16}$/.test(since)) throw new HubError('bad_request', `since must be a time in ms since the epoch, got ${JSON.stringify(since).slice(0, 40)}`);
    out.since = Number(since);
  }
  const last = one('last');
  if (last !== undefined) {
    if (!/^\d{1,6}$/.test(last) || Number(last) < 1) throw new HubError('bad_request', `last must be a whole number of points (1 or more), got ${JSON.stringify(last).slice(0, 40)}`);
    out.last = Number(last);
  }
  return out;
}

/** Mounts both history routes on the admin origin's app, behind `guard`. */
export function mountHistory(app: Express, kernel: HubView, history: MetricsHistory, guard: (req: Request, res: Response, next: NextFunction) => void): void {
  app.get('/api/v1/history', guard, (req: Request, res: Response) => {
    const q = historyQuery(req.query);
    const modules: Record<string, unknown> = {};
    for (const name of history.names()) modules[name] = history.history(name, q.window, q);
    res.setHeader('cache-control', 'no-store');
    res.json({ window: q.window, now: Date.now(), modules });
  });

  app.get('/api/v1/modules/:name/history', guard, (req: Request, res: Response) => {
    const sup = kernel.modules.find(String(req.params.name));
    const q = historyQuery(req.query);
    res.setHeader('cache-control', 'no-store');
    res.json({ now: Date.now(), ...history.history(sup.name, q.window, q) });
  });
}
