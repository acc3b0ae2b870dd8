// A child that exits or is killed is restarted with a new process; the kernel and the
// other modules never notice.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKernel, stopAllKernels, type RunningKernel } from './helpers/kernel.js';
import { helloRouter, tempDir, writeModule } from './helpers/modules.js';
import { waitFor } from './helpers/wait.js';

let k: RunningKernel;

const crashy = `export default (router, ctx) => {
  router.get('/hello', (req, res) => res.json({ module: ctx.name, pid: process.pid }));
  router.get('/exit', (req, res) => { res.json({ bye: true }); setTimeout(() => process.exit(3), 10); });
  router.get('/throw-later', (req, res) => { res.json({ ok: true }); setTimeout(() => { throw new Error('async kaboom'); }, 10); });
  router.get('/die-mid-request', (req, res) => { res.write('partial'); setTimeout(() => process.exit(9), 20); });
  router.get('/die-before-answer', () => { setTimeout(() => process.exit(9), 20); });
};`;

beforeAll(async () => {
  const modulesDir = tempDir('modules');
  writeModule(modulesDir, 'crashy', { router: crashy });
  writeModule(modulesDir, 'steady', { router: helloRouter });
  // every test here crashes the module on purpose: no crash-loop verdict for this file
  k = await startKernel({ modulesDir, env: { HUB_STABLE_RUN_MS: '100', HUB_CRASH_LIMIT: '50' } });
});

afterAll(stopAllKernels);

async function pidOf(name: string): Promise<number> {
  return (await k.record(name)).pid;
}

async function servingWithNewPid(name: string, oldPid: number): Promise<number> {
  return waitFor(async () => {
    const res = await k.get(`/api/v1/${name}/hello`);
    if (res.status !== 200) return undefined;
    const { pid } = (await res.json()) as any;
    return pid !== oldPid ? pid : undefined;
  }, { what: `${name} serving from a new process` });
}

describe('crash restart', () => {
  it('restarts a child that exits on its own', async () => {
    const before = await pidOf('crashy');
    await k.get('/api/v1/crashy/exit');
    const after = await servingWithNewPid('crashy', before);
    expect(after).not.toBe(before);
    const rec = await k.record('crashy');
    expect(rec.restarts).toBeGreaterThanOrEqual(1);
    expect(rec.last_error).toBeNull(); // cleared once running again
    expect(k.lines.join('\n')).toMatch(/Module crashy exited with code 3/);
  });

  it('restarts a child killed with SIGKILL', async () => {
    const before = await pidOf('crashy');
    process.kill(before, 'SIGKILL');
    const after = await servingWithNewPid('crashy', before);
    expect(after).not.toBe(before);
    expect(k.lines.join('\n')).toMatch(/Module crashy killed by SIGKILL/);
  });

  it('restarts a child whose code throws outside a request, naming the error', async () => {
    const before = await pidOf('crashy');
    await k.get('/api/v1/crashy/throw-later');
    await servingWithNewPid('crashy', before);
    expect(k.lines.join('\n')).toMatch(/exited with code 1: Error: async kaboom/);
  });

  it('answers 502 JSON when the child dies before answering, and cuts a half-sent answer', async () => {
    let before = await pidOf('crashy');
    const res = await k.get('/api/v1/crashy/die-before-answer');
    expect(res.status).toBe(502);
    expect(await res.json()).toMatchObject({ error: 'module_unreachable' });
    before = await servingWithNewPid('crashy', before);
    // headers already went out: the client must see a broken response, not a clean 200
    await expect(k.get('/api/v1/crashy/die-mid-request').then((r) => r.text())).rejects.toThrow();
    await servingWithNewPid('crashy', before);
  });

  it('never disturbs the other module or the kernel', async () => {
    const steadyPid = await pidOf('steady');
    expect(steadyPid).toBeGreaterThan(0);
    expect((await k.json('/api/v1/steady/hello')).pid).toBe(steadyPid);
    expect((await k.record('steady')).restarts).toBe(0);
    expect(k.proc.exitCode).toBeNull();
    expect((await k.json('/health')).status).toBe('ok');
  });
});
