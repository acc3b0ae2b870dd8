// The module record the admin API, hubctl and the dashboard show: one shape for all.
import { STATE_INFO } from '../shared/module-states.js';
import type { ModuleState } from './module-state.js';
import type { ModuleSupervisor } from './supervisor.js';

export interface ModuleRecord {
  name: string;
  version: string | null;
  description: string;
  enabled: boolean;
  state: ModuleState;
  pid: number | null;
  port: number | null;
  /** Crash restarts and requested restarts (POST …/restart). */
  restarts: number;
  /** Zero-downtime reloads for changed files (hot reload); not restarts. */
  reloads: number;
  uptime_ms: number;
  memory_rss_bytes: number | null;
  /** CPU use over the last ~2 s in % of one core, measured by the kernel from /proc; null for a remote module, when nothing runs or without /proc. */
  cpu_percent: number | null;
  api_prefix: string | null;
  tags: string[];
  dependencies: string[];
  last_error: string | null;
  /** Why the last hot reload did not load; the module keeps serving its previous version. Null once an edit loads. */
  reload_error: string | null;
  remote: boolean;
  db_isolation: 'role' | 'shared' | 'none';
  /** "uid": the child runs under its own OS user; "process": under the kernel's. */
  isolation: 'uid' | 'process';
}

export function moduleRecord(sup: ModuleSupervisor): ModuleRecord {
  const m = sup.entry.manifest;
  const serving = STATE_INFO[sup.state].traffic;
  const child = serving ? sup.child : null;
  return {
    name: sup.name,
    version: m?.version ?? null,
    description: m?.description ?? '',
    enabled: sup.wanted,
    state: sup.state,
    pid: child?.pid ?? null,
    port: child?.port ?? null,
    restarts: sup.restarts,
    reloads: sup.reloads,
    uptime_ms: sup.uptimeMs,
    memory_rss_bytes: serving ? (sup.stats?.rss ?? null) : null,
    cpu_percent: serving && !sup.remote ? (sup.stats?.cpuPercent ?? null) : null,
    api_prefix: m?.api_prefix ?? null,
    tags: m?.tags ?? [],
    dependencies: m?.dependencies ?? [],
    last_error: sup.lastError,
    reload_error: sup.reloadError,
    remote: sup.remote,
    db_isolation: sup.dbIsolation,
    isolation: sup.isolation,
  };
}
