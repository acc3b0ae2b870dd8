// kernel/latency-sketch.ts and kernel/metrics-history.ts with a fake clock and fake
// supervisors: percentiles within the sketch's error, rates per interval, the ring's bound,
// the 1-minute points, event marks from counters and switches, and no CPU/RSS for a module
// with no local child (a remote module's own numbers never go in).
import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import { LatencySketch } from '../../kernel/latency-sketch.js';
import { finePoints, historyBytesPerModule, MetricsHistory, PointRing } from '../../kernel/metrics-history.js';
import type { ModuleSupervisor } from '../../kernel/supervisor.js';

describe('LatencySketch', () => {
  it('reads percentiles within 12 % and NaN when empty', () => {
    const s = new LatencySketch();
    expect(s.quantile(0.5)).toBeNaN();
    for (let i = 1; i <= 1000; i++) s.record(i); // 1..1000 ms
    expect(s.count).toBe(1000);
    expect(Math.abs(s.quantile(0.5) - 500) / 500).toBeLessThan(0.12);
    expect(Math.abs(s.quantile(0.95) - 950) / 950).toBeLessThan(0.12);
    const t = new LatencySketch();
    t.record(-5);
    t.record(NaN);
    t.record(1e9);
    expect(t.quantile(0.01)).toBeLessThan(0.1);
    expect(t.quantile(1)).toBeGreaterThan(100_000);
    s.add(t);
    expect(s.count).toBe(1003);
    s.reset();
    expect(s.count).toBe(0);
  });
});

describe('PointRing', () => {
  it('keeps the last `capacity` points, oldest first, NaN as null', () => {
    const r = new PointRing(3);
    for (let i = 1; i <= 5; i++) r.push(i * 1000, [i, 0, NaN, 0, 0, i * 1e6]);
    const c = r.columns();
    expect(c.t).toEqual([3000, 4000, 5000]);
    expect(c.req_per_s).toEqual([3, 4, 5]);
    expect(c.p50_ms).toEqual([null, null, null]);
    expect(c.rss_bytes).toEqual([3e6, 4e6, 5e6]);
    expect(r.columns(4000).t).toEqual([5000]);
    expect(r.columns(-Infinity, 2).t).toEqual([4000, 5000]);
  });

  it('states its memory bound: about 70 KB per module at 5 s', () => {
    expect(finePoints(5000)).toBe(720);
    expect(historyBytesPerModule(5000)).toBe((720 + 1440) * 32 + 256 * 9);
    expect(historyBytesPerModule(5000)).toBeLessThan(72 * 1024);
  });
});

function fakeSup(name: string, over: Partial<Record<string, unknown>> = {}) {
  return { name, state: 'running', restarts: 0, crashes: {} as Record<string, number>, wanted: true, child: null, remote: false, ...over } as unknown as ModuleSupervisor & {
    restarts: number;
    crashes: Record<string, number>;
    wanted: boolean;
    state: string;
  };
}

function fakeAnswer(status: number): ServerResponse {
  const res = new EventEmitter() as unknown as ServerResponse & EventEmitter;
  Object.assign(res, { statusCode: status, writableFinished: true });
  return res;
}

describe('MetricsHistory', () => {
  it('turns gateway answers into rates per point and minute points, and marks events', () => {
    let now = 1_000_000;
    const listeners: ((s: ModuleSupervisor) => void)[] = [];
    const a = fakeSup('alpha');
    const remote = fakeSup('faraway', { remote: true, child: { pid: process.pid } });
    const sups = [a, remote];
    const h = new MetricsHistory({ supervisors: () => sups, onChange: (fn) => (listeners.push(fn), () => undefined) }, 1000, () => now);
    h.start();
    h.stop(); // sampling by hand below; the change listener stays registered on the fake

    for (let i = 0; i < 10; i++) {
      const res = fakeAnswer(i < 3 ? 503 : 200);
      h.observe(a, {} as never, res);
      (res as unknown as EventEmitter).emit('close');
    }
    now += 2000;
    h.sample();
    const first = h.history('alpha', '1h');
    expect(first.points.req_per_s).toEqual([5]); // 10 answers over 2 s
    expect(first.points.err_per_s).toEqual([1.5]);
    expect(first.points.cpu_percent).toEqual([null]); // no local child
    // a remote module's process is not ours to measure, whatever pid it names
    expect(h.history('faraway', '1h').points.rss_bytes).toEqual([null]);

    // a crash restart, then a give-up, then a switch off: one mark each
    a.crashes.exit = 1;
    a.restarts = 1;
    for (const fn of listeners) fn(a);
    a.state = 'failed';
    for (const fn of listeners) fn(a);
    a.wanted = false;
    a.state = 'disabled';
    for (const fn of listeners) fn(a);
    expect(h.history('alpha', '1h').events.kind).toEqual(['crash', 'restart', 'failed', 'disabled']);

    // 60 points of 1 s make one minute point
    for (let i = 0; i < 59; i++) {
      now += 1000;
      h.sample();
    }
    const day = h.history('alpha', '24h');
    expect(day.interval_ms).toBe(60_000);
    expect(day.points.t).toHaveLength(1);
    expect(day.points.req_per_s[0]).toBeCloseTo(10 / 61, 3);

    // a module that left the hub takes its history with it
    sups.splice(1, 1);
    now += 1000;
    h.sample();
    expect(h.names()).toEqual(['alpha']);
  });
});
