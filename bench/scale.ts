// How the hub grows with the number of modules: kernel start → every module running, the
// kernel's RSS, the children's private memory, and routing through the gateway.
import { startKernel } from '../tests/helpers/kernel.js';
import { waitFor } from '../tests/helpers/wait.js';
import { benchModules } from './fixtures.js';
import { cannon } from './cannon.js';
import { median, processPrivateBytes, processRss, round } from './stats.js';

export async function scale(counts: number[]) {
  const out = [];
  for (const n of counts) {
    const dir = benchModules(n);
    const t0 = performance.now();
    const k = await startKernel({ modulesDir: dir });
    try {
      const running = await waitFor(
        async () => {
          const records = await k.json<any[]>('/api/v1/modules');
          const up = records.filter((r) => r.state === 'running');
          return up.length === n ? up : undefined;
        },
        { timeoutMs: 120_000, intervalMs: 20, what: `${n} modules running` },
      );
      const readyMs = performance.now() - t0;
      const childRss = await Promise.all(running.map((r) => processRss(r.pid)));
      const childPrivate = await Promise.all(running.map((r) => processPrivateBytes(r.pid)));
      const last = `m${String(n - 1).padStart(2, '0')}`;
      const routed = await cannon(`${k.url}/api/v1/${last}/ping`, 10, 5);
      out.push({
        modules: n,
        running: running.length,
        ready_ms: round(readyMs, 0),
        kernel_rss_mb: round((await processRss(k.proc.pid!)) / 1048576, 1),
        child_rss_mb_median: round(median(childRss) / 1048576, 1),
        child_private_mb_median: round(median(childPrivate) / 1048576, 1),
        children_private_mb_total: round(childPrivate.reduce((a, b) => a + b, 0) / 1048576, 0),
        routed_p50_ms: routed.p50_ms,
        routed_p99_ms: routed.p99_ms,
        routed_rps: routed.rps,
      });
    } finally {
      await k.stop();
    }
  }
  return out;
}
