// The chart history (issue 18): per module, one point every HUB_HISTORY_INTERVAL_MS (5 s) for
// the last hour, and one point per minute for the last 24 hours, plus a ring of events
// (restart, crash, failed, enabled, disabled) to mark on the time axis.
//
// Only what the kernel measures goes in: request rate, 5xx rate and p50/p95 latency as the
// gateway timed them (the same place kernel/metrics.ts counts), CPU % and RSS from /proc
// (kernel/proc-stats.ts) for a local child. A module's own numbers (heartbeat stats, a remote
// module's /stats) never do: a remote module's CPU and memory points are empty.
//
// Memory is fixed per module: typed arrays sized at creation, overwritten in a ring
// (historyBytesPerModule below; about 70 KB at the default 5 s). Module names are validated,
// so a client cannot add series; a module that leaves the hub takes its history with it.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { hasGivenUp } from '../shared/module-states.js';
import { LatencySketch } from './latency-sketch.js';
import { osCpuMicros, osRssBytes } from './proc-stats.js';
import type { ModuleSupervisor } from './supervisor.js';

/** The value columns of every point, in this order. Rates per second, latency in ms, CPU in % of one core. */
export const SERIES = ['req_per_s', 'err_per_s', 'p50_ms', 'p95_ms', 'cpu_percent', 'rss_bytes'] as const;
export type SeriesName = (typeof SERIES)[number];

/** Marks on the time axis, from the supervisor's counters and state (never from the module). */
export const EVENT_KINDS = ['restart', 'crash', 'failed', 'enabled', 'disabled'] as const;
export type EventKind = (typeof EVENT_KINDS)[number];

export type HistoryWindow = '1h' | '24h';
export const WINDOWS: readonly HistoryWindow[] = ['1h', '24h'];

const HOUR_MS = 3_600_000;
const MINUTE_MS = 60_000;
/** The 24 h window: one point per minute. */
const COARSE_POINTS = 1440;
/** Events kept per module (the oldest go first). */
const EVENT_SLOTS = 256;
/** Bytes per point: a float64 time and six float32 values. */
const POINT_BYTES = 8 + SERIES.length * 4;
/** Bytes per event: a float64 time and a uint8 kind. */
const EVENT_BYTES = 9;

/** Points in the 1 h window for a sampling interval: one hour's worth (720 at 5 s). */
export function finePoints(intervalMs: number): number {
  return Math.ceil(HOUR_MS / intervalMs);
}

/** The fixed memory one module's history takes, in bytes (typed arrays only; ~70 KB at 5 s). */
export function historyBytesPerModule(intervalMs: number): number {
  return (finePoints(intervalMs) + COARSE_POINTS) * POINT_BYTES + EVENT_SLOTS * EVENT_BYTES;
}

/** A ring of points: a time column and one float32 column per series, oldest overwritten first. */
export class PointRing {
  readonly time: Float64Array;
  readonly values: Float32Array[];
  private head = 0;
  size = 0;

  constructor(readonly capacity: number) {
    this.time = new Float64Array(capacity);
    this.values = SERIES.map(() => new Float32Array(capacity));
  }

  push(t: number, values: readonly number[]): void {
    this.time[this.head] = t;
    for (let s = 0; s < SERIES.length; s++) this.values[s]![this.head] = values[s]!;
    this.head = (this.head + 1) % this.capacity;
    if (this.size < this.capacity) this.size++;
  }

  /** Index of the i-th oldest point. */
  private at(i: number): number {
    return (this.head - this.size + i + this.capacity) % this.capacity;
  }

  /**
   * The points newer than `since` (ms, exclusive), at most the last `last` of them, oldest first,
   * as columns; an empty measurement (NaN) is null in the output.
   */
  columns(since = -Infinity, last = Infinity): { t: number[] } & Record<SeriesName, (number | null)[]> {
    let first = 0;
    while (first < this.size && this.time[this.at(first)]! <= since) first++;
    first = Math.max(first, this.size - last);
    const out = { t: [] as number[] } as { t: number[] } & Record<SeriesName, (number | null)[]>;
    for (const name of SERIES) out[name] = [];
    for (let i = first; i < this.size; i++) {
      const k = this.at(i);
      out.t.push(this.time[k]!);
      SERIES.forEach((name, s) => out[name].push(rounded(name, this.values[s]![k]!)));
    }
    return out;
  }
}

/** Float32 noise off: three decimals for rates, ms and %, whole bytes. */
function rounded(name: SeriesName, v: number): number | null {
  if (!Number.isFinite(v)) return null;
  return name === 'rss_bytes' ? Math.round(v) : Math.round(v * 1000) / 1000;
}

