// The chaos run: steady load on three modules while a loop keeps hurting four others
// (SIGKILL, blocked event loop, memory past its cap, a crash at every start). What must
// hold: the kernel never goes down, untouched modules never fail a request, every victim
// comes back within its bound, the crash-looper ends failed without a restart storm, and
// after the kernel stops nothing of the hub is left running or listening.
import { createServer } from 'node:net';
import { startKernel, type RunningKernel } from '../tests/helpers/kernel.js';
import { tempDir, writeModule } from '../tests/helpers/modules.js';
import { getJson } from './probe.js';

export interface ChaosReport {
  durationMs: number;
  actions: Record<string, number>;
  steady: { ok: number; failed: number };
  health: { ok: number; failed: number };
  kernelPidStable: boolean;
  recoveries: { victim: string; action: string; ms: number; boundMs: number }[];
  crashLooper: { state: string; restarts: number };
  leftovers: { pids: number[]; ports: number[] };
}

const STEADY = ['steady_a', 'steady_b', 'steady_c'];
const BOUNDS = { kill: 3000, hang: 8000, memory: 8000 } as const;

function modules(): string {
  const dir = tempDir('chaos-modules');
  const ping = `router.get('/ping', (req, res) => res.json({ pid: process.pid }));`;
  for (const n of STEADY) writeModule(dir, n, { router: `export default (router) => { ${ping} };` });
  writeModule(dir, 'victim_kill', { router: `export default (router) => { ${ping} };` });
  writeModule(dir, 'victim_hang', { router: `export default (router) => { ${ping} router.get('/block', (req, res) => { res.json({}); setTimeout(() => { for (;;) {} }, 5); }); };` });
  writeModule(dir, 'victim_mem', {
    manifest: { max_memory_mb: 96 },
    router: `const hoard = []; export default (router) => { ${ping} router.get('/leak', (req, res) => { res.json({}); const grow = () => { for (let i = 0; i < 16; i++) hoard.push(Buffer.alloc(1 << 20, 1)); setTimeout(grow, 5); }; grow(); }); };`,
  });
  writeModule(dir, 'victim_boot', { router: `throw new Error('broken at start-up');\nexport default () => {};` });
  return dir;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

const portFree = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });

async function untilNewPid(k: RunningKernel, name: string, oldPid: number, boundMs: number): Promise<number> {
  const t0 = performance.now();
  for (;;) {
    const r = await getJson(`${k.url}/api/v1/${name}/ping`, 1000);
    if (r.status === 200 && r.body?.pid !== oldPid) return performance.now() - t0;
    if (performance.now() - t0 > boundMs * 3) return performance.now() - t0;
    await new Promise((res) => setTimeout(res, 10));
  }
}

export async function runChaos({ durationMs, stopWith = 'SIGTERM', seed = 1 }: { durationMs: number; stopWith?: 'SIGTERM' | 'SIGKILL'; seed?: number }): Promise<ChaosReport> {
  let rand = seed;
  const random = () => ((rand = (rand * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const k = await startKernel({ modulesDir: modules(), env: { HUB_CRASH_LIMIT: '5', HUB_STABLE_RUN_MS: '500', HUB_CRASH_WINDOW_MS: '600000' } });
  const kernelPid = k.proc.pid!;
  const pids = new Set<number>();
  const ports = new Set<number>([k.port]);
  const report: ChaosReport = {
    durationMs,
    actions: { kill: 0, hang: 0, memory: 0 },
    steady: { ok: 0, failed: 0 },
    health: { ok: 0, failed: 0 },
    kernelPidStable: true,
    recoveries: [],
    crashLooper: { state: '', restarts: 0 },
    leftovers: { pids: [], ports: [] },
  };
  const deadline = Date.now() + durationMs;
  const noteProcesses = async () => {
    const all = (await getJson(`${k.url}/api/v1/modules`)).body as { pid: number | null; port: number | null }[] | null;
    for (const r of all ?? []) {
      if (r.pid) pids.add(r.pid);
      if (r.port) ports.add(r.port);
    }
  };

  const load = STEADY.map(async (name) => {
    while (Date.now() < deadline) {
      const r = await getJson(`${k.url}/api/v1/${name}/ping`);
      if (r.status === 200) report.steady.ok++;
      else report.steady.failed++;
    }
  });
  const health = (async () => {
    while (Date.now() < deadline) {
      const r = await getJson(`${k.url}/health`);
      if (r.status === 200) report.health.ok++;
      else report.health.failed++;
      await new Promise((res) => setTimeout(res, 50));
    }
  })();
  const chaos = (async () => {
    while (Date.now() < deadline) {
      await noteProcesses();
      const pick = random();
      const action = pick < 0.5 ? 'kill' : pick < 0.75 ? 'hang' : 'memory';
      const victim = action === 'kill' ? 'victim_kill' : action === 'hang' ? 'victim_hang' : 'victim_mem';
      const before = await getJson(`${k.url}/api/v1/${victim}/ping`);
      if (before.status !== 200) continue;
      report.actions[action]!++;
      if (action === 'kill') process.kill(before.body.pid, 'SIGKILL');
      else await getJson(`${k.url}/api/v1/${victim}/${action === 'hang' ? 'block' : 'leak'}`);
      const ms = await untilNewPid(k, victim, before.body.pid, BOUNDS[action]);
      report.recoveries.push({ victim, action, ms: Math.round(ms), boundMs: BOUNDS[action] });
      await new Promise((res) => setTimeout(res, 100 + random() * 300));
    }
  })();
  await Promise.all([...load, health, chaos]);
  await noteProcesses();

  const looper = (await getJson(`${k.url}/api/v1/modules/victim_boot`)).body;
  report.crashLooper = { state: looper.state, restarts: looper.restarts };
  report.kernelPidStable = k.proc.exitCode === null && k.proc.pid === kernelPid;
  await k.stop(stopWith);
  pids.add(kernelPid);
  // an orphaned child notices its kernel is gone within moments; give it up to 2 s
  const until = Date.now() + 2000;
  while (Date.now() < until && [...pids].some(alive)) await new Promise((res) => setTimeout(res, 50));
  report.leftovers.pids = [...pids].filter(alive);
  report.leftovers.ports = (await Promise.all([...ports].map(async (p) => ((await portFree(p)) ? null : p)))).filter((p): p is number => p !== null);
  return report;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const durationMs = Number(process.env.CHAOS_SECONDS ?? 60) * 1000;
  for (const stopWith of ['SIGTERM', 'SIGKILL'] as const) {
    const r = await runChaos({ durationMs: stopWith === 'SIGTERM' ? durationMs : Math.min(durationMs, 15_000), stopWith });
    console.log(`\nchaos run, stopped with ${stopWith}:`);
    console.log(JSON.stringify({ ...r, recoveries: undefined }, null, 2));
    console.table(
      (['kill', 'hang', 'memory'] as const).map((action) => {
        const xs = r.recoveries.filter((x) => x.action === action);
        return { action, count: xs.length, max_ms: xs.length ? Math.max(...xs.map((x) => x.ms)) : null, bound_ms: BOUNDS[action] };
      }),
    );
  }
}
