// Issue 13: every setting is checked at start, in one pass; a bad value stops the kernel with
// one line naming the variable and what it accepts. Unknown module.json fields are named on
// every load, hot reload included.
import { spawn } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HUB_ROOT } from '../shared/paths.js';
import { startKernel, stopAllKernels } from './helpers/kernel.js';
import { helloRouter, tempDir, writeModule } from './helpers/modules.js';
import { waitFor } from './helpers/wait.js';

const dirs: string[] = [];
afterAll(async () => {
  await stopAllKernels();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function run(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  const modulesDir = tempDir('modules');
  const dataDir = tempDir('data');
  dirs.push(modulesDir, dataDir);
  writeModule(modulesDir, 'notes', { router: helloRouter });
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [join(HUB_ROOT, 'dist/kernel/main.js')], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/tmp', HUB_PORT: '0', HUB_ADMIN_PORT: '0', HUB_DATABASE: 'off', HUB_MODULES_DIR: modulesDir, HUB_DATA_DIR: dataDir, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    p.stdout.on('data', (d: Buffer) => (output += d.toString()));
    p.stderr.on('data', (d: Buffer) => (output += d.toString()));
    p.on('close', (code) => resolve({ code, output }));
  });
}

describe('settings checked at start', () => {
  it('refuses a bad boolean and an unknown LOG_LEVEL, one line each, before listening', async () => {
    const { code, output } = await run({ MODULES_AUTO_RELOAD: 'ture', LOG_LEVEL: 'verbose' });
    expect(code).toBe(1);
    expect(output).toContain('hub: bad setting MODULES_AUTO_RELOAD="ture": expected one of true, false, 1, 0, yes, no, on, off (default false)\n');
    expect(output).toContain('hub: bad setting LOG_LEVEL="verbose": expected one of fatal, error, warn, info, debug, trace, silent (default info)\n');
    expect(output).not.toMatch(/Gateway listening/);
  });

  it('refuses MODULES__NOTE__… for a module that does not exist, and a bad READ_ONLY', async () => {
    const { code, output } = await run({ MODULES__NOTE__X: '1', MODULES__NOTES__READ_ONLY: 'flase' });
    expect(code).toBe(1);
    expect(output).toMatch(/bad setting MODULES__NOTE__X: no module \\"note\\" in the modules folder; module names here: NOTES/);
    expect(output).toMatch(/bad setting MODULES__NOTES__READ_ONLY=\\"flase\\": expected one of true, false/);
  });

  it('names unknown module.json fields at start and again on every hot reload', async () => {
    const modulesDir = tempDir('modules');
    dirs.push(modulesDir);
    writeModule(modulesDir, 'notes', { router: helloRouter, manifest: { colour: 'blue' } });
    const k = await startKernel({ modulesDir, env: { MODULES_AUTO_RELOAD: 'true' } });
    const named = () => k.lines.filter((l) => l.includes('colour')).length;
    expect(named()).toBe(1);
    const file = join(modulesDir, 'notes', 'module.json');
    writeFileSync(file, JSON.stringify({ ...JSON.parse(readFileSync(file, 'utf8')), description: 'edited' }, null, 2));
    await waitFor(() => named() === 2, { what: 'the unknown field named again on reload' });
    await k.stop();
  });
});
