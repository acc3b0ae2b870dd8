// Zero-downtime restarts: restart a module repeatedly while autocannon keeps it busy.
import autocannon from 'autocannon';
import { startKernel } from '../tests/helpers/kernel.js';
import { benchModules } from './fixtures.js';

export async function restartUnderLoad(restarts = 10) {
  const k = await startKernel({ modulesDir: benchModules(1) });
  try {
    const load = autocannon({ url: `${k.url}/api/v1/m00/ping`, connections: 10, duration: restarts * 1.5 + 2 });
    const codes: number[] = [];
    for (let i = 0; i < restarts; i++) {
      await new Promise((r) => setTimeout(r, 500));
      const res = await k.admin('/api/v1/modules/m00/restart', { method: 'POST' });
      codes.push(res.status);
      await res.arrayBuffer();
    }
    const r = await load;
    return { restarts, restart_ok: codes.filter((c) => c === 200).length, requests: r.requests.total, non2xx: r.non2xx, errors: r.errors + r.timeouts };
  } finally {
    await k.stop();
  }
}
