// With MODULES_AUTO_RELOAD, adding or removing remote_url in a module.json moves the module
// between a local child and a remote process without a kernel restart.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HUBCTL } from './helpers/hubctl.js';
import { startKernel, stopAllKernels } from './helpers/kernel.js';
import { helloRouter, tempDir, writeModule } from './helpers/modules.js';
import { freePort } from './helpers/ports.js';

let runner: ChildProcess | undefined;

afterAll(async () => {
  runner?.kill('SIGKILL');
  await stopAllKernels();
});

describe('switching a module between local and remote', () => {
  it('follows remote_url being added and removed', async () => {
    const modulesDir = tempDir('modules');
    writeModule(modulesDir, 'mover', { router: helloRouter });
    const port = await freePort();
    runner = spawn(process.execPath, [HUBCTL, 'serve-module', 'mover', '--port', String(port)], {
      env: { PATH: process.env.PATH, HUB_MODULES_DIR: modulesDir, HUB_DATA_DIR: tempDir('runner-data'), MODULES__MOVER__SECRET: 'switch-secret-0123456789' },
      stdio: 'ignore',
    });
    const k = await startKernel({ modulesDir, env: { MODULES_AUTO_RELOAD: 'true', HUB_REMOTE_CHECK_MS: '200', MODULES__MOVER__SECRET: 'switch-secret-0123456789' } });
    const local = await k.json('/api/v1/mover/hello');
    expect(local.pid).toBe((await k.record('mover')).pid);

    const file = join(modulesDir, 'mover', 'module.json');
    const manifest = JSON.parse(readFileSync(file, 'utf8'));
    writeFileSync(file, JSON.stringify({ ...manifest, remote_url: `http://127.0.0.1:${port}` }, null, 2));
    await k.waitForLog(/Module mover now runs at http/);
    expect(await k.waitForState('mover', 'running')).toMatchObject({ remote: true, pid: null });
    expect((await k.json('/api/v1/mover/hello')).pid).toBe(runner.pid);

    writeFileSync(file, JSON.stringify(manifest, null, 2));
    await k.waitForLog(/Module mover now runs as a local child/);
    const back = await k.waitForState('mover', 'running');
    expect(back.remote).toBe(false);
    expect((await k.json('/api/v1/mover/hello')).pid).toBe(back.pid);
  });
});
