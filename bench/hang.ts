// Block a child's event loop and time until its module answers 200 from a new process.
import { startKernel } from '../tests/helpers/kernel.js';
import { benchModules } from './fixtures.js';
import { getJson, msUntilNewPid } from './probe.js';
import { median, round } from './stats.js';

export async function hang(times = 3) {
  const k = await startKernel({ modulesDir: benchModules(1) });
  const url = `${k.url}/api/v1/m00/ping`;
  const samples: number[] = [];
  try {
    for (let i = 0; i < times; i++) {
      const pid = (await getJson(url)).body.pid as number;
      const t0 = performance.now();
      await getJson(`${k.url}/api/v1/m00/block`);
      samples.push(await msUntilNewPid(url, pid, t0));
      await new Promise((r) => setTimeout(r, 500));
    }
  } finally {
    await k.stop();
  }
  return { times, median_ms: round(median(samples)), max_ms: round(Math.max(...samples)) };
}
