// SIGKILL a child under light load and time until its module answers 200 again.
import { startKernel } from '../tests/helpers/kernel.js';
import { benchModules } from './fixtures.js';
import { getJson, msUntilNewPid } from './probe.js';
import { median, percentile, round } from './stats.js';

export async function recovery(kills = 20) {
  // Every kill here is deliberate: let each one count as a first crash (short stable run,
  // high crash limit), so the number measured is the restart path, not the backoff policy.
  const k = await startKernel({ modulesDir: benchModules(2), env: { HUB_STABLE_RUN_MS: '250', HUB_CRASH_LIMIT: '1000' } });
  const url = `${k.url}/api/v1/m00/ping`;
  // light background load on the other module
  let running = true;
  const background = (async () => {
    while (running) {
      await getJson(`${k.url}/api/v1/m01/ping`);
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  const samples: number[] = [];
  try {
    for (let i = 0; i < kills; i++) {
      const before = await getJson(url);
      const pid = before.body.pid as number;
      // wait out the backoff reset window a little so each kill is a "first crash" like in production
      await new Promise((r) => setTimeout(r, 300));
      const t0 = performance.now();
      process.kill(pid, 'SIGKILL');
      samples.push(await msUntilNewPid(url, pid, t0));
    }
  } finally {
    running = false;
    await background;
    await k.stop();
  }
  return { kills, median_ms: round(median(samples)), p95_ms: round(percentile(samples, 95)), max_ms: round(Math.max(...samples)) };
}
