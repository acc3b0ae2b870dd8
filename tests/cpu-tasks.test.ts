// CPU tasks through real kernels and children: ctx.tasks.run keeps the module's event loop
// free while its piscina pool is saturated, turns task errors, timeouts and unknown names
// into clear errors, loads npm packages inside workers, and lets a draining child exit
// within its drain time even with a task that would run for half a minute.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { startKernel, stopAllKernels, type RunningKernel } from './helpers/kernel.js';
import { tempDir, writeModule } from './helpers/modules.js';
import { pidAlive, waitFor } from './helpers/wait.js';

const DRAIN_MS = 4_000;
let k: RunningKernel;

const router = `export default (router, ctx) => {
  router.get('/spin', async (req, res) => res.json(await ctx.tasks.run('spin', { ms: Number(req.query.ms ?? 300) })));
  router.get('/boom', async (req, res) => res.json(await ctx.tasks.run('boom', { why: 'no coffee' })));
  router.get('/boom-own', async (req, res) => {
    try { res.json(await ctx.tasks.run('boom', { why: 'bad input' })); }
    catch (e) { res.status(422).json({ error: 'invalid', message: e.message }); }
  });
  router.get('/slow', async (req, res) => res.json(await ctx.tasks.run('spin', { ms: 10_000 }, { timeoutMs: 300 })));
  router.get('/unknown', async (req, res) => res.json(await ctx.tasks.run('nope', {})));
  router.get('/semver', async (req, res) => res.json(await ctx.tasks.run('semver', { range: '^1.2.0', version: '1.4.1' })));
  router.post('/background', (req, res) => {
    ctx.tasks.run('spin', { ms: 30_000 }, { timeoutMs: 60_000 }).catch(() => undefined);
    res.json({ started: true });
  });
};`;

// A pure busy loop: the worst case for a shared 2-core machine, nothing yields.
const spin = `import { threadId } from 'node:worker_threads';
export default function spin({ ms }) {
  const end = Date.now() + ms;
  let n = 0;
  while (Date.now() < end) n++;
  return { n, threadId };
}`;

const boom = `export default function boom({ why }) { throw new Error('kaboom: ' + why); }`;

// npm packages resolve through the node_modules link beside the compiled build
const semverTask = `import semver from 'semver';
export default ({ range, version }) => ({ satisfies: semver.satisfies(version, range), clean: semver.clean(' v' + version) });`;

beforeAll(async () => {
  const modulesDir = tempDir('modules');
  writeModule(modulesDir, 'cruncher', {
    router,
    manifest: { workers: 2 },
    files: { 'backend/tasks/spin.js': spin, 'backend/tasks/boom.js': boom, 'backend/tasks/semver.ts': semverTask },
  });
  k = await startKernel({ modulesDir, env: { HUB_DRAIN_MS: String(DRAIN_MS) } });
  await k.waitForState('cruncher', 'running');
});

afterAll(async () => {
  await stopAllKernels();
});

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;

/** ms for one answer; straight at the child (no kernel secret) the answer is its 403, just as fast. */
async function timedHealth(base: string, status = 200): Promise<number> {
  const t0 = performance.now();
  const res = await fetch(`${base}/api/v1/cruncher/health`);
  await res.arrayBuffer();
  expect(res.status).toBe(status);
  return performance.now() - t0;
}

