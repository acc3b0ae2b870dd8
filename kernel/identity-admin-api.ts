// The admin origin's user routes (DESIGN.md "Identity and permissions"), all behind the admin
// credential:
//   POST   /api/v1/users                         {"username","password","grants"?}
//   GET    /api/v1/users
//   POST   /api/v1/users/:username/password      {"password"}   (ends the user's sessions)
//   POST   /api/v1/users/:username/grants        {"grant":"notes.editor"}
//   DELETE /api/v1/users/:username/grants/:grant
//   POST   /api/v1/users/:username/tokens        {"name","expires_in_days"} → token once
//   GET    /api/v1/audit?limit=N                 newest first
// and the audit of every state-changing admin request (and every refused one), whatever route.
import express, { type Express, type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { HubError } from '../shared/errors.js';
import type { IdentityService } from './identity.js';
import { checkPasswordShape } from './identity-passwords.js';
import { checkGrant, checkGrantDeclared, checkUsername, MAX_TOKEN_DAYS, type DeclaredOf } from './identity-store.js';

/**
 * express middleware recording, once each request is answered, every state-changing request
 * and every refusal (401/403, and 429 rate_limited) in the audit trail (actor, METHOD path,
 * status). On the admin origin that is every route. The public origin serves the same admin
 * routes to the admin bearer (the README's curl examples), so it is audited too; there the
 * sign-in routes (`/api/v1/auth/…`, `/login`) record their own outcomes, and only their 429s,
 * which they never see (the throttle answers first), are recorded here.
 */
export function auditAdminRequests(identity: IdentityService, isAdmin: (req: Request) => boolean, origin: 'admin' | 'public' = 'admin'): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    res.once('finish', () => {
      const status = res.statusCode;
      const changing = req.method !== 'GET' && req.method !== 'HEAD' && req.method !== 'OPTIONS';
      const refused = status === 401 || status === 403;
      if (!changing && !refused && status !== 429) return;
      const selfAudited = origin === 'public' && (req.path.startsWith('/api/v1/auth/') || req.path === '/login');
      if (selfAudited && status !== 429) return;
      const username = (req.body as { username?: unknown } | undefined)?.username;
      identity.audit.record({
        actor: isAdmin(req) ? 'admin-token' : `anonymous@${req.socket.remoteAddress ?? '?'}`,
        action: `${origin === 'admin' ? 'admin' : 'public'} ${req.method} ${req.path.slice(0, 200)}`,
        ...(status === 429 && typeof username === 'string' ? { target: username.slice(0, 60) } : {}),
        result: status < 400 ? 'ok' : refused ? 'refused' : status === 429 ? 'rate_limited' : `failed ${status}`,
      });
    });
    next();
  };
}

/**
 * Mounts the user, grant and audit routes on the admin app behind `guard`. A grant given must
 * name a role or permission its module declares (`declaredOf`), else 400 naming them.
 */
export function mountIdentityAdmin(app: Express, identity: IdentityService, guard: RequestHandler, declaredOf: DeclaredOf): void {
  const router = express.Router();
  router.use('/api/v1/users', guard, express.json({ limit: '16kb' }));
  const store = () => {
    if (!identity.store) throw new HubError('database_unavailable', 'users need the database (HUB_DATABASE=off)');
    return identity.store;
  };
  const changed = () => identity.cache?.clear();

  router.post('/api/v1/users', async (req: Request, res: Response) => {
    const { username, password, grants } = (req.body ?? {}) as { username?: unknown; password?: unknown; grants?: unknown };
    const name = checkUsername(username);
    const pw = checkPasswordShape(password);
    if (grants !== undefined && !Array.isArray(grants)) throw new HubError('bad_request', 'grants must be a list of strings');
    const list = ((grants as unknown[] | undefined) ?? []).map((g) => checkGrantDeclared(checkGrant(g), declaredOf));
    const id = await store().createUser(name, pw, list, 'admin-token');
    res.status(201).json({ id, username: name, grants: list });
  });

  router.get('/api/v1/users', async (_req: Request, res: Response) => {
    res.json(await store().listUsers());
  });

  router.post('/api/v1/users/:username/password', async (req: Request, res: Response) => {
    const name = checkUsername(req.params.username);
    await store().setPassword(name, checkPasswordShape((req.body ?? {}).password));
    changed();
    res.json({ username: name, sessions_ended: true });
  });

  router.post('/api/v1/users/:username/grants', async (req: Request, res: Response) => {
    const name = checkUsername(req.params.username);
    const grant = checkGrantDeclared(checkGrant((req.body ?? {}).grant), declaredOf);
    const added = await store().grant(name, grant, 'admin-token');
    changed();
    res.status(added ? 201 : 200).json({ username: name, grant, added });
  });

  router.delete('/api/v1/users/:username/grants/:grant', async (req: Request, res: Response) => {
    const name = checkUsername(req.params.username);
    const grant = checkGrant(req.params.grant);
    if (!(await store().revoke(name, grant))) throw new HubError('not_found', `${name} does not hold ${grant}`);
    changed();
    res.json({ username: name, grant, removed: true });
  });

  router.post('/api/v1/users/:username/tokens', async (req: Request, res: Response) => {
    const name = checkUsername(req.params.username);
    const { name: label, expires_in_days } = (req.body ?? {}) as { name?: unknown; expires_in_days?: unknown };
    const days = expires_in_days ?? 30;
    if (typeof label !== 'string' || !label || label.length > 100) throw new HubError('bad_request', 'send {"name": "what it is for", "expires_in_days": 30}');
    if (typeof days !== 'number' || !Number.isInteger(days) || days < 1 || days > MAX_TOKEN_DAYS) throw new HubError('bad_request', `expires_in_days must be 1..${MAX_TOKEN_DAYS}`);
    const user = (await store().listUsers()).find((u) => u.username === name);
    if (!user) throw new HubError('not_found', `no user named ${name}`);
    res.status(201).json({ ...(await store().createToken(user.id, label, days)), name: label, username: name });
  });

  router.get('/api/v1/audit', guard, async (req: Request, res: Response) => {
    const limit = Number(req.query.limit ?? 100);
    res.json(await identity.audit.list(Number.isFinite(limit) ? limit : 100));
  });

  app.use(router);
}
