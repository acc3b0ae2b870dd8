// Zero-downtime restart: while three clients hammer a module, it is restarted over and over
// (through the admin API and through hubctl); not one request may fail, and every restart
// must really swap the process.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HUB_ROOT } from '../shared/paths.js';
import { startKernel, stopAllKernels, type RunningKernel } from './helpers/kernel.js';
import { tempDir, writeModule } from './helpers/modules.js';

let k: RunningKernel;

// a little latency per request, so restarts land while requests are in flight
const router = `export default (router, ctx) => {
  router.get('/work', (req, res) => setTimeout(() => res.json({ pid: process.pid }), 5));
};`;

function hubctlRestart(name: string): Promise<number | null> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [join(HUB_ROOT, 'dist/cli/hubctl.js'), 'restart', name], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HUB_URL: k.adminUrl, HUB_ADMIN_TOKEN: k.adminToken()! },
      stdio: 'ignore',
    });
    p.on('close', resolve);
  });
}

beforeAll(async () => {
  const modulesDir = tempDir('modules');
  writeModule(modulesDir, 'busy', { router });
  k = await startKernel({ modulesDir });
});

afterAll(stopAllKernels);

describe('restart under load', () => {
  it('serves every request while the module is restarted six times', async () => {
    let running = true;
    const statuses = new Map<number | string, number>();
    const pidsSeen = new Set<number>();
    let total = 0;
    const count = (key: number | string) => statuses.set(key, (statuses.get(key) ?? 0) + 1);
    const loop = async () => {
      while (running) {
        try {
          const res = await fetch(`${k.url}/api/v1/busy/work`);
          count(res.status);
          if (res.ok) pidsSeen.add(((await res.json()) as { pid: number }).pid);
          else await res.text();
        } catch (e) {
          count(`error: ${(e as Error).message}`);
        }
        total++;
      }
    };
    const loops = [loop(), loop(), loop()];

    const pids = [(await k.record('busy')).pid as number];
    for (let i = 0; i < 6; i++) {
      if (i % 2 === 0) {
        const res = await k.admin('/api/v1/modules/busy/restart', { method: 'POST' });
        expect(res.status).toBe(200);
        const rec = (await res.json()) as { state: string };
        expect(rec.state).toBe('running');
      } else {
        expect(await hubctlRestart('busy')).toBe(0);
      }
      pids.push((await k.record('busy')).pid);
      // let traffic reach the new child before the next swap
      const seen = total;
      while (total < seen + 20) await new Promise((r) => setTimeout(r, 10));
    }
    running = false;
    await Promise.all(loops);

    expect(Object.fromEntries(statuses)).toEqual({ 200: total });
    expect(total).toBeGreaterThan(100);
    expect(new Set(pids).size).toBe(pids.length);
    // the traffic really was served by the successive children
    expect(pidsSeen.size).toBeGreaterThanOrEqual(5);
  }, 180_000);
});
