// /health latency of a module while its piscina pool is saturated with busy-loop tasks
// (three callers per worker, so a queue stands behind the pool the whole time), next to the
// same measurement with an idle pool. Goal: p99 < 50 ms through the gateway.
import { startKernel } from '../tests/helpers/kernel.js';
import { tempDir, writeModule } from '../tests/helpers/modules.js';
import { percentile, round } from './stats.js';

const router = `export default (router, ctx) => {
  router.get('/spin', async (req, res) => res.json(await ctx.tasks.run('spin', { ms: Number(req.query.ms ?? 300) })));
};`;
const spin = `export default ({ ms }) => { const end = Date.now() + ms; let n = 0; while (Date.now() < end) n++; return n; };`;

async function sample(url: string, n: number): Promise<{ p50_ms: number; p99_ms: number; max_ms: number }> {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const res = await fetch(url);
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`health answered ${res.status}`);
    times.push(performance.now() - t0);
    await new Promise((r) => setTimeout(r, 5));
  }
  return { p50_ms: round(percentile(times, 50)), p99_ms: round(percentile(times, 99)), max_ms: round(Math.max(...times)) };
}

export async function taskPool(requests = 500, workers = 2) {
  const modulesDir = tempDir('bench-tasks');
  writeModule(modulesDir, 'cruncher', { router, manifest: { workers }, files: { 'backend/tasks/spin.js': spin } });
  const k = await startKernel({ modulesDir });
  try {
    const health = `${k.url}/api/v1/cruncher/health`;
    const idle = await sample(health, Math.min(requests, 200));
    let stop = false;
    let tasks = 0;
    const callers = Array.from({ length: workers * 3 }, async () => {
      while (!stop) {
        await (await fetch(`${k.url}/api/v1/cruncher/spin?ms=300`)).arrayBuffer();
        tasks++;
      }
    });
    await new Promise((r) => setTimeout(r, 500));
    const { pid, port } = await k.record('cruncher');
    const busy = await sample(health, requests);
    const direct = await sample(`http://127.0.0.1:${port}/api/v1/cruncher/health`, Math.min(requests, 200));
    stop = true;
    await Promise.all(callers);
    const after = await k.record('cruncher');
    return {
      workers,
      requests,
      idle_p99_ms: idle.p99_ms,
      busy_p50_ms: busy.p50_ms,
      busy_p99_ms: busy.p99_ms,
      busy_max_ms: busy.max_ms,
      busy_direct_p99_ms: direct.p99_ms,
      tasks_done: tasks,
      same_pid: after.pid === pid,
      missed_heartbeats: k.lines.filter((l) => /no heartbeat/i.test(l)).length,
    };
  } finally {
    await k.stop();
  }
}
