// The price of the gateway: the same route requested straight at the child's port and
// through the kernel, alternated A/B in one run so machine noise hits both alike.
// Straight at the child the answer is its 403 (no kernel secret: a child answers only its
// kernel), which is as cheap as the ping route; the secret's own cost is in
// kernel-secret-cost.ts.
import autocannon from 'autocannon';
import { startKernel } from '../tests/helpers/kernel.js';
import { benchModules } from './fixtures.js';
import { median, processCpuMicros, round } from './stats.js';

export interface CannonRun {
  rps: number;
  p50_ms: number;
  p99_ms: number;
  requests: number;
  errors: number;
  non2xx: number;
}

export async function cannon(url: string, connections: number, durationS: number): Promise<CannonRun> {
  const r = await autocannon({ url, connections, duration: durationS, pipelining: 1 });
  return {
    rps: round(r.requests.average, 0),
    p50_ms: r.latency.p50,
    p99_ms: r.latency.p99,
    requests: r.requests.total,
    errors: r.errors + r.timeouts,
    non2xx: r.non2xx,
  };
}

export async function gatewayCost(opts: { pairs: number; durationS: number; warmupS: number; connections: number[]; modules?: number }) {
  const count = opts.modules ?? 1;
  const k = await startKernel({ modulesDir: benchModules(count) });
  const target = `m${String(count - 1).padStart(2, '0')}`;
  const rec = await k.record(target);
  const direct = `http://127.0.0.1:${rec.port}/api/v1/${target}/ping`;
  const gateway = `${k.url}/api/v1/${target}/ping`;
  const results = [];
  try {
    for (const c of opts.connections) {
      await cannon(direct, c, opts.warmupS);
      await cannon(gateway, c, opts.warmupS);
      const pairs = [];
      for (let i = 0; i < opts.pairs; i++) {
        const a = await cannon(direct, c, opts.durationS);
        const cpu0 = await processCpuMicros(k.proc.pid!);
        const b = await cannon(gateway, c, opts.durationS);
        const cpu1 = await processCpuMicros(k.proc.pid!);
        const clean = a.errors + b.errors + b.non2xx === 0;
        pairs.push({ direct: a, gateway: b, ratio: round(b.rps / a.rps, 3), kernel_cpu_us_per_req: round((cpu1 - cpu0) / b.requests, 1), clean });
      }
      results.push({
        connections: c,
        pairs,
        median_ratio: round(median(pairs.map((p) => p.ratio)), 3),
        median_kernel_cpu_us: round(median(pairs.map((p) => p.kernel_cpu_us_per_req)), 1),
        all_clean: pairs.every((p) => p.clean),
      });
    }
  } finally {
    await k.stop();
  }
  return { modules: count, results };
}