/** One module's history and the counters of the interval under way. */
class ModuleHistory {
  readonly fine: PointRing;
  readonly coarse = new PointRing(COARSE_POINTS);
  private readonly eventTime = new Float64Array(EVENT_SLOTS);
  private readonly eventKind = new Uint8Array(EVENT_SLOTS);
  private eventHead = 0;
  private eventCount = 0;

  // the interval under way (requests the gateway finished since the last point)
  requests = 0;
  errors = 0;
  readonly latency = new LatencySketch();
  // the minute under way, made of the fine points
  private minute = { requests: 0, errors: 0, seconds: 0, cpuSum: 0, cpuN: 0, rssMax: NaN, points: 0 };
  private readonly minuteLatency = new LatencySketch();
  /** The CPU clock at the last point, to turn CPU time into a percentage. */
  cpuBase: { pid: number; micros: number; at: number } | null = null;
  /** What the last change showed, to tell which event a new change is. */
  seen: { restarts: number; crashes: number; wanted: boolean; failed: boolean } | null = null;

  constructor(finePointCount: number, private readonly perCoarse: number) {
    this.fine = new PointRing(finePointCount);
  }

  addEvent(t: number, kind: EventKind): void {
    this.eventTime[this.eventHead] = t;
    this.eventKind[this.eventHead] = EVENT_KINDS.indexOf(kind);
    this.eventHead = (this.eventHead + 1) % EVENT_SLOTS;
    if (this.eventCount < EVENT_SLOTS) this.eventCount++;
  }

  events(since: number): { t: number[]; kind: EventKind[] } {
    const out = { t: [] as number[], kind: [] as EventKind[] };
    for (let i = 0; i < this.eventCount; i++) {
      const k = (this.eventHead - this.eventCount + i + EVENT_SLOTS) % EVENT_SLOTS;
      if (this.eventTime[k]! <= since) continue;
      out.t.push(this.eventTime[k]!);
      out.kind.push(EVENT_KINDS[this.eventKind[k]!]!);
    }
    return out;
  }

  /** Closes the interval under way as one fine point (and every perCoarse of them as one coarse point). */
  close(t: number, seconds: number, cpuPercent: number, rss: number): void {
    const rate = (n: number) => (seconds > 0 ? n / seconds : 0);
    this.fine.push(t, [rate(this.requests), rate(this.errors), this.latency.quantile(0.5), this.latency.quantile(0.95), cpuPercent, rss]);
    const m = this.minute;
    m.requests += this.requests;
    m.errors += this.errors;
    m.seconds += seconds;
    if (Number.isFinite(cpuPercent)) {
      m.cpuSum += cpuPercent;
      m.cpuN++;
    }
    if (Number.isFinite(rss) && !(rss <= m.rssMax)) m.rssMax = rss;
    m.points++;
    this.minuteLatency.add(this.latency);
    this.requests = 0;
    this.errors = 0;
    this.latency.reset();
    if (m.points >= this.perCoarse) {
      const mRate = (n: number) => (m.seconds > 0 ? n / m.seconds : 0);
      const cpu = m.cpuN > 0 ? m.cpuSum / m.cpuN : NaN;
      this.coarse.push(t, [mRate(m.requests), mRate(m.errors), this.minuteLatency.quantile(0.5), this.minuteLatency.quantile(0.95), cpu, m.rssMax]);
      this.minute = { requests: 0, errors: 0, seconds: 0, cpuSum: 0, cpuN: 0, rssMax: NaN, points: 0 };
      this.minuteLatency.reset();
    }
  }
}

/** What the history reads: the modules, and their changes for the event marks. */
export interface HistorySource {
  supervisors(): ModuleSupervisor[];
  onChange(fn: (sup: ModuleSupervisor) => void): () => void;
}

/** One module's figures for a window, as the admin API sends them (columns; times in ms since the epoch). */
export interface ModuleHistoryJson {
  module: string;
  window: HistoryWindow;
  /** ms between two points of this window. */
  interval_ms: number;
  points: { t: number[] } & Record<SeriesName, (number | null)[]>;
  events: { t: number[]; kind: EventKind[] };
}

export class MetricsHistory {
  private readonly modules = new Map<string, ModuleHistory>();
  private readonly finePointCount: number;
  private readonly perCoarse: number;
  private timer: NodeJS.Timeout | null = null;
  private lastSample = Date.now();
  private offChange: (() => void) | null = null;

  /**
   * @param intervalMs ms between two points of the 1 h window (HUB_HISTORY_INTERVAL_MS);
   *   a 24 h point is made of the fine points of one minute (at least one).
   */
  constructor(private readonly source: HistorySource, readonly intervalMs: number, private readonly now: () => number = Date.now) {
    this.finePointCount = finePoints(intervalMs);
    this.perCoarse = Math.max(1, Math.round(MINUTE_MS / intervalMs));
  }