/** utime + stime of a process in clock ticks, from /proc (worker threads included). */
function cpuTicks(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

describe('CPU tasks (piscina)', () => {
  // A timing test on a shared 2-core machine: a retry absorbs a neighbour's burst, while a pool
  // that really blocked the event loop (every answer ≥ 300 ms behind a task) fails every attempt.
  it('keeps /health fast and the heartbeat alive while more tasks than workers run', { retry: 2 }, async () => {
    const before = await k.record('cruncher');
    // warm the pool so worker start-up is not part of the measurement
    await Promise.all([k.get('/api/v1/cruncher/spin?ms=50'), k.get('/api/v1/cruncher/spin?ms=50')]);

    let stop = false;
    let completed = 0;
    const threads = new Set<number>();
    // 6 callers for 2 workers: the pool stays saturated with a queue behind it throughout
    const load = Array.from({ length: 6 }, async () => {
      while (!stop) {
        const r = (await k.json('/api/v1/cruncher/spin?ms=300')) as { threadId: number };
        threads.add(r.threadId);
        completed++;
      }
    });
    await waitFor(() => completed >= 2, { what: 'the saturated pool to have finished tasks' }); // the queue has built up

    const viaGateway: number[] = [];
    const direct: number[] = [];
    const childUrl = `http://127.0.0.1:${before.port}`;
    for (let i = 0; i < 200; i++) {
      viaGateway.push(await timedHealth(k.url));
      direct.push(await timedHealth(childUrl, 403));
      await new Promise((r) => setTimeout(r, 10));
    }
    stop = true;
    await Promise.all(load);

    viaGateway.sort((a, b) => a - b);
    direct.sort((a, b) => a - b);
    const p99 = percentile(viaGateway, 99);
    const stats = {
      gateway: { p50: percentile(viaGateway, 50), p99, max: viaGateway.at(-1) },
      direct: { p50: percentile(direct, 50), p99: percentile(direct, 99), max: direct.at(-1) },
      tasks_completed: completed,
    };
    console.log(`/health under a saturated pool (ms): ${JSON.stringify(stats, (_k, v) => (typeof v === 'number' ? Math.round(v * 10) / 10 : v))}`);

    expect(completed).toBeGreaterThanOrEqual(8); // the pool really was busy the whole time
    expect(threads.size).toBe(2); // and used both workers, no more
    // the goal is < 50 ms; the bound leaves room for a loaded 2-core CI machine
    expect(p99).toBeLessThan(150);
    const after = await k.record('cruncher');
    expect(after.pid).toBe(before.pid);
    expect(after.restarts).toBe(before.restarts);
    expect(k.lines.filter((l) => /no heartbeat/i.test(l))).toEqual([]);
  });

  it('rejects with the task error: 500 JSON from the runtime, or the module answers its own 4xx', async () => {
    const res = await k.get('/api/v1/cruncher/boom');
    expect(res.status).toBe(500);
    // details too: the child's error writer used to drop them (issue 13)
    expect(await res.json()).toEqual({ error: 'task_failed', message: 'task "boom" failed: kaboom: no coffee', details: { task: 'boom' } });
    const own = await k.get('/api/v1/cruncher/boom-own');
    expect(own.status).toBe(422);
    expect(((await own.json()) as { message: string }).message).toMatch(/kaboom: bad input/);
  });

  it('stops a task at its timeout with task_timeout, and the pool keeps working', async () => {
    const t0 = Date.now();
    const res = await k.get('/api/v1/cruncher/slow');
    expect(res.status).toBe(504);
    expect(await res.json()).toMatchObject({ error: 'task_timeout', message: expect.stringMatching(/"spin" took longer than 300 ms/) });
    expect(Date.now() - t0).toBeLessThan(3_000);
    const again = await k.get('/api/v1/cruncher/spin?ms=20');
    expect(again.status).toBe(200);
  });

  it('names an unknown task and the tasks the module does have', async () => {
    const res = await k.get('/api/v1/cruncher/unknown');
    expect(res.status).toBe(500);
    const body = (await res.json()) as { error: string; message: string };
    expect(body.error).toBe('task_failed');
    expect(body.message).toMatch(/no task "nope": add backend\/tasks\/nope\.ts/);
    expect(body.message).toMatch(/boom, semver, spin/);
  });

  it('runs a TypeScript task that imports an npm package inside a worker', async () => {
    expect(await k.json('/api/v1/cruncher/semver')).toEqual({ satisfies: true, clean: '1.4.1' });
  });

  it('closes the pool on drain: disable returns within the drain time despite a 30 s task', async () => {
    const { pid } = await k.record('cruncher');
    const cpuBefore = cpuTicks(pid);
    expect((await k.json('/api/v1/cruncher/background', { method: 'POST' })).started).toBe(true);
    // the task is running in a worker once the child's CPU time climbs (clock ticks, 100 per second)
    await waitFor(() => cpuTicks(pid) - cpuBefore >= 10, { what: 'the background task to spin' });
    const t0 = Date.now();
    const res = await k.admin('/api/v1/modules/cruncher/disable', { method: 'POST' });
    const took = Date.now() - t0;
    expect(res.status).toBe(200);
    expect(((await res.json()) as { state: string }).state).toBe('disabled');
    // the kernel's SIGKILL would come at DRAIN_MS + 500: finishing well before means the child exited itself
    expect(took).toBeLessThan(DRAIN_MS - 1_000);
    expect(pidAlive(pid)).toBe(false);
  });
});
