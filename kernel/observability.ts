// What lets people see the hub, split by origin: the API docs on the public origin;
// /metrics and the dashboard on the admin origin (both behind the admin credential); plus
// the gateway hook that feeds the request metrics.
import type { Express } from 'express';
import type { AdminSessions } from './admin-session.js';
import type { ModuleRequestObserver } from './gateway.js';
import type { Kernel } from './kernel.js';
import { mountDashboard } from './dashboard.js';
import { createMetrics } from './metrics.js';
import { mountDocs } from './openapi.js';

export interface Observability {
  observe: ModuleRequestObserver;
  /** GET /api/docs and /api/docs/openapi.json. */
  mountPublic(app: Express): void;
  /** GET /metrics, the dashboard, /login, /api/v1/events. */
  mountAdmin(app: Express, sessions: AdminSessions): void;
}

export function createObservability(kernel: Kernel): Observability {
  const metrics = createMetrics(kernel);
  return {
    observe: metrics.observe,
    mountPublic(app) {
      mountDocs(app, kernel);
    },
    mountAdmin(app, sessions) {
      metrics.mount(app, kernel.adminAuth('admin').guard);
      mountDashboard(app, kernel, sessions);
    },
  };
}
