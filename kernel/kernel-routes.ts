// The kernel's own read-only routes: health and the module records.
import express, { type Express, type Request, type Response } from 'express';
import { HubError } from '../shared/errors.js';
import { STATE_INFO } from '../shared/module-states.js';
import { errorMiddleware } from './http-errors.js';
import { moduleRecord } from './module-record.js';
import type { ModuleSupervisor } from './supervisor.js';

export interface KernelView {
  readonly ready: boolean;
  /** The kernel's database, if it has one; /health reports whether the server checks passwords. */
  readonly db?: { readonly trustsPasswords: boolean | null; readonly openDatabases: string[]; status?(): { up: boolean; reason: string | null } } | null;
  /** The OS wall children get (DESIGN.md, Trust boundary). */
  readonly isolation: { mode: 'uid' | 'process' };
  supervisors(): ModuleSupervisor[];
  supervisor(name: string): ModuleSupervisor | undefined;
}

export function createKernelApp(kernel: KernelView, mount: (app: Express) => void = () => undefined): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('json spaces', 0);
  // browsers ask every origin for an icon; the hub has none, and a 404 on every page is noise
  // in the browser console (both origins' apps are made here)
  app.get('/favicon.ico', (_req: Request, res: Response) => {
    res.set('cache-control', 'public, max-age=86400').status(204).end();
  });

  app.get('/health', (_req: Request, res: Response) => {
    const modules: Record<string, string> = {};
    let degraded = false;
    for (const s of kernel.supervisors()) {
      modules[s.name] = s.state;
      if (s.wanted && !STATE_INFO[s.state].traffic) degraded = true;
    }
    const health: Record<string, unknown> = { status: degraded ? 'degraded' : 'ok', isolation: kernel.isolation.mode, modules };
    if (kernel.db) {
      const trusts = kernel.db.trustsPasswords;
      const open = kernel.db.openDatabases;
      health.database = { trusts_passwords: trusts, open_to_all_roles: open };
      const warnings: string[] = [];
      if (trusts) warnings.push('the database server does not check passwords (pg_hba.conf "trust"): modules are not isolated from each other or from the kernel\'s login');
      if (open.length > 0) warnings.push(`module roles may connect to other databases of this server: ${open.join(', ')} (CONNECT granted to PUBLIC)`);
      health.warnings = warnings;
      // the embedded server is being restarted (kernel/embedded-postgres.ts): degraded, with why
      const db = kernel.db.status?.();
      if (db && !db.up) {
        health.status = 'degraded';
        health.database = { ...(health.database as object), up: false, reason: db.reason };
      }
    }
    res.json(health);
  });

  // For load balancers and Kubernetes readiness: 503 until the first start of the enabled
  // modules is over, so a new kernel takes no traffic it would only have to hold.
  app.get('/health/ready', (_req: Request, res: Response) => {
    res.status(kernel.ready ? 200 : 503).json({ ready: kernel.ready });
  });

  app.get('/api/v1/modules', (_req: Request, res: Response) => {
    res.json(kernel.supervisors().map(moduleRecord));
  });

  app.get('/api/v1/modules/:name', (req: Request, res: Response) => {
    const sup = kernel.supervisor(String(req.params.name));
    if (!sup) throw new HubError('module_not_found', `no module named ${JSON.stringify(String(req.params.name)).slice(0, 60)}; see GET /api/v1/modules`);
    res.json(moduleRecord(sup));
  });

  mount(app);

  app.use((req: Request) => {
    throw new HubError('not_found', `no route ${req.method} ${req.path.slice(0, 200)}`);
  });
  app.use(errorMiddleware);
  return app;
}
