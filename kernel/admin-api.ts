// The admin API's HTTP side: enable/disable/restart and per-module logs, every one behind
// the admin credential (kernel/admin-auth.ts) on whichever origin it is mounted.
import express, { type Express, type Request, type Response } from 'express';
import { HubError } from '../shared/errors.js';
import type { Origin } from './admin-auth.js';
import type { HubView } from './hub-view.js';
import { streamLogs } from './log-stream.js';
import { KERNEL_STREAM } from './logs.js';
import { disableModule, enableModule, restartModule } from './module-actions.js';
import { assertTested } from './tested-records.js';
import { moduleRecord } from './module-record.js';
import type { ModuleSupervisor } from './supervisor.js';
import { hasGivenUp } from '../shared/module-states.js';

/**
 * Who switched a module, for its notice: these routes take only the admin credential (token or
 * the dashboard's session made from it), named as the audit trail names it (kernel/identity-admin-api.ts).
 */
const ACTOR = 'admin-token';

function answer(res: Response, sup: ModuleSupervisor, extra: Record<string, unknown> = {}): void {
  const record = moduleRecord(sup);
  if (hasGivenUp(sup.state)) {
    const e = new HubError('start_failed', `module ${sup.name} failed: ${sup.lastError ?? 'unknown error'}`, { record });
    res.status(e.status).json(e.toJSON());
    return;
  }
  res.json({ ...record, ...extra });
}

/** Mounts the admin routes on one origin's app; `origin` decides which credentials count. */
export function mountAdmin(app: Express, kernel: HubView, origin: Origin = 'public'): void {
  const { guard } = kernel.adminAuth(origin);
  const router = express.Router();

  router.post('/api/v1/modules/:name/enable', guard, async (req: Request, res: Response) => {
    const { config } = kernel;
    const gate = config.requireTested ? (n: string, dir: string) => assertTested(config.dataDir, n, dir) : undefined;
    const was = kernel.supervisor(String(req.params.name))?.wanted;
    const { sup, alsoEnabled } = await enableModule(kernel.modules, config.modulesDir, req.params.name, gate);
    for (const dep of alsoEnabled) kernel.notices.switched(kernel.modules.find(dep), true, ACTOR);
    if (!was) kernel.notices.switched(sup, true, ACTOR);
    answer(res, sup, alsoEnabled.length ? { enabled_dependencies: alsoEnabled } : {});
  });

  router.post('/api/v1/modules/:name/disable', guard, async (req: Request, res: Response) => {
    const was = kernel.supervisor(String(req.params.name))?.wanted;
    const sup = await disableModule(kernel.modules, req.params.name);
    if (was) kernel.notices.switched(sup, false, ACTOR);
    answer(res, sup);
  });

  router.post('/api/v1/modules/:name/restart', guard, async (req: Request, res: Response) => {
    const { sup, pending } = await restartModule(kernel.modules, kernel.config.modulesDir, req.params.name);
    if (pending) res.status(202);
    answer(res, sup);
  });

  // module output can hold anything (secrets a module logged, other modules' data it saw)
  router.get('/api/v1/modules/:name/logs', guard, (req: Request, res: Response) => {
    const sup = kernel.modules.find(req.params.name);
    streamLogs(kernel.logs, sup.name, req, res);
  });

  // the kernel's own lines (`hubctl logs --kernel`), where "see hubctl logs x" may lead
  router.get('/api/v1/kernel/logs', guard, (req: Request, res: Response) => {
    streamLogs(kernel.logs, KERNEL_STREAM, req, res);
  });

  app.use(router);
}
