// The dashboard's user screens on the admin origin (issue 15 item 3): GET /users (every user
// with their grants, a grant form, a revoke button per grant, a new-user form) and GET /audit
// (the audit trail). Plain server-rendered forms, no script: each POST redirects back to
// /users with a message. Same guard as the other dashboard pages (admin credential or the
// dashboard's session cookie); the admin origin's own-pages-only rule covers the posts, and
// kernel/identity-admin-api.ts audits them like every admin request.
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import { HubError, toHubError } from '../shared/errors.js';
import { publicUrlFor, renderPage } from './dashboard.js';
import type { IdentityService } from './identity.js';
import { checkPasswordShape } from './identity-passwords.js';
import { checkGrant, checkGrantDeclared, checkUsername } from './identity-store.js';
import type { HubView } from './hub-view.js';
import type { ModulePermissions } from '../shared/grants.js';


/** Every grant the loaded modules offer: `<module>.<role>` and `<module>.<perm>`, then hub.admin. */
function grantOptions(kernel: HubView): string[] {
  const out: string[] = [];
  for (const s of kernel.supervisors()) {
    const m = s.entry.manifest;
    if (!m) continue;
    for (const r of Object.keys(m.roles ?? {})) out.push(`${s.name}.${r}`);
    for (const p of Object.keys(m.permissions ?? {})) out.push(`${s.name}.${p}`);
  }
  return [...out, 'hub.admin'];
}

/** Mounts /users and /audit on the admin app. */
/** What module `name` declares for grants (its manifest's permissions and roles), or null. */
export function declaredOf(kernel: Pick<HubView, 'supervisor'>, name: string): ModulePermissions | null {
  const m = kernel.supervisor(name)?.entry.manifest;
  return m ? { permissions: m.permissions ?? {}, roles: m.roles ?? {} } : null;
}

export function mountUserScreens(app: Express, kernel: HubView, identity: IdentityService): void {
  const auth = kernel.adminAuth('admin');
  const form = express.urlencoded({ extended: false, limit: '8kb' });
  const page = (req: Request, res: Response, next: NextFunction) => {
    if (auth.isAdmin(req)) return next();
    if ((req.headers.accept ?? '').includes('text/html')) return void res.redirect(303, '/login');
    throw new HubError('unauthorized', 'sign in at /login, or send Authorization: Bearer <admin token>');
  };
  const store = () => {
    if (!identity.store) throw new HubError('database_unavailable', 'users need the database (HUB_DATABASE=off)');
    return identity.store;
  };
  const back = (res: Response, message: string, failed = false) =>
    res.redirect(303, `/users?${failed ? 'error' : 'ok'}=${encodeURIComponent(message.slice(0, 200))}`);
  // a form post whose check or write fails comes back as a message, not a JSON error page
  const action = (fn: (body: Record<string, unknown>) => Promise<string>) => async (req: Request, res: Response) => {
    try {
      back(res, await fn((req.body ?? {}) as Record<string, unknown>));
      identity.cache?.clear();
    } catch (e) {
      back(res, toHubError(e).message, true);
    }
  };

  app.get('/users', page, async (req: Request, res: Response) => {
    const error = typeof req.query.error === 'string' ? req.query.error : '';
    const ok = typeof req.query.ok === 'string' ? req.query.ok : '';
    await renderPage(res, 'users', {
      title: 'Users', page: 'users', publicUrl: publicUrlFor(req, kernel.port),
      users: await store().listUsers(), grantOptions: grantOptions(kernel), message: error || ok, failed: error !== '',
    });
  });

  app.post('/users/add', page, form, action(async (b) => {
    const name = checkUsername(b.username);
    await store().createUser(name, checkPasswordShape(b.password), [], 'admin-token');
    return `user ${name} added`;
  }));

  app.post('/users/grant', page, form, action(async (b) => {
    const name = checkUsername(b.username);
    const grant = checkGrantDeclared(checkGrant(typeof b.grant === 'string' ? b.grant.trim() : b.grant), (m) => declaredOf(kernel, m));
    await store().grant(name, grant, 'admin-token');
    return `${name} now holds ${grant}`;
  }));

  app.post('/users/revoke', page, form, action(async (b) => {
    const name = checkUsername(b.username);
    const grant = checkGrant(b.grant);
    if (!(await store().revoke(name, grant))) throw new HubError('not_found', `${name} did not hold ${grant}`);
    return `${name} no longer holds ${grant}`;
  }));

  app.get('/audit', page, async (req: Request, res: Response) => {
    await renderPage(res, 'audit', { title: 'Audit', page: 'audit', publicUrl: publicUrlFor(req, kernel.port), events: await identity.audit.list(200) });
  });
}
