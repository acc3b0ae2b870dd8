// GET /metrics: Prometheus text for the kernel process and for every module.
// Request counts and latency are measured at the gateway, so they include the answers the
// kernel gives on a module's behalf (503 while it restarts, 502 when its child died).
// Everything else is read from the supervisors at scrape time: nothing to keep in sync.
// Label values come only from validated module names, a fixed method list and fixed
// state/reason/status-class sets, so a client cannot grow the series count.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Express, NextFunction, Request, Response } from 'express';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ModuleRequestObserver } from './gateway.js';
import { MODULE_STATES } from './module-state.js';
import type { ModuleSupervisor } from './supervisor.js';
import { takesTraffic } from '../shared/module-states.js';

export interface MetricsSource {
  supervisors(): ModuleSupervisor[];
}

export interface HubMetrics {
  registry: Registry;
  /** Pass to createGateway: counts and times every request routed to a module. */
  observe: ModuleRequestObserver;
  /** Adds GET /metrics to the admin origin's app, behind `guard` (the admin credential). */
  mount(app: Express, guard: (req: Request, res: Response, next: NextFunction) => void): void;
}

/** Every reason a supervisor counts a crash under (ChildExit reasons except a requested stop). */
const CRASH_REASONS = ['exit', 'signal', 'hang', 'memory', 'start_timeout', 'load_failed', 'protocol'] as const;
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

export function methodLabel(method: string | undefined): string {
  if (method !== undefined && METHODS.has(method)) return method; // node's parser gives upper case
  const m = (method ?? '').toUpperCase();
  return METHODS.has(m) ? m : 'OTHER';
}

/** `2xx` etc.; `aborted` when the connection closed before a whole answer was sent. */
export function statusClass(res: ServerResponse): string {
  if (!res.writableFinished) return 'aborted';
  const s = res.statusCode;
  return s >= 100 && s < 600 ? `${Math.floor(s / 100)}xx` : 'other';
}

export function createMetrics(source: MetricsSource): HubMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const sups = () => source.supervisors();

  new Gauge({
    name: 'hub_module_up',
    help: 'Whether the module is running and routed (1) or not (0)',
    labelNames: ['module'],
    registers,
    collect() {
      this.reset();
      for (const s of sups()) this.set({ module: s.name }, takesTraffic(s.state) ? 1 : 0);
    },
  });

  new Gauge({
    name: 'hub_module_state',
    help: 'The module state machine, one series per state: 1 for the current state, 0 for the others',
    labelNames: ['module', 'state'],
    registers,
    collect() {
      this.reset();
      for (const s of sups()) for (const state of MODULE_STATES) this.set({ module: s.name, state }, s.state === state ? 1 : 0);
    },
  });

  new Counter({
    name: 'hub_module_restarts_total',
    help: 'Child processes started to replace another one (crash restarts and requested restarts)',
    labelNames: ['module'],
    registers,
    collect() {
      this.reset();
      for (const s of sups()) this.inc({ module: s.name }, s.restarts);
    },
  });

  new Counter({
    name: 'hub_module_crashes_total',
    help: 'Child processes that ended without being asked to, by reason',
    labelNames: ['module', 'reason'],
    registers,
    collect() {
      this.reset();
      for (const s of sups()) for (const reason of CRASH_REASONS) this.inc({ module: s.name, reason }, s.crashes[reason] ?? 0);
    },
  });

  // Figures from the serving process's last report (a child's heartbeat, a remote module's
  // stats); a module with nothing running has no series rather than a made-up zero.
  const childGauge = (name: string, help: string, value: (sup: ModuleSupervisor) => number | undefined) =>
    new Gauge({
      name,
      help,
      labelNames: ['module'],
      registers,
      collect() {
        this.reset();
        for (const s of sups()) {
          const v = takesTraffic(s.state) ? value(s) : undefined;
          if (v !== undefined) this.set({ module: s.name }, v);
        }
      },
    });
  childGauge('hub_module_memory_rss_bytes', 'Resident memory of the module child process', (s) => s.stats?.rss);
  childGauge('hub_module_heap_used_bytes', 'V8 heap in use in the module child process', (s) => s.stats?.heapUsed);
  childGauge('hub_module_event_loop_lag_seconds', 'Longest event-loop delay the child saw between two heartbeats', (s) => {
    const lag = s.stats?.loopLagMs;
    return lag === undefined ? undefined : lag / 1000;
  });

  // A process's CPU clock starts at zero; summing over the module's processes keeps the
  // counter monotonic across restarts (the last beats of a dead child are lost, a small undercount).
  // A new process shows as a new pid, or (remote modules, whose pid we do not know) a clock that went back.
  const cpu = new Map<string, { pid: number; last: number; base: number }>();
  new Counter({
    name: 'hub_module_cpu_seconds_total',
    help: 'CPU time (user + system) used by the module child processes, summed over restarts',
    labelNames: ['module'],
    registers,
    collect() {
      this.reset();
      for (const s of sups()) {
        const micros = s.stats?.cpuMicros;
        const pid = s.child?.pid ?? 0;
        let c = cpu.get(s.name);
        if (!c) cpu.set(s.name, (c = { pid, last: 0, base: 0 }));
        if (micros !== undefined) {
          if (pid !== c.pid || micros < c.last) c.base += c.last;
          c.pid = pid;
          c.last = micros;
        }
        this.inc({ module: s.name }, (c.base + c.last) / 1e6);
      }
    },
  });

  const requests = new Counter({
    name: 'hub_module_requests_total',
    help: 'HTTP requests routed to the module by the gateway, by method and status class',
    labelNames: ['module', 'method', 'status_class'],
    registers,
  });
  const duration = new Histogram({
    name: 'hub_module_request_duration_seconds',
    help: 'Time from the gateway receiving a module request to the end of its answer',
    labelNames: ['module', 'method'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers,
  });

  // This runs for every proxied request: the labelled children are looked up once per
  // module, method and status class and kept in nested maps, so a request builds no label
  // objects and no key strings.
  interface MethodSeries {
    timer: Histogram.Internal<'module' | 'method'>;
    counters: Map<string, Counter.Internal>;
  }
  const series = new Map<string, Map<string, MethodSeries>>();
  const seriesFor = (module: string, method: string): MethodSeries => {
    let byMethod = series.get(module);
    if (!byMethod) series.set(module, (byMethod = new Map()));
    let s = byMethod.get(method);
    if (!s) byMethod.set(method, (s = { timer: duration.labels(module, method), counters: new Map() }));
    return s;
  };
  const observe: ModuleRequestObserver = (sup: ModuleSupervisor, req: IncomingMessage, res: ServerResponse) => {
    const start = performance.now();
    const name = sup.name;
    const method = methodLabel(req.method);
    // 'close' comes after 'finish' and also when the client gives up, so every request counts
    // once; it is emitted once, so `on` (no once-wrapper to allocate) is enough
    res.on('close', () => {
      const s = seriesFor(name, method);
      const status = statusClass(res);
      let counter = s.counters.get(status);
      if (!counter) s.counters.set(status, (counter = requests.labels(name, method, status)));
      counter.inc();
      s.timer.observe((performance.now() - start) / 1000);
    });
  };

  return {
    registry,
    observe,
    mount(app, guard) {
      app.get('/metrics', guard, async (_req: Request, res: Response) => {
        const text = await registry.metrics();
        res.setHeader('content-type', registry.contentType);
        res.setHeader('cache-control', 'no-store');
        res.send(text);
      });
    },
  };
}
