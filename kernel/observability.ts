// What lets people see the hub: /metrics, /api/docs and the dashboard, mounted together
// on the kernel's express app, plus the gateway hook that feeds the request metrics.
import type { Express } from 'express';
import type { ModuleRequestObserver } from './gateway.js';
import type { Kernel } from './kernel.js';
import { mountDashboard } from './dashboard.js';
import { createMetrics } from './metrics.js';
import { mountDocs } from './openapi.js';

export interface Observability {
  observe: ModuleRequestObserver;
  mount(app: Express): void;
}

export function createObservability(kernel: Kernel): Observability {
  const metrics = createMetrics(kernel);
  return {
    observe: metrics.observe,
    mount(app) {
      metrics.mount(app);
      mountDocs(app, kernel);
      mountDashboard(app, kernel);
    },
  };
}
