// One bounded autocannon run against a loopback URL, reduced to the figures the benchmarks compare.
import autocannon from 'autocannon';
import { round } from './stats.js';

export interface CannonRun {
  rps: number;
  p50_ms: number;
  p99_ms: number;
  requests: number;
  errors: number;
  non2xx: number;
}

export async function cannon(url: string, connections: number, durationS: number, headers?: Record<string, string>): Promise<CannonRun> {
  const r = await autocannon({ url, connections, duration: durationS, pipelining: 1, ...(headers ? { headers } : {}) });
  return {
    rps: round(r.requests.average, 0),
    p50_ms: r.latency.p50,
    p99_ms: r.latency.p99,
    requests: r.requests.total,
    errors: r.errors + r.timeouts,
    non2xx: r.non2xx,
  };
}
