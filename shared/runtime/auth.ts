// The child's side of identity (DESIGN.md "Identity and permissions"): req.user from the
// kernel's MAC'd x-hub-user header (./identity-header.ts), ctx.auth.require(perm) as route
// middleware, and the current request's user id kept in AsyncLocalStorage for ctx.db, which
// sets `hub.user_id` on every query it runs on behalf of the request (row-level security).
import { AsyncLocalStorage } from 'node:async_hooks';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { HubError } from '../errors.js';
import { takeUser, type HubUser } from './identity-header.js';

export type { HubUser };

declare module 'express-serve-static-core' {
  interface Request {
    /** The signed-in user with this module's permissions, or null (DESIGN.md "Identity and permissions"). */
    user?: HubUser | null;
  }
}

/** The user a request runs for; ctx.db reads it for `hub.user_id`. */
export const requestUser = new AsyncLocalStorage<HubUser | null>();

/** ctx.auth: what module code uses to guard routes. */
export interface ModuleAuth {
  /**
   * Route middleware: next() when req.user holds `permission` of this module; otherwise
   * 401 `unauthenticated` (nobody signed in) or 403 `forbidden`.
   */
  require(permission: string): RequestHandler;
}

export const moduleAuth: ModuleAuth = {
  require(permission) {
    return (req: Request, _res: Response, next: NextFunction) => {
      if (!req.user) return next(new HubError('unauthenticated', 'sign in first'));
      if (!req.user.permissions.includes(permission)) return next(new HubError('forbidden', `needs permission ${permission}`));
      next();
    };
  },
};

/**
 * express middleware, right after the kernel-secret check: req.user from the header when the
 * module's secret vouches for it (else null), and the rest of the request runs with that
 * user in `requestUser`.
 */
export function identityMiddleware(secret: string): RequestHandler {
  return (req: Request, _res: Response, next: NextFunction) => {
    const user = takeUser(req, secret);
    req.user = user;
    requestUser.run(user, next);
  };
}
