// The operator's dashboard, served on the admin origin only: GET / (every module),
// GET /modules/:name (one module with its dependencies, last error and log tail),
// GET /api/v1/events (module records over SSE), /login and /logout, and the static files
// under /static. Pages are rendered on the server, so they read fine without JavaScript;
// kernel/public/dashboard.js then keeps them live and adds the buttons, which call the admin
// API on the same origin. The browser's credential is an HttpOnly session cookie
// (kernel/admin-session.ts); no script ever sees a token.
// `/modules` and `/static` are reserved module names, so no module UI can shadow them.
import { join } from 'node:path';
import ejs from 'ejs';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import { HubError } from '../shared/errors.js';
import { AdminSessions } from './admin-session.js';
import { parseDependency } from '../shared/manifest.js';
import { HUB_ROOT, HUB_VERSION } from '../shared/paths.js';
import { securityHeaders } from './dashboard-security.js';
import type { LogEntry } from './logs.js';
import { hasGivenUp, MODULE_STATES, STATE_INFO, statesWhere, takesTraffic, toneOf } from '../shared/module-states.js';
import { moduleRecord, type ModuleRecord } from './module-record.js';
import { moduleTags } from './openapi.js';
import type { ModuleSupervisor } from './supervisor.js';
import type { HubView } from './hub-view.js';
import { levelName } from './logs.js';

const VIEWS = join(HUB_ROOT, 'kernel', 'views');
const PUBLIC = join(HUB_ROOT, 'kernel', 'public');
/** How often open dashboards get every record again, for uptime and memory. */
const TICK_MS = 2_000;
const LOG_LINES = 200;

export function formatUptime(ms: number): string {
  if (!ms || ms < 0) return '—';
  const s = Math.floor(ms / 1000);
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d > 0) return `${d}d ${h}h`;
  if (h > 0) return `${h}h ${m}m`;
  if (m > 0) return `${m}m ${s % 60}s`;
  return `${s}s`;
}

export function formatBytes(n: number | null): string {
  if (n === null || n === undefined) return '—';
  if (n < 1024) return `${n} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}


/** Where the module's endpoints start in Swagger UI (deep link to its first tag), under the public origin. */
export function docsLink(sup: ModuleSupervisor, publicUrl = ''): string {
  return `${publicUrl}/api/docs#/${encodeURIComponent(moduleTags(sup)[0]!)}`;
}

/**
 * The public origin as seen from the admin page's request: same host name, the public
 * port (module UIs and the API docs live there, never on the admin origin).
 */
export function publicUrlFor(req: Request, publicPort: number): string {
  const host = req.headers.host ?? '127.0.0.1';
  const name = host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.replace(/:\d+$/, '');
  return `${req.protocol}://${name}:${publicPort}`;
}

interface DependencyView {
  name: string;
  range: string | null;
  state: string;
  known: boolean;
}

function dependencies(kernel: HubView, sup: ModuleSupervisor): DependencyView[] {
  return (sup.entry.manifest?.dependencies ?? []).map((d) => {
    const { name, range } = parseDependency(d);
    const dep = kernel.supervisor(name);
    return { name, range: range ?? null, state: dep?.state ?? 'missing', known: dep !== undefined };
  });
}

function dependents(kernel: HubView, name: string): ModuleRecord[] {
  return kernel
    .supervisors()
    .filter((s) => (s.entry.manifest?.dependencies ?? []).some((d) => parseDependency(d).name === name))
    .map(moduleRecord);
}

/** state → tone for the page script (data-tones), from the one vocabulary. */
const TONES = Object.fromEntries(MODULE_STATES.map((s) => [s, STATE_INFO[s].tone]));

/** Which states each summary tile counts (data-counted for the page script), from the one vocabulary. */
const COUNTED = { running: statesWhere(takesTraffic), failed: statesWhere(hasGivenUp) };

/** The record's problem line: its last error, else a failed hot reload. */
function problemOf(m: ModuleRecord): string {
  return m.last_error ?? (m.reload_error ? `reload failed, the previous version keeps serving: ${m.reload_error}` : '');
}

