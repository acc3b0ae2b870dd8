// Hot reload: time from saving a module's router to the new code answering, and failed
// requests while that happens ten times under load.
import autocannon from 'autocannon';
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startKernel } from '../tests/helpers/kernel.js';
import { tempDir, writeModule } from '../tests/helpers/modules.js';
import { getJson } from './probe.js';
import { median, percentile, round } from './stats.js';

const router = (v: number) => `export default (router) => { router.get('/v', (req, res) => res.json({ v: ${v}, pid: process.pid })); };`;

export async function reload(times = 10) {
  const modulesDir = tempDir('bench-reload');
  writeModule(modulesDir, 'live', { router: router(0) });
  const k = await startKernel({ modulesDir, env: { MODULES_AUTO_RELOAD: 'true' } });
  const file = join(modulesDir, 'live', 'backend', 'router.js');
  const samples: number[] = [];
  try {
    const load = autocannon({ url: `${k.url}/api/v1/live/v`, connections: 10, duration: times * 2 + 3 });
    await new Promise((r) => setTimeout(r, 500));
    for (let v = 1; v <= times; v++) {
      const t0 = performance.now();
      writeFileSync(`${file}.new`, router(v));
      renameSync(`${file}.new`, file); // an editor's atomic save
      for (;;) {
        const r = await getJson(`${k.url}/api/v1/live/v`);
        if (r.body?.v === v) break;
        await new Promise((res) => setTimeout(res, 5));
      }
      samples.push(performance.now() - t0);
      await new Promise((r) => setTimeout(r, 800));
    }
    const r = await load;
    return {
      reloads: times,
      save_to_new_code_median_ms: round(median(samples)),
      save_to_new_code_p95_ms: round(percentile(samples, 95)),
      requests: r.requests.total,
      non2xx: r.non2xx,
      errors: r.errors + r.timeouts,
    };
  } finally {
    await k.stop();
  }
}