  /** Starts sampling and watching for events; the timer does not keep the process alive. */
  start(): void {
    if (this.timer) return;
    this.lastSample = this.now();
    for (const sup of this.source.supervisors()) this.noteChange(sup);
    this.offChange = this.source.onChange((sup) => this.noteChange(sup));
    this.timer = setInterval(() => this.sample(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.offChange?.();
    this.offChange = null;
  }

  private of(name: string): ModuleHistory {
    let h = this.modules.get(name);
    if (!h) this.modules.set(name, (h = new ModuleHistory(this.finePointCount, this.perCoarse)));
    return h;
  }

  /** Gateway hook (with kernel/metrics.ts's): counts the answer, its class and its time when the exchange ends. */
  observe(sup: ModuleSupervisor, _req: IncomingMessage, res: ServerResponse): void {
    const start = performance.now();
    res.once('close', () => {
      const h = this.of(sup.name);
      h.requests++;
      if (res.writableFinished && res.statusCode >= 500) h.errors++;
      h.latency.record(performance.now() - start);
    });
  }

  /** A supervisor changed: a mark for each counter that went up and each switch or give-up. */
  private noteChange(sup: ModuleSupervisor): void {
    const h = this.of(sup.name);
    const crashes = Object.values(sup.crashes).reduce((a, b) => a + b, 0);
    const now = { restarts: sup.restarts, crashes, wanted: sup.wanted, failed: hasGivenUp(sup.state) };
    const was = h.seen;
    h.seen = now;
    if (!was) return;
    const t = this.now();
    if (now.crashes > was.crashes) h.addEvent(t, 'crash');
    if (now.restarts > was.restarts) h.addEvent(t, 'restart');
    if (now.failed && !was.failed) h.addEvent(t, 'failed');
    if (now.wanted !== was.wanted) h.addEvent(t, now.wanted ? 'enabled' : 'disabled');
  }

  /** Closes the interval under way for every module: one point each. Public for tests. */
  sample(): void {
    const t = this.now();
    const seconds = Math.max(0, (t - this.lastSample) / 1000);
    this.lastSample = t;
    const present = new Set<string>();
    for (const sup of this.source.supervisors()) {
      present.add(sup.name);
      const h = this.of(sup.name);
      const { cpu, rss } = this.osFigures(sup, h, t);
      h.close(t, seconds, cpu, rss);
    }
    for (const name of this.modules.keys()) if (!present.has(name)) this.modules.delete(name);
  }

  /** CPU % since the last point and RSS, from /proc for a local child; NaN when there is none to read. */
  private osFigures(sup: ModuleSupervisor, h: ModuleHistory, t: number): { cpu: number; rss: number } {
    const pid = sup.remote ? undefined : sup.child?.pid;
    const micros = pid ? osCpuMicros(pid) : null;
    const rss = pid ? (osRssBytes(pid) ?? NaN) : NaN;
    if (!pid || micros === null) {
      h.cpuBase = null;
      return { cpu: NaN, rss };
    }
    const base = h.cpuBase;
    h.cpuBase = { pid, micros, at: t };
    // a new process (or a warm spare taken from the pool): its clock says nothing about this
    // interval yet, so the point has no CPU figure and the next one has
    if (!base || base.pid !== pid) return { cpu: NaN, rss };
    const wallMicros = (t - base.at) * 1000;
    return { cpu: wallMicros > 0 ? Math.max(0, ((micros - base.micros) / wallMicros) * 100) : NaN, rss };
  }

  /** Names with a history (every module the hub has), sorted. */
  names(): string[] {
    return [...this.modules.keys()].sort();
  }

  /**
   * One module's points for a window: those newer than `since` (ms; default all), at most the
   * last `last`; events within the window (and newer than `since`). A module without points yet has empty columns.
   */
  history(name: string, window: HistoryWindow, opts: { since?: number; last?: number } = {}): ModuleHistoryJson {
    const h = this.of(name);
    const ring = window === '1h' ? h.fine : h.coarse;
    const points = ring.columns(opts.since ?? -Infinity, opts.last ?? Infinity);
    const span = window === '1h' ? HOUR_MS : 24 * HOUR_MS;
    const eventsSince = Math.max(opts.since ?? -Infinity, this.now() - span);
    return {
      module: name,
      window,
      interval_ms: window === '1h' ? this.intervalMs : this.intervalMs * this.perCoarse,
      points,
      events: h.events(eventsSince),
    };
  }
}