/** Renders one of kernel/views with what every admin page's header needs (version, formatters, state tones). */
export async function renderPage(res: Response, view: string, data: Record<string, unknown>): Promise<void> {
  const html = await ejs.renderFile(join(VIEWS, `${view}.ejs`), {
    ...data,
    hubVersion: HUB_VERSION,
    fmt: { uptime: formatUptime, bytes: formatBytes, level: levelName, tone: toneOf, tones: TONES, counted: COUNTED, problem: problemOf },
  });
  securityHeaders(res);
  res.type('html').send(html);
}

/** Server-sent events: every record at once on connect and every TICK_MS, one record on each change. */
export function streamEvents(kernel: HubView, res: Response): void {
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    'x-accel-buffering': 'no',
  });
  const send = (event: string, data: unknown) => res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  const all = () => send('modules', kernel.supervisors().map(moduleRecord));
  res.write('retry: 2000\n\n');
  all();
  const off = kernel.onChange((sup) => send('module', moduleRecord(sup)));
  const tick = setInterval(all, TICK_MS);
  res.on('close', () => {
    clearInterval(tick);
    off();
  });
}

/** GET /api/v1/events behind the admin check of one origin (the public one takes bearer only). */
export function mountEvents(app: Express, kernel: HubView, guard: (req: Request, res: Response, next: NextFunction) => void): void {
  app.get('/api/v1/events', guard, (_req: Request, res: Response) => streamEvents(kernel, res));
}

/** Mounts the dashboard, its sign-in and its live events on the admin origin's app. */
export function mountDashboard(app: Express, kernel: HubView, sessions: AdminSessions): void {
  const auth = kernel.adminAuth('admin');
  const form = express.urlencoded({ extended: false, limit: '4kb' });

  app.use('/static', express.static(PUBLIC, { index: false, maxAge: '10m', fallthrough: true }));

  // a page a signed-out browser asks for leads to the sign-in form; scripts get 401 JSON
  const page = (req: Request, res: Response, next: NextFunction) => {
    if (auth.isAdmin(req)) return next();
    if ((req.headers.accept ?? '').includes('text/html')) return void res.redirect(303, '/login');
    throw new HubError('unauthorized', 'sign in at /login, or send Authorization: Bearer <admin token>');
  };

  app.get('/login', async (req: Request, res: Response) => {
    await renderLogin(res, req.query.failed === '1');
  });

  // The token is shown once and traded for a session cookie; the answer is a redirect, so
  // a reload never posts it again.
  app.post('/login', form, async (req: Request, res: Response) => {
    const token = typeof req.body?.token === 'string' ? req.body.token : '';
    if (!auth.matches(token.trim())) return void res.redirect(303, '/login?failed=1');
    res.setHeader('set-cookie', AdminSessions.setCookie(await sessions.create(), req.secure));
    res.redirect(303, '/');
  });

  app.post('/logout', async (req: Request, res: Response) => {
    await sessions.end(req);
    res.setHeader('set-cookie', AdminSessions.clearCookie());
    res.redirect(303, '/login');
  });

  app.get('/', page, async (req: Request, res: Response) => {
    const sups = kernel.supervisors();
    const publicUrl = publicUrlFor(req, kernel.port);
    await renderPage(res, 'dashboard', {
      title: 'Modules',
      page: 'dashboard',
      publicUrl,
      modules: sups.map((s) => ({ ...moduleRecord(s), docs: docsLink(s, publicUrl) })),
    });
  });

  app.get('/modules/:name', page, async (req: Request, res: Response) => {
    const sup = kernel.modules.find(req.params.name);
    const logs: LogEntry[] = kernel.logs.recent(sup.name, LOG_LINES);
    const publicUrl = publicUrlFor(req, kernel.port);
    await renderPage(res, 'module', {
      title: sup.name,
      page: 'module',
      publicUrl,
      m: moduleRecord(sup),
      docs: docsLink(sup, publicUrl),
      deps: dependencies(kernel, sup),
      usedBy: dependents(kernel, sup.name),
      logs,
      logLines: LOG_LINES,
    });
  });

  mountEvents(app, kernel, auth.guard);
}

async function renderLogin(res: Response, failed: boolean): Promise<void> {
  const html = await ejs.renderFile(join(VIEWS, 'login.ejs'), { hubVersion: HUB_VERSION, failed });
  securityHeaders(res);
  res.status(failed ? 401 : 200).type('html').send(html);
}
