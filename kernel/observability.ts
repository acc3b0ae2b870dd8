// What lets people see the hub, split by origin: the API docs on the public origin;
// /metrics and the dashboard on the admin origin (both behind the admin credential); plus
// the gateway hook that feeds the request metrics and the chart history (kernel/metrics-history.ts).
import type { Express } from 'express';
import type { AdminSessions } from './admin-session.js';
import type { ModuleRequestObserver } from './gateway.js';
import type { HubView } from './hub-view.js';
import { mountDashboard } from './dashboard.js';
import { mountChartAssets } from './chart-assets.js';
import { mountHistory } from './history-api.js';
import { createMetrics } from './metrics.js';
import { MetricsHistory } from './metrics-history.js';
import { mountDocs, type OpenApiCollector } from './openapi.js';
import { registerNoticeMetrics } from './notice-metrics.js';

export interface Observability {
  observe: ModuleRequestObserver;
  /** GET /api/docs and /api/docs/openapi.json. */
  mountPublic(app: Express): void;
  /** GET /metrics, the chart history, the dashboard, /login, /api/v1/events, and /api/docs with the admin scheme. */
  mountAdmin(app: Express, sessions: AdminSessions): void;
  /** Starts the history's sampling and event marks; call once each module's switch is settled (no boot-time "enabled" marks). */
  start(): void;
  /** Stops the history's sampling timer. */
  close(): void;
}

export function createObservability(kernel: HubView): Observability {
  const metrics = createMetrics(kernel);
  const history = new MetricsHistory(kernel, kernel.config.historyIntervalMs);
  registerNoticeMetrics(metrics.registry, kernel.notices, kernel.config.notify.urls);
  let docs: OpenApiCollector | undefined;
  return {
    observe(sup, req, res) {
      metrics.observe(sup, req, res);
      history.observe(sup, req, res);
    },
    mountPublic(app) {
      docs = mountDocs(app, kernel, 'public', docs);
    },
    mountAdmin(app, sessions) {
      metrics.mount(app, kernel.adminAuth('admin').guard);
      mountHistory(app, kernel, history, kernel.adminAuth('admin').guard);
      mountChartAssets(app);
      // the docs' pages are public reading; on this origin their "Try it out" may carry the token
      docs = mountDocs(app, kernel, 'admin', docs);
      mountDashboard(app, kernel, sessions);
    },
    start() {
      history.start();
    },
    close() {
      history.stop();
    },
  };
}
